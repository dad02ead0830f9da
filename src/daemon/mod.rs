//! The daemon: wires sources → filters → jails → ban ledger → firewall, and talks to systemd.
pub mod log;
pub mod signals;
pub mod sys;
