//! Filters: fail2ban failregex syntax compiled into one linear-time matcher per source.
//!
//! `FilterDef` is a filter as written (config, built-in or fail2ban .conf file);
//! `Filter` is it compiled; `MatchSet` runs several filters over one line in one pass.
//! Timestamps of text lines are found by `time`; nothing here does I/O except `resolve`
//! reading a filter file the admin named.
pub mod builtin;
pub mod f2bconf;
pub mod time;

/// A filter as written: the fail2ban keys, uncompiled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterDef {
    /// Name shown in messages: the built-in name, the file stem or the config key.
    pub name: String,
    /// Where it was defined, for messages: "built-in", a file path, or "config.toml [filters.x]".
    pub origin: String,
    pub failregex: Vec<String>,
    pub ignoreregex: Vec<String>,
    pub prefregex: Option<String>,
    /// fail2ban `datepattern`, when the filter pins one.
    pub datepattern: Option<String>,
    /// fail2ban `journalmatch` (informational: banjo jails say `journal = [...]`).
    pub journalmatch: Vec<String>,
    /// Options read from a fail2ban file that banjo cannot honour, with why (e.g. `maxlines`).
    pub unsupported: Vec<String>,
}
