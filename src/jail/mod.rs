//! Jails at run time: failures counted per address in a `findtime` window, ignore lists, and
//! the ban decision with fail2ban's escalation. Pure: every time is given by the caller, the
//! ban history is asked through [`BanHistory`] (the ban ledger answers), the random part of
//! `rndtime` is a number the caller draws, and host names are resolved by the caller
//! ([`HostAction`], [`Resolved`]).
//!
//! **The window.** A failure at log time `t`, handed in at `now`, counts when
//! `now − findtime ≤ t`; a `t` after `now` (a clock ahead) is taken as `now`. An address is
//! banned when `maxretry` of its counted failures are within `findtime` before `now`, which
//! makes them within `findtime` of each other; the order in which they arrive does not matter.
//! Lines read late (after a restart) count as long as they are within `findtime` of `now`,
//! as fail2ban's "ignore line since time … < now − findtime" does. After a ban the address's
//! window is cleared; while it is banned in this jail its failures are not counted.

mod escalation;
mod ignore;
mod window;

use std::time::Duration;

use jiff::Timestamp;

use crate::addr::Target;
use crate::config::{self, BanTime};
use crate::name::JailName;
use crate::time::{after, before};

pub use escalation::{LONGEST_BAN, ban_time};
pub use ignore::{HostAction, IgnoreList, IgnoreReason, Resolved};
pub use window::{MAX_LINE, SeenFailure};

use window::Windows;

/// One failure, as the filter found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure<'a> {
    pub target: Target,
    /// The log entry's own time.
    pub time: Timestamp,
    /// The matched line (a copy of up to [`MAX_LINE`] bytes is kept).
    pub line: &'a str,
}

/// What a jail made of a failure.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Not counted: older than `findtime`, or the address is banned in this jail already.
    Nothing,
    /// Not counted: the address is in the jail's ignore list.
    Ignored { reason: IgnoreReason },
    /// Counted; the address has this many failures within `findtime`, fewer than `maxretry`.
    Counted { failures: u32 },
    /// `maxretry` reached: ban it. The address's window is cleared.
    Ban(BanOrder),
}

/// A ban decided by a jail, for the ledger and the firewall.
#[derive(Debug, Clone, PartialEq)]
pub struct BanOrder {
    pub jail: JailName,
    pub target: Target,
    /// When the ban starts: the `now` of the deciding failure.
    pub since: Timestamp,
    /// When it ends; `None`: permanent.
    pub until: Option<Timestamp>,
    /// Its length (escalated, random part included); `None`: permanent.
    pub bantime: Option<Duration>,
    /// The failures that led to it.
    pub failures: u32,
    /// Their lines, oldest first.
    pub lines: Vec<String>,
    /// How many times the address was banned before (in this jail, or in every jail with
    /// `bantime_overalljails`): what escalation used.
    pub count: u32,
}

/// What a jail asks of the ban ledger.
pub trait BanHistory {
    /// How many times `target` has been banned so far: in `jail`, or in every jail (`None`).
    fn ban_count(&self, target: &Target, jail: Option<&str>) -> u32;
    /// Whether `target` is banned in `jail` at `now`.
    fn is_banned(&self, jail: &str, target: &Target, now: Timestamp) -> bool;
}

/// A history with no bans at all (`banjo test-filter`, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBans;

impl BanHistory for NoBans {
    fn ban_count(&self, _: &Target, _: Option<&str>) -> u32 {
        0
    }

    fn is_banned(&self, _: &str, _: &Target, _: Timestamp) -> bool {
        false
    }
}

/// A jail's counters, for `banjo status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Addresses with failures within `findtime` (fail2ban's "Currently failed").
    pub currently_failed: usize,
    /// Failures counted since start ("Total failed").
    pub total_failed: u64,
    /// Bans decided since start ("Total banned").
    pub total_banned: u64,
    /// Failures not counted because the address is ignored.
    pub ignored: u64,
    /// Addresses dropped with their failures because `maxtracked` were tracked already.
    pub evicted: u64,
}

/// What a jail knows of one address, for `banjo explain`.
#[derive(Debug, Clone, PartialEq)]
pub struct Explanation {
    pub jail: JailName,
    pub target: Target,
    /// Why it is ignored, if it is.
    pub ignored: Option<IgnoreReason>,
    /// Its failures within `findtime` of `now`, oldest first.
    pub failures: Vec<SeenFailure>,
    pub maxretry: u32,
    pub findtime: Duration,
    /// Whether it is banned in this jail now.
    pub banned: bool,
    /// Its bans so far, as escalation counts them.
    pub ban_count: u32,
    /// How long its next ban would be, without the random part; `None`: permanent.
    pub next_bantime: Option<Duration>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    total_failed: u64,
    total_banned: u64,
    ignored: u64,
    evicted: u64,
}

/// One jail's run-time state. See the module documentation for the counting rules.
#[derive(Debug, Clone)]
pub struct Jail {
    cfg: config::Jail,
    ignore: IgnoreList,
    windows: Windows,
    counters: Counters,
}

impl Jail {
    pub fn new(cfg: &config::Jail, ignore: IgnoreList) -> Jail {
        Jail {
            cfg: cfg.clone(),
            ignore,
            windows: Windows::default(),
            counters: Counters::default(),
        }
    }

    pub fn name(&self) -> &JailName {
        &self.cfg.name
    }

    pub fn config(&self) -> &config::Jail {
        &self.cfg
    }

    pub fn ignore_list(&self) -> &IgnoreList {
        &self.ignore
    }

    /// Takes a reloaded config (and the ignore list built for it), keeping the failure
    /// windows and counters: a lower `maxretry` trims each window to its newest failures, a
    /// lower `maxtracked` evicts (and counts) the least recently failing addresses, a new
    /// `findtime` applies from the next failure.
    pub fn reconfigure(&mut self, cfg: &config::Jail, ignore: IgnoreList) {
        self.cfg = cfg.clone();
        self.ignore = ignore;
        self.windows.trim(self.maxretry() as usize);
        while self.windows.len() > self.maxtracked() {
            self.windows.evict_one();
            self.counters.evicted += 1;
        }
    }

    fn maxretry(&self) -> u32 {
        self.cfg.maxretry.max(1)
    }

    fn maxtracked(&self) -> usize {
        self.cfg.maxtracked.max(1)
    }

    /// The earliest failure time that still counts at `now`.
    fn oldest(&self, now: Timestamp) -> Timestamp {
        before(now, self.cfg.findtime)
    }

    /// Counts a failure seen at `now`; decides whether to ban. `bans` tells how often the
    /// address was banned before and whether it is banned now; `random` is a uniformly drawn
    /// number for `bantime_rndtime` (ignored without it).
    pub fn failure(
        &mut self,
        failure: Failure<'_>,
        now: Timestamp,
        bans: &dyn BanHistory,
        random: u64,
    ) -> Decision {
        let target = failure.target.canonical();
        if let Some(reason) = self.ignore.check(&target) {
            self.counters.ignored += 1;
            return Decision::Ignored {
                reason: reason.clone(),
            };
        }
        let time = failure.time.min(now);
        let oldest = self.oldest(now);
        if time < oldest || bans.is_banned(&self.cfg.name, &target, now) {
            return Decision::Nothing;
        }
        self.windows.prune(oldest);
        if !self.windows.contains(&target) && self.windows.len() >= self.maxtracked() {
            self.windows.evict_one();
            self.counters.evicted += 1;
        }
        let seen = SeenFailure::new(time, failure.line);
        let failures = self.windows.add(target, seen, oldest, self.maxretry() as usize) as u32;
        self.counters.total_failed += 1;
        if failures < self.maxretry() {
            return Decision::Counted { failures };
        }
        self.counters.total_banned += 1;
        let window = self.windows.take(&target).unwrap_or_default();
        let count = self.prior_bans(&target, bans);
        let bantime = ban_time(self.cfg.bantime, self.cfg.increment.as_ref(), count, random);
        Decision::Ban(BanOrder {
            jail: self.cfg.name.clone(),
            target,
            since: now,
            until: bantime.map(|d| after(now, d)),
            bantime,
            failures,
            lines: window.into_iter().map(|s| s.line).collect(),
            count,
        })
    }

    /// An admin's ban of `target` (`banjo ban`): for `bantime`, else the jail's bantime (not
    /// escalated), counted as escalation counts (every jail's bans with
    /// `bantime_overalljails`). It changes no window and no counter.
    pub fn manual_ban(
        &self,
        target: Target,
        bantime: Option<BanTime>,
        now: Timestamp,
        bans: &dyn BanHistory,
    ) -> BanOrder {
        let target = target.canonical();
        let bantime = bantime.unwrap_or(self.cfg.bantime).duration();
        BanOrder {
            jail: self.cfg.name.clone(),
            target,
            since: now,
            until: bantime.map(|d| after(now, d)),
            bantime,
            failures: 0,
            lines: vec!["banned by hand (banjo ban)".to_string()],
            count: self.prior_bans(&target, bans),
        }
    }

    fn prior_bans(&self, target: &Target, bans: &dyn BanHistory) -> u32 {
        let overall = self.cfg.increment.as_ref().is_some_and(|i| i.overalljails);
        let jail = (!overall).then_some(self.cfg.name.as_str());
        bans.ban_count(target, jail)
    }

    /// The failures counted and not (yet) banned, per address, oldest first: what a restart
    /// must not forget, since the journal is read on after its saved cursor.
    pub fn pending(&self) -> Vec<(Target, Vec<SeenFailure>)> {
        let mut v: Vec<(Target, Vec<SeenFailure>)> = self
            .windows
            .iter()
            .map(|(t, w)| (*t, w.iter().cloned().collect()))
            .collect();
        v.sort_by_key(|(target, _)| *target);
        v
    }

    /// Puts back failures saved by [`Jail::pending`]; those older than `findtime` before `now`
    /// are dropped, and `maxretry`/`maxtracked` bound them as for new failures. Counters
    /// (total failed) are not changed: these failures were counted before.
    pub fn restore_pending(&mut self, saved: Vec<(Target, Vec<SeenFailure>)>, now: Timestamp) {
        let oldest = self.oldest(now);
        let keep = self.maxretry() as usize;
        for (target, failures) in saved {
            for seen in failures {
                if seen.time < oldest {
                    continue;
                }
                if !self.windows.contains(&target) && self.windows.len() >= self.maxtracked() {
                    self.windows.evict_one();
                    self.counters.evicted += 1;
                }
                self.windows.add(target.canonical(), seen, oldest, keep);
            }
        }
    }

    /// Drops the windows of addresses with no failure within `findtime` of `now` (also done
    /// on every failure; call it on a timer to keep `currently_failed` exact). Returns how many.
    pub fn prune(&mut self, now: Timestamp) -> usize {
        let oldest = self.oldest(now);
        self.windows.prune(oldest)
    }

    /// Forgets an address's failures (an admin's unban or reset). True if it had any.
    pub fn forget(&mut self, target: &Target) -> bool {
        self.windows.take(&target.canonical()).is_some()
    }

    pub fn stats(&self, now: Timestamp) -> Stats {
        let c = self.counters;
        Stats {
            currently_failed: self
                .windows
                .len()
                .saturating_sub(self.windows.stale(self.oldest(now))),
            total_failed: c.total_failed,
            total_banned: c.total_banned,
            ignored: c.ignored,
            evicted: c.evicted,
        }
    }

    /// What this jail knows of `target` at `now`.
    pub fn explain(&self, target: &Target, now: Timestamp, bans: &dyn BanHistory) -> Explanation {
        let target = target.canonical();
        let oldest = self.oldest(now);
        let failures = self
            .windows
            .get(&target)
            .map(|w| w.iter().filter(|s| s.time >= oldest).cloned().collect())
            .unwrap_or_default();
        let ban_count = self.prior_bans(&target, bans);
        Explanation {
            jail: self.cfg.name.clone(),
            target,
            ignored: self.ignore.check(&target).cloned(),
            failures,
            maxretry: self.maxretry(),
            findtime: self.cfg.findtime,
            banned: bans.is_banned(&self.cfg.name, &target, now),
            ban_count,
            next_bantime: ban_time(self.cfg.bantime, self.cfg.increment.as_ref(), ban_count, 0),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
