//! The ban ledger: who is banned, in which jail, until when — the authoritative state the
//! firewall is reconciled against — plus the ban history that escalation counts, and the state
//! file both survive restarts in. Knows nothing of how a firewall works; reads no clock (every
//! `now` is given).
//!
//! ```text
//! jail::BanOrder ─► Ledger::add ─► (firewall adds the element)
//! Ledger::next_expiry / expire(now) ─► (firewall drops, or lets the kernel time it out)
//! Ledger::mark_refused / mark_applied ◄─ (what the kernel made of it)
//! Ledger::save / load ─► /var/lib/banjo/state.json
//! ```

mod ledger;
mod store;
mod target;
pub mod time;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use ledger::{Added, BanRecord, DEFAULT_HISTORY_AGE, Ledger, Remaining};
pub use store::{FORMAT_VERSION, LedgerError, quarantine};
pub use target::{ParseTargetError, Target};

/// One active ban.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ban {
    pub jail: String,
    pub target: Target,
    /// When the ban started.
    #[serde(with = "time::ts")]
    pub since: Timestamp,
    /// When it ends; `None`: permanent, lifted only by an admin.
    #[serde(with = "time::opt_ts")]
    pub until: Option<Timestamp>,
    /// How many times the target had been banned before this ban (what escalation used).
    pub count: u32,
    /// The failures that led to it.
    pub failures: u32,
    /// The log lines of those failures (the last few, each cut to 1 KiB).
    #[serde(default)]
    pub lines: Vec<String>,
    /// Why the kernel refused this ban the last time banjo put it in; `None`: in the kernel
    /// (as far as banjo knows). The ban stays in the ledger, is shown as failed and is tried
    /// again; not saved, since every start puts every ban in afresh.
    #[serde(skip)]
    pub refused: Option<String>,
}
