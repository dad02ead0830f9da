//! The ban ledger at run time: every change to it goes through here, so each one gets its
//! audit record and is saved to bans.json (at most once a second, by the save job). The
//! policy is the ledger's (`crate::ban`); this room does the journal records and the file.
//! What the kernel made of a ban is a ledger state too: a ban it refused stays, marked NOT
//! blocked, and is tried again ([`Bans::refused`]). Each change is counted for `banjo
//! metrics` too (`metrics::BanCounts`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use jiff::Timestamp;

use super::audit;
use super::metrics::{BanCause, BanCounts, UnbanCause};
use crate::addr::Target;
use crate::ban::{Change, Ledger, LedgerError, Lifted};
use crate::firewall::Refusal;
use crate::jail::BanOrder;
use crate::name::JailName;

pub struct Bans {
    ledger: Ledger,
    path: PathBuf,
    /// The ledger changed since it was last written.
    unsaved: bool,
    counts: BanCounts,
}

impl Bans {
    /// The ledger from the state file; a corrupt file is moved aside (never lost) and banjo
    /// starts with the bans the kernel still holds.
    pub fn open(path: &Path, now: Timestamp) -> Result<Bans> {
        let ledger = match Ledger::load(path, now, crate::ban::DEFAULT_HISTORY_AGE) {
            Ok(l) => l,
            Err(e @ LedgerError::Io { .. }) => return Err(e.into()),
            Err(e) => {
                let moved = crate::ban::quarantine(path, now);
                tracing::error!(
                    "the ban state {} cannot be read ({e}); it was moved to {}; bans still in nftables are kept",
                    path.display(),
                    moved
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|e| format!("nowhere ({e})"))
                );
                Ledger::default()
            }
        };
        Ok(Bans {
            ledger,
            path: path.to_path_buf(),
            unsaved: false,
            counts: BanCounts::default(),
        })
    }

    /// The jails configured now: their series are shown from the start, at 0.
    pub fn know_jails<'a>(&mut self, jails: impl IntoIterator<Item = &'a JailName>) {
        for jail in jails {
            self.counts.know_jail(jail);
        }
    }

    /// What `banjo metrics` shows of the bans: the counters, and the ledger's bans now.
    pub fn counts(&self) -> &BanCounts {
        &self.counts
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// A ban decided by a jail or an admin: the kernel's changes (the ban when it is new or
    /// longer, the removals of the narrower bans it took in), each with its audit record; and
    /// the ban that now holds the order's target (itself, or a wider one it lies in).
    pub fn ban(&mut self, order: BanOrder, cause: BanCause, now: Timestamp) -> (Vec<Change>, Option<Target>) {
        let jail = order.jail.clone();
        let banned = self.ledger.ban(order, now);
        if banned.changes.is_empty() {
            return (Vec::new(), banned.holder);
        }
        self.unsaved = true;
        for (ban, why) in &banned.lifted {
            let (why, unban_cause) = match why {
                Lifted::Folded(into) => (format!("folded into the ban of {into}"), UnbanCause::Widened),
                Lifted::Ended => ("bantime over".to_string(), UnbanCause::Expiry),
            };
            audit::unban(&ban.jail, &ban.target, &why);
            self.counts.lifted(&ban.jail, ban.target, unban_cause);
        }
        let added = banned.changes.iter().any(Change::is_add);
        if let Some(ban) = banned.holder.and_then(|t| self.ledger.get(&jail, &t))
            && added
        {
            audit::ban(ban);
            self.counts.banned(jail, ban.target, cause);
        }
        (banned.changes, banned.holder)
    }

    /// A ban found in the kernel that the ledger does not know (see `Ledger::adopt`).
    pub fn adopt(&mut self, jail: &JailName, target: Target, left: Option<Duration>, now: Timestamp) {
        self.unsaved |= self.ledger.adopt(jail, target, left, now);
    }

    /// The bans whose time is over at `now`.
    pub fn lift_expired(&mut self, now: Timestamp) -> Vec<Change> {
        let lifted = self.ledger.lift_expired(now);
        self.record_lifted(&lifted, UnbanCause::Expiry, "bantime over");
        lifted
    }

    /// An admin's unban: the ban of `target`, the networks it lies in and (for a network)
    /// the bans inside it; each record says which address or network the admin named.
    pub fn unban(&mut self, jail: &str, target: &Target, why: &str) -> Vec<Change> {
        let lifted = self.ledger.unban(jail, target);
        for change in &lifted {
            let lifted_target = change.target();
            let why = if lifted_target == *target {
                why.to_string()
            } else if lifted_target.covers(target) {
                format!("{why}: {target} lies in it")
            } else {
                format!("{why}: it lies in {target}")
            };
            audit::unban(change.jail(), &lifted_target, &why);
            self.counts
                .lifted(change.jail(), lifted_target, UnbanCause::Command);
        }
        self.unsaved |= !lifted.is_empty();
        lifted
    }

    /// Every ban of a jail that is no longer configured.
    pub fn unban_jail(&mut self, jail: &str, why: &str) -> Vec<Change> {
        let lifted = self.ledger.unban_jail(jail);
        self.record_lifted(&lifted, UnbanCause::Reload, why);
        lifted
    }

    /// Lifts the bans of jails `configured` does not have: a reload that removed a jail, or
    /// a state file from before a jail was removed (they would keep banjo from starting: the
    /// firewall has no sets for them). Their sets went with the layout: nothing for the kernel.
    pub fn drop_unconfigured_jails(&mut self, configured: impl Fn(&str) -> bool) {
        let gone: Vec<String> = self
            .ledger
            .counts()
            .map(|(jail, _)| jail)
            .filter(|jail| !configured(jail))
            .map(str::to_string)
            .collect();
        for jail in gone {
            self.unban_jail(&jail, "jail removed from the configuration");
        }
    }

    /// Records what the kernel made of the additions just sent (`tried`; `None`: every ban,
    /// after a reconcile): a refused ban is marked NOT blocked, with an audit record when the
    /// reason is new, and stays to be tried again; the others lose an old mark. Marks are not
    /// saved: every start puts every ban in afresh.
    pub fn kernel_answered(&mut self, tried: Option<&[Change]>, refused: Vec<Refusal>) {
        let taken: Vec<(JailName, Target)> = match tried {
            Some(changes) => changes
                .iter()
                .filter(|c| c.is_add())
                .map(|c| (c.jail().clone(), c.target()))
                .collect(),
            None => self
                .ledger
                .refused()
                .map(|b| (b.jail.clone(), b.target))
                .collect(),
        };
        let refused_now: HashSet<(&str, Target)> =
            refused.iter().map(|r| (r.jail.as_str(), r.target)).collect();
        let now = Timestamp::now();
        for (jail, target) in taken {
            if !refused_now.contains(&(jail.as_str(), target)) {
                self.ledger.mark_applied(&jail, &target);
                self.counts.in_kernel(&jail, target, now);
            }
        }
        if tried.is_none() {
            // a reconcile put every ban in: those that waited for the kernel are there now
            (self.counts).reconciled(|jail, target| !refused_now.contains(&(jail, target)), now);
        }
        for r in refused {
            let why = r.error.to_string();
            let before = self
                .ledger
                .get(&r.jail, &r.target)
                .and_then(|b| b.refused().map(str::to_owned));
            if self.ledger.mark_refused(&r.jail, &r.target, why.clone()) && before.as_ref() != Some(&why) {
                audit::refused(&r.jail, &r.target, &why);
                if before.is_none() {
                    self.counts.refused(&r.jail);
                }
            }
        }
    }

    /// The bans the kernel refused, as the additions that try them again (a full set may have
    /// room now).
    pub fn refused(&self, now: Timestamp) -> Vec<Change> {
        self.ledger
            .refused()
            .filter_map(|b| Change::add(b, now))
            .collect()
    }

    fn record_lifted(&mut self, lifted: &[Change], cause: UnbanCause, why: &str) {
        for change in lifted {
            audit::unban(change.jail(), &change.target(), why);
            self.counts.lifted(change.jail(), change.target(), cause);
        }
        self.unsaved |= !lifted.is_empty();
    }

    /// Writes bans.json when the ledger changed since the last write; false when that failed
    /// (it is tried again at the next save).
    pub fn save(&mut self) -> bool {
        if !self.unsaved {
            return true;
        }
        match self.ledger.save(&self.path) {
            Ok(()) => {
                self.unsaved = false;
                true
            }
            Err(e) => {
                tracing::error!("cannot save the bans: {e}");
                false
            }
        }
    }
}
