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

use crate::addr::Target;
use crate::name::JailName;

pub use change::{Change, SHORTEST_TIMEOUT};
pub use ledger::{Added, BanRecord, Banned, DEFAULT_HISTORY_AGE, Ledger, Lifted};
pub use store::{FORMAT_VERSION, LedgerError, quarantine};

/// One active ban.
///
/// What every ban has is kept inline (96 bytes); what few have, or what is mostly empty —
/// the log lines, what was seen inside a network, a note, the kernel's refusal — sits behind
/// one pointer, absent when all of it is empty (a ban taken back from the kernel, a restored
/// one saved without lines). In the ledger's hash map a ban costs its size plus its key for
/// each of the map's slots, a third of which are spare, so every inline byte counted 1.3
/// times: with the four fields inline a ban was 184 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "BanRow<Vec<String>, Vec<Target>, String>")]
pub struct Ban {
    pub jail: JailName,
    pub target: Target,
    /// When the ban started.
    pub since: Timestamp,
    /// When it ends; `None`: permanent, lifted only by an admin.
    pub until: Option<Timestamp>,
    /// How many times the target had been banned before this ban (what escalation used).
    pub count: u32,
    /// The failures that led to it.
    pub failures: u32,
    more: Option<Box<More>>,
}

/// A ban's seldom-filled parts (see [`Ban`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct More {
    lines: Vec<String>,
    seen: Vec<Target>,
    note: Option<String>,
    refused: Option<String>,
}

impl More {
    fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.seen.is_empty() && self.note.is_none() && self.refused.is_none()
    }
}

impl Ban {
    /// A ban with neither lines nor notes (see the setters for those).
    pub fn new(
        jail: JailName,
        target: Target,
        since: Timestamp,
        until: Option<Timestamp>,
        count: u32,
        failures: u32,
    ) -> Ban {
        Ban {
            jail,
            target,
            since,
            until,
            count,
            failures,
            more: None,
        }
    }

    /// The log lines of the failures that led to it (the last few, each cut to 1 KiB).
    pub fn lines(&self) -> &[String] {
        self.more.as_ref().map_or(&[], |m| &m.lines)
    }

    /// What was seen inside a banned network: the addresses that failed, or the narrower bans
    /// a widened ban took in (see `jail::BanOrder::seen`).
    pub fn seen(&self) -> &[Target] {
        self.more.as_ref().map_or(&[], |m| &m.seen)
    }

    /// Why the ban is not simply of what was counted (widened, narrowed around an ignored
    /// address), in words.
    pub fn note(&self) -> Option<&str> {
        self.more.as_ref()?.note.as_deref()
    }

    /// Why the kernel refused this ban the last time banjo put it in; `None`: in the kernel
    /// (as far as banjo knows). The ban stays in the ledger, is shown as failed and is tried
    /// again; not saved, since every start puts every ban in afresh.
    pub fn refused(&self) -> Option<&str> {
        self.more.as_ref()?.refused.as_deref()
    }

    pub fn set_lines(&mut self, lines: Vec<String>) {
        self.change(|m| m.lines = lines);
    }

    pub fn set_seen(&mut self, seen: Vec<Target>) {
        self.change(|m| m.seen = seen);
    }

    pub fn set_note(&mut self, note: Option<String>) {
        self.change(|m| m.note = note);
    }

    pub fn set_refused(&mut self, refused: Option<String>) {
        self.change(|m| m.refused = refused);
    }

    /// Changes the seldom-filled parts, allocating them only when something is in them.
    fn change(&mut self, f: impl FnOnce(&mut More)) {
        let mut more = self.more.take().unwrap_or_default();
        f(&mut more);
        if !more.is_empty() {
            self.more = Some(more);
        }
    }
}

/// A ban as the state file has it: every field at the top level.
#[derive(Serialize, Deserialize)]
#[serde(bound(serialize = "L: Serialize, S: Serialize + AsRef<[Target]>, N: Serialize"))]
struct BanRow<L, S, N> {
    jail: JailName,
    target: Target,
    #[serde(with = "crate::time::ts")]
    since: Timestamp,
    #[serde(with = "crate::time::opt_ts")]
    until: Option<Timestamp>,
    count: u32,
    failures: u32,
    #[serde(default)]
    lines: L,
    #[serde(default, skip_serializing_if = "is_empty")]
    seen: S,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<N>,
}

fn is_empty<T>(list: &impl AsRef<[T]>) -> bool {
    list.as_ref().is_empty()
}

impl From<BanRow<Vec<String>, Vec<Target>, String>> for Ban {
    fn from(row: BanRow<Vec<String>, Vec<Target>, String>) -> Ban {
        let mut ban = Ban::new(
            row.jail,
            row.target,
            row.since,
            row.until,
            row.count,
            row.failures,
        );
        let more = More {
            lines: row.lines,
            seen: row.seen,
            note: row.note,
            refused: None,
        };
        if !more.is_empty() {
            ban.more = Some(Box::new(more));
        }
        ban
    }
}

impl Serialize for Ban {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        BanRow {
            jail: self.jail.clone(),
            target: self.target,
            since: self.since,
            until: self.until,
            count: self.count,
            failures: self.failures,
            lines: self.lines(),
            seen: self.seen(),
            note: self.note(),
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban() -> Ban {
        let at = |s: i64| Timestamp::from_second(1_700_000_000 + s).unwrap();
        Ban::new(
            "sshd".into(),
            "192.0.2.0/24".parse().unwrap(),
            at(0),
            Some(at(600)),
            1,
            5,
        )
    }

    #[test]
    fn a_ban_is_96_bytes_and_one_without_lines_allocates_nothing() {
        assert!(std::mem::size_of::<Ban>() <= 96, "{}", std::mem::size_of::<Ban>());
        let mut b = ban();
        assert!(b.more.is_none());
        b.set_refused(Some("the set is full".into()));
        assert_eq!(b.refused(), Some("the set is full"));
        b.set_refused(None);
        assert!(b.more.is_none(), "emptied again, the parts go");
    }

    #[test]
    fn the_state_file_row_is_as_before() {
        let mut b = ban();
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"jail":"sshd","target":"192.0.2.0/24","since":"2023-11-14T22:13:20Z","until":"2023-11-14T22:23:20Z","count":1,"failures":5,"lines":[]}"#
        );
        b.set_lines(vec!["one".into(), "two".into()]);
        b.set_seen(vec!["192.0.2.7".parse().unwrap()]);
        b.set_note(Some("widened".into()));
        b.set_refused(Some("not saved".into()));
        let text = serde_json::to_string(&b).unwrap();
        assert_eq!(
            text,
            r#"{"jail":"sshd","target":"192.0.2.0/24","since":"2023-11-14T22:13:20Z","until":"2023-11-14T22:23:20Z","count":1,"failures":5,"lines":["one","two"],"seen":["192.0.2.7"],"note":"widened"}"#
        );
        let back: Ban = serde_json::from_str(&text).unwrap();
        b.set_refused(None);
        assert_eq!(back, b);
        let old: Ban = serde_json::from_str(
            r#"{"jail":"sshd","target":"192.0.2.0/24","since":"2023-11-14T22:13:20Z","until":null,"count":1,"failures":5}"#,
        )
        .unwrap();
        assert_eq!(
            (old.until, old.lines(), old.more.is_none()),
            (None, &[][..], true)
        );
    }
}
