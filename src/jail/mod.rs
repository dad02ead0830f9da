//! Jails at run time: failures counted per address (per network for IPv6) in a `findtime`
//! window, ignore lists, and the ban decision with fail2ban's escalation and banjo's adaptive
//! prefix bans. Pure: every time is given by the caller, the ban history is asked through
//! [`BanHistory`] (the ban ledger answers), the random part of `rndtime` is a number the
//! caller draws, and host names and list files are resolved and read by the caller
//! ([`HostAction`], [`Resolved`]).
//!
//! **What is counted together.** An IPv6 address is counted under its network of
//! `ipv6_prefix` bits (a /64 by default: one link, whose every address one host can take), so
//! an attacker rotating through a /64 reaches `maxretry` as one attacker would; the ban is of
//! that network, and it remembers the addresses seen. IPv4 addresses, and `ipv6_prefix =
//! 128`, count each address alone.
//!
//! **Never the innocent.** A network that holds an address the jail never bans (`ignoreip`,
//! this host) is not banned: banjo bans the widest network inside it that holds the
//! addresses seen and no ignored one, or, when there is none, those addresses one by one;
//! the ban's note says so. Widening (`spread`) follows the same rule.
//!
//! **The window.** A failure at log time `t`, handed in at `now`, counts when
//! `now − findtime ≤ t`; a `t` after `now` (a clock ahead) is taken as `now`. An address is
//! banned when `maxretry` of its counted failures are within `findtime` before `now`, which
//! makes them within `findtime` of each other; the order in which they arrive does not matter.
//! Lines read late (after a restart) count as long as they are within `findtime` of `now`,
//! as fail2ban's "ignore line since time … < now − findtime" does. After a ban the address's
//! window is cleared; while it is banned in this jail (alone, or inside a banned network) its
//! failures are not counted.

mod escalation;
mod ignore;
mod spread;
mod window;

use std::collections::VecDeque;
use std::time::Duration;

use jiff::Timestamp;

use crate::addr::Target;
use crate::config::{self, BanTime};
use crate::name::JailName;
use crate::time::{after, before};

pub use escalation::{LONGEST_BAN, ban_time};
pub use ignore::{HostAction, IgnoreList, IgnoreReason, Resolved};
pub use spread::{Widened, next_wider};
pub use window::{MAX_LINE, SeenFailure};

use spread::Spread;
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
    /// Counted; the address (or its network) has this many failures within `findtime`, fewer
    /// than `maxretry`.
    Counted { failures: u32 },
    /// `maxretry` reached: ban it. The window is cleared. Usually one ban; several when the
    /// network holds an ignored address and the addresses seen are banned one by one.
    Ban(Vec<BanOrder>),
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
    /// What was seen inside the banned network: the addresses that failed (a ban of a
    /// network counted as one), or the narrower bans a widened ban takes in. Empty for a ban
    /// of one address.
    pub seen: Vec<Target>,
    /// Why the ban is not simply of what was counted (widened, narrowed around an ignored
    /// address), in words.
    pub note: Option<String>,
}

/// What a jail asks of the ban ledger.
pub trait BanHistory {
    /// How many times `target` has been banned so far: in `jail`, or in every jail (`None`).
    fn ban_count(&self, target: &Target, jail: Option<&str>) -> u32;
    /// Whether `target` is banned in `jail` at `now`: itself, or inside a banned network.
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
    /// What its failures are counted under: itself, or its IPv6 network (`ipv6_prefix`).
    pub counted_as: Target,
    /// Why it is ignored, if it is.
    pub ignored: Option<IgnoreReason>,
    /// The failures within `findtime` of `now` counted under `counted_as`, oldest first.
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
    /// Its recent bans, by the wider network each lies in (adaptive prefix bans).
    spread: Spread,
    counters: Counters,
}

impl Jail {
    pub fn new(cfg: &config::Jail, ignore: IgnoreList) -> Jail {
        Jail {
            cfg: cfg.clone(),
            ignore,
            windows: Windows::default(),
            spread: Spread::default(),
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
    /// A new `ipv6_prefix` counts the failures kept under their new networks.
    pub fn reconfigure(&mut self, cfg: &config::Jail, ignore: IgnoreList) {
        let rekey = cfg.ipv6_prefix != self.cfg.ipv6_prefix;
        self.cfg = cfg.clone();
        self.ignore = ignore;
        if rekey {
            let kept = self.pending();
            self.windows = Windows::default();
            self.restore_pending(kept, Timestamp::MIN);
        }
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

    /// What failures of `target` are counted under: an IPv6 address (or network narrower
    /// than `ipv6_prefix`) under its network of `ipv6_prefix` bits, anything else alone.
    pub fn counted_as(&self, target: &Target) -> Target {
        let target = target.canonical();
        if target.is_ipv6() {
            target.widen(self.cfg.ipv6_prefix)
        } else {
            target
        }
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
        let key = self.counted_as(&target);
        self.windows.prune(oldest);
        if !self.windows.contains(&key) && self.windows.len() >= self.maxtracked() {
            self.windows.evict_one();
            self.counters.evicted += 1;
        }
        let mut seen = SeenFailure::new(time, failure.line);
        if let (true, Target::Addr(ip)) = (key != target, target) {
            seen = seen.with_addr(ip);
        }
        let failures = self.windows.add(key, seen, oldest, self.maxretry() as usize) as u32;
        self.counters.total_failed += 1;
        if failures < self.maxretry() {
            return Decision::Counted { failures };
        }
        self.counters.total_banned += 1;
        let window = self.windows.take(&key).unwrap_or_default();
        Decision::Ban(self.ban_orders(key, target, window, failures, now, bans, random))
    }

    /// The bans for a window that reached `maxretry`: of what was counted, narrowed around an
    /// ignored address, widened when the attacker showed several networks of a wider one.
    #[allow(clippy::too_many_arguments)]
    fn ban_orders(
        &mut self,
        key: Target,
        last: Target,
        window: VecDeque<SeenFailure>,
        failures: u32,
        now: Timestamp,
        bans: &dyn BanHistory,
        random: u64,
    ) -> Vec<BanOrder> {
        let mut seen: Vec<Target> = Vec::new();
        for s in &window {
            let addr = s.addr.map(Target::addr).unwrap_or(last);
            if key != addr && !seen.contains(&addr) {
                seen.push(addr);
            }
        }
        let lines: Vec<String> = window.into_iter().map(|s| s.line).collect();
        let (targets, narrowed) = match self.ignore.check(&key) {
            None => (vec![key], None),
            Some(reason) => self.narrow(key, &seen, reason),
        };
        let alone = targets.len() == 1;
        let mut orders = Vec::with_capacity(targets.len());
        for target in targets {
            let widened = if alone {
                let limit = self.maxtracked();
                self.spread.ban(target, now, &self.cfg.widen, &self.ignore, limit)
            } else {
                Widened {
                    target,
                    folded: Vec::new(),
                    note: None,
                }
            };
            let target = widened.target;
            let seen = if widened.folded.is_empty() {
                seen.iter()
                    .filter(|a| target.covers(a) && **a != target)
                    .copied()
                    .collect()
            } else {
                widened.folded
            };
            let note = [narrowed.clone(), widened.note]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>();
            let count = self.prior_bans(&target, bans);
            let bantime = ban_time(self.cfg.bantime, self.cfg.increment.as_ref(), count, random);
            orders.push(BanOrder {
                jail: self.cfg.name.clone(),
                target,
                since: now,
                until: bantime.map(|d| after(now, d)),
                bantime,
                failures,
                lines: lines.clone(),
                count,
                seen,
                note: (!note.is_empty()).then(|| note.join("; ")),
            });
        }
        orders
    }

    /// `key` holds an address the jail never bans: the widest network inside it that holds
    /// the addresses seen and none ignored, else those addresses one by one; and why.
    fn narrow(&self, key: Target, seen: &[Target], reason: &IgnoreReason) -> (Vec<Target>, Option<String>) {
        let seen: Vec<Target> = seen
            .iter()
            .filter(|a| self.ignore.check(a).is_none())
            .copied()
            .collect();
        let n = seen.len();
        let plural = if n == 1 { "" } else { "es" };
        let widest = Target::common(&seen).and_then(|common| {
            (key.prefix() + 1..=common.prefix())
                .map(|l| common.widen(l))
                .find(|c| self.ignore.check(c).is_none())
        });
        let note = |what: String| {
            Some(format!(
                "{key} holds an address banjo never bans ({reason}): {what}"
            ))
        };
        match widest {
            Some(net) if net.is_net() => (
                vec![net],
                note(format!(
                    "banned {net} instead, the widest network in it holding the {n} address{plural} \
                     seen and none of those"
                )),
            ),
            _ => (
                seen,
                note(format!("banned the {n} address{plural} seen instead, one by one")),
            ),
        }
    }

    /// Remembers the bans of this jail that started at `since` (from the ledger, at start and
    /// on reload), so that widening counts bans made before a restart.
    pub fn remember_bans(&mut self, bans: impl IntoIterator<Item = (Target, Timestamp)>, now: Timestamp) {
        let cutoff = before(now, self.cfg.widen.within);
        for (target, since) in bans {
            if since >= cutoff {
                self.spread.remember(target, since, &self.cfg.widen);
            }
        }
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
            seen: Vec::new(),
            note: None,
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
    /// Failures saved under another `ipv6_prefix` are counted under this one's networks.
    pub fn restore_pending(&mut self, saved: Vec<(Target, Vec<SeenFailure>)>, now: Timestamp) {
        let oldest = self.oldest(now);
        let keep = self.maxretry() as usize;
        for (target, failures) in saved {
            let target = target.canonical();
            for mut seen in failures {
                if seen.time < oldest {
                    continue;
                }
                let from = seen.addr.map(Target::addr).unwrap_or(target);
                let key = self.counted_as(&from);
                seen.addr = match from {
                    Target::Addr(ip) if key != from => Some(ip),
                    _ => None,
                };
                if !self.windows.contains(&key) && self.windows.len() >= self.maxtracked() {
                    self.windows.evict_one();
                    self.counters.evicted += 1;
                }
                self.windows.add(key, seen, oldest, keep);
            }
        }
    }

    /// Drops the windows of addresses with no failure within `findtime` of `now` (also done
    /// on every failure; call it on a timer to keep `currently_failed` exact). Returns how many.
    pub fn prune(&mut self, now: Timestamp) -> usize {
        let oldest = self.oldest(now);
        self.windows.prune(oldest)
    }

    /// Forgets the failures counted for `target` (its network's, for an IPv6 address) and
    /// for what lies inside it, and stops its bans counting for widening (an admin's unban or
    /// reset). True if there were failures.
    pub fn forget(&mut self, target: &Target) -> bool {
        let target = target.canonical();
        self.spread.forget(&target);
        let key = self.counted_as(&target);
        let own = self.windows.take(&key).is_some();
        let inside =
            target.is_net() && target.prefix() < key.prefix() && self.windows.take_inside(&target) > 0;
        own || inside
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
        let counted_as = self.counted_as(&target);
        let oldest = self.oldest(now);
        let failures = self
            .windows
            .get(&counted_as)
            .map(|w| w.iter().filter(|s| s.time >= oldest).cloned().collect())
            .unwrap_or_default();
        let ban_count = self.prior_bans(&counted_as, bans);
        Explanation {
            jail: self.cfg.name.clone(),
            target,
            counted_as,
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
