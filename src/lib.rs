//! banjo: a systemd-native replacement for fail2ban.
//!
//! The data flow is the module tree: `source` produces entries, `filter` matches them,
//! `config` says which filters and thresholds each jail uses, `cli` is what the admin types;
//! `notify` is a service of its own that reads the daemon's ban records back from the journal.
pub mod ban;
pub mod cli;
pub mod config;
pub mod control;
pub mod daemon;
pub mod fail2ban;
pub mod filter;
pub mod firewall;
pub mod jail;
pub mod notify;
pub mod source;
pub mod state;
