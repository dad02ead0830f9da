//! The ban ledger at run time: every change to it goes through here, so each one gets its
//! audit record and is saved to bans.json (at most once a second, by the save job). The
//! policy is the ledger's (`crate::ban`); this room does the journal records and the file.
//! What the kernel made of a ban is a ledger state too: a ban it refused stays, marked NOT
//! blocked, and is tried again ([`Bans::refused`]). Its metrics count the bans and unbans by
//! cause, the kernel's refusals, and the time from a failure to its ban in the kernel.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use jiff::Timestamp;

use super::audit;
use crate::addr::Target;
use crate::ban::{Change, Ledger, LedgerError};
use crate::firewall::Refusal;
use crate::jail::BanOrder;
use crate::metrics::{Counters, Exposition, Histogram, Kind, LATENCY_BUCKETS};
use crate::name::JailName;

/// Why a ban was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum BanCause {
    /// A jail's failures reached maxretry; `at`: when the deciding failure was logged.
    Failures { at: Timestamp },
    /// `banjo ban`.
    Command,
}

impl BanCause {
    fn label(self) -> &'static str {
        match self {
            BanCause::Failures { .. } => "failures",
            BanCause::Command => "command",
        }
    }
}

/// Why a ban ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum UnbanCause {
    /// Its bantime was over.
    Expiry,
    /// `banjo unban` (or `unban --all`).
    Command,
    /// Its jail is no longer configured (a reload, or a start with a changed config).
    Reload,
}

impl UnbanCause {
    const ALL: [UnbanCause; 3] = [UnbanCause::Expiry, UnbanCause::Command, UnbanCause::Reload];

    fn label(self) -> &'static str {
        match self {
            UnbanCause::Expiry => "expiry",
            UnbanCause::Command => "command",
            UnbanCause::Reload => "reload",
        }
    }
}

pub struct Bans {
    ledger: Ledger,
    path: PathBuf,
    /// The ledger changed since it was last written.
    unsaved: bool,
    counts: Counts,
}

/// The bans' counters since the start.
#[derive(Default)]
struct Counts {
    bans: Counters<(JailName, &'static str)>,
    unbans: Counters<(JailName, &'static str)>,
    refusals: Counters<JailName>,
    latency: HashMap<JailName, Histogram>,
    /// Bans decided on a failure and not yet in the kernel: when the failure was logged.
    awaiting_kernel: HashMap<(JailName, Target), Timestamp>,
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
            counts: Counts::default(),
        })
    }

    /// The jails configured now: their series are shown from the start, at 0.
    pub fn know_jails<'a>(&mut self, jails: impl IntoIterator<Item = &'a JailName>) {
        let c = &mut self.counts;
        for jail in jails {
            for cause in [
                BanCause::Command,
                BanCause::Failures {
                    at: Timestamp::UNIX_EPOCH,
                },
            ] {
                c.bans.touch((jail.clone(), cause.label()));
            }
            for cause in UnbanCause::ALL {
                c.unbans.touch((jail.clone(), cause.label()));
            }
            c.refusals.touch(jail.clone());
            c.latency
                .entry(jail.clone())
                .or_insert_with(|| Histogram::new(LATENCY_BUCKETS));
        }
    }

    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// A ban decided by a jail or an admin; the kernel's change when it is new or longer.
    pub fn ban(&mut self, order: BanOrder, cause: BanCause, now: Timestamp) -> Option<Change> {
        let (jail, target) = (order.jail.clone(), order.target.canonical());
        let change = self.ledger.ban(order, now)?;
        self.unsaved = true;
        if let Some(ban) = self.ledger.get(&jail, &target) {
            audit::ban(ban);
        }
        self.counts.bans.inc((jail.clone(), cause.label()));
        if let BanCause::Failures { at } = cause {
            self.counts.awaiting_kernel.insert((jail, target), at);
        }
        Some(change)
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

    /// An admin's unban.
    pub fn unban(&mut self, jail: &str, target: &Target, why: &str) -> Option<Change> {
        let lifted = self.ledger.unban(jail, target)?;
        self.record_lifted(std::slice::from_ref(&lifted), UnbanCause::Command, why);
        Some(lifted)
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
                self.counts.in_kernel(jail, target, now);
            }
        }
        if tried.is_none() {
            // a reconcile put every ban in: those that waited for the kernel are there now
            let applied: Vec<(JailName, Target)> = (self.counts.awaiting_kernel.keys())
                .filter(|(jail, target)| !refused_now.contains(&(jail.as_str(), *target)))
                .cloned()
                .collect();
            for (jail, target) in applied {
                self.counts.in_kernel(jail, target, now);
            }
        }
        for r in refused {
            let why = r.error.to_string();
            let before = self
                .ledger
                .get(&r.jail, &r.target)
                .and_then(|b| b.refused.clone());
            if self.ledger.mark_refused(&r.jail, &r.target, why.clone()) && before.as_ref() != Some(&why) {
                audit::refused(&r.jail, &r.target, &why);
                if before.is_none() {
                    self.counts.refusals.inc(JailName::new(&r.jail));
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
            let key = (change.jail().clone(), change.target());
            self.counts.awaiting_kernel.remove(&key);
            self.counts.unbans.inc((key.0, cause.label()));
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

    /// The bans' metrics: counters by cause, the ledger's bans now by family, the latency.
    pub fn expose(&self, out: &mut Exposition) {
        let c = &self.counts;
        out.family(
            "banjo_bans_total",
            Kind::Counter,
            "Bans made, by jail and cause: failures (maxretry reached) or command (banjo ban).",
        );
        for ((jail, cause), n) in c.bans.iter() {
            out.sample(&[("jail", jail), ("cause", cause)], n);
        }
        out.family(
            "banjo_unbans_total",
            Kind::Counter,
            "Bans ended, by jail and cause: expiry, command (banjo unban) or reload (jail removed).",
        );
        for ((jail, cause), n) in c.unbans.iter() {
            out.sample(&[("jail", jail), ("cause", cause)], n);
        }
        out.family(
            "banjo_ban_refusals_total",
            Kind::Counter,
            "Bans that nftables refused to put in (a full set, an overlapping element ...): recorded \
             but NOT blocked, and retried every 10 s.",
        );
        for (jail, n) in c.refusals.iter() {
            out.sample(&[("jail", jail)], n);
        }
        self.expose_active(out);
        out.family(
            "banjo_ban_latency_seconds",
            Kind::Histogram,
            "Seconds from the failure that completed maxretry (its log time) to its element in nftables.",
        );
        let mut jails: Vec<_> = c.latency.iter().collect();
        jails.sort_by(|a, b| a.0.cmp(b.0));
        for (jail, h) in jails {
            out.histogram(&[("jail", jail)], h);
        }
    }

    /// Gauges read from the ledger: bans now by family, and those the kernel refused.
    fn expose_active(&self, out: &mut Exposition) {
        let mut active: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        let mut refused: BTreeMap<&str, usize> = BTreeMap::new();
        for (jail, _) in self.counts.refusals.iter() {
            refused.insert(jail, 0);
            for family in ["ipv4", "ipv6"] {
                active.insert((jail, family), 0);
            }
        }
        for ban in self.ledger.all() {
            let family = if ban.target.ip().is_ipv4() { "ipv4" } else { "ipv6" };
            *active.entry((&ban.jail, family)).or_default() += 1;
            if ban.refused.is_some() {
                *refused.entry(&ban.jail).or_default() += 1;
            }
        }
        out.family(
            "banjo_bans_active",
            Kind::Gauge,
            "Addresses and networks banned now, by jail and family (NOT blocked ones included).",
        );
        for ((jail, family), n) in active {
            out.sample(&[("jail", jail), ("family", family)], n);
        }
        out.family(
            "banjo_bans_not_blocked",
            Kind::Gauge,
            "Bans nftables refused and that are not blocked now (banjo status shows why).",
        );
        for (jail, n) in refused {
            out.sample(&[("jail", jail)], n);
        }
    }
}

impl Counts {
    /// A ban is in the kernel: the time since its failure, when one decided it.
    fn in_kernel(&mut self, jail: JailName, target: Target, now: Timestamp) {
        let Some(at) = self.awaiting_kernel.remove(&(jail.clone(), target)) else {
            return;
        };
        let secs = now.duration_since(at).as_secs_f64();
        self.latency
            .entry(jail)
            .or_insert_with(|| Histogram::new(LATENCY_BUCKETS))
            .observe(secs);
    }
}
