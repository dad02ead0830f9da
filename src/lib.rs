//! banjo: a systemd-native replacement for fail2ban.
//!
//! The modules in the order the data flows (ARCHITECTURE.md has the picture):
//! `source` produces entries, `filter` matches them, `jail` counts failures and decides bans,
//! `ban` keeps the ledger of bans and says what must change in the kernel, `firewall` makes
//! nftables hold it. `daemon` wires them together and does the I/O; `control` is the socket
//! the command line talks to; `fail2ban` reads a fail2ban directory for `banjo
//! import-fail2ban`; `notify` is a service of its own (`banjo notify`) that reads the
//! daemon's ban records back from the journal and mails them or runs commands on them;
//! `cli` is what the admin types. `config` is read by all of them.
//! At the bottom, importing nothing of banjo's: `addr`, `time`, `name` (the shared
//! vocabulary), `state` (banjo's directories and atomic writes), `sys` (the system calls), `metrics`
//! (counters and histograms, and their Prometheus text); and `addrlist` (address lists in
//! files), which imports `addr` only.
#![deny(unsafe_code)]

// the shared vocabulary: imports nothing of banjo's
pub mod addr;
pub mod addrlist;
pub mod name;
pub mod state;
pub mod sys;
pub mod time;
pub mod metrics;

// what the admin wrote
pub mod config;

// the flow: entry → filter → jail → ban → firewall
pub mod source;
pub mod filter;
pub mod jail;
pub mod ban;
pub mod firewall;

// the wiring and the ways in
pub mod daemon;
pub mod control;
pub mod fail2ban;
pub mod notify;
pub mod cli;
