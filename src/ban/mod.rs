//! The ban ledger: who is banned, in which jail, until when — the authoritative state the
//! firewall is reconciled against — plus the ban history that escalation counts, and the state
//! file both survive restarts in. Knows nothing of how a firewall works; reads no clock (every
//! `now` is given).
//!
//! What the kernel must do follows from the ledger, as [`Change`]s: the one type the firewall
//! takes.
//!
//! ```text
//! jail::BanOrder ─► Ledger::ban(order, now) ─► Change::Add ─► firewall
//! Ledger::next_expiry / lift_expired(now) ─► Change::Remove (the kernel has timed most out)
//! Ledger::unban / unban_jail / adopt            (an admin, a config change, a restart)
//! Ledger::ban folds narrower bans into a network; Ledger::holding finds the ban an address lies in
//! Ledger::as_changes(now) ─► firewall reconcile  (the ledger's whole view)
//! Ledger::mark_refused / mark_applied ◄─ (what the kernel made of a Change::Add)
//! Ledger::save / load ─► /var/lib/banjo/bans.json
//! ```

mod change;
mod ledger;
mod nets;
mod store;
#[cfg(test)]
mod with_jails;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::name::JailName;

pub use change::{Change, SHORTEST_TIMEOUT};
pub use ledger::{Added, BanRecord, Banned, DEFAULT_HISTORY_AGE, Ledger, Lifted};
pub use store::{FORMAT_VERSION, LedgerError, quarantine};

// Moved to the bottom of the tree (crate::addr, crate::time); kept here so that code still
// naming them through ban/ compiles while other branches are merged.
pub use crate::addr::{ParseTargetError, Target};
pub use crate::time;

/// One active ban.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    pub jail: JailName,
    pub target: Target,
    /// When the ban started.
    #[serde(with = "crate::time::ts")]
    pub since: Timestamp,
    /// When it ends; `None`: permanent, lifted only by an admin.
    #[serde(with = "crate::time::opt_ts")]
    pub until: Option<Timestamp>,
    /// How many times the target had been banned before this ban (what escalation used).
    pub count: u32,
    /// The failures that led to it.
    pub failures: u32,
    /// The log lines of those failures (the last few, each cut to 1 KiB).
    #[serde(default)]
    pub lines: Vec<String>,
    /// What was seen inside a banned network: the addresses that failed, or the narrower bans
    /// a widened ban took in (see `jail::BanOrder::seen`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<Target>,
    /// Why the ban is not simply of what was counted (widened, narrowed around an ignored
    /// address), in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Why the kernel refused this ban the last time banjo put it in; `None`: in the kernel
    /// (as far as banjo knows). The ban stays in the ledger, is shown as failed and is tried
    /// again; not saved, since every start puts every ban in afresh.
    #[serde(skip)]
    pub refused: Option<String>,
}
