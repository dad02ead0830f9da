//! `banjo metrics`: every room's counters and gauges in one Prometheus text, in the order the
//! data flows (sources, jails, bans, the firewall, reloads, the state files), put together on
//! the loop thread when the control socket asks. A room that counts for nothing else keeps its
//! counters here: the bans by cause and their latency ([`BanCounts`], held by `bans`), and the
//! jails' numbers are read from `Jail::stats`. The sources, re-applies and reloads write
//! their own part, beside the events they count.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;

use super::Daemon;
use super::jails::Jails;
use crate::addr::Target;
use crate::ban::Ledger;
use crate::metrics::{Counters, Exposition, Histogram, Kind, LATENCY_BUCKETS};
use crate::name::JailName;

/// The state files whose failed writes are counted.
const STATE_FILES: [&str; 2] = ["bans.json", "progress.json"];

impl Daemon {
    /// The whole exposition at `now`.
    pub(super) fn metrics_text(&self, now: Timestamp) -> String {
        let mut out = Exposition::new();
        out.family(
            "banjo_build_info",
            Kind::Gauge,
            "The running banjo's version, as a label; the value is always 1.",
        );
        out.sample(&[("version", env!("CARGO_PKG_VERSION"))], 1u64);
        out.family(
            "banjo_start_time_seconds",
            Kind::Gauge,
            "When the daemon started, in seconds since the Unix epoch.",
        );
        out.sample(&[], self.started_at.as_millisecond() as f64 / 1000.0);
        self.feeds.expose(&mut out, now);
        expose_jails(&mut out, &self.jails, now);
        self.bans.counts().expose(&mut out, self.bans.ledger());
        self.enforce.expose(&mut out);
        self.reloads.expose(&mut out);
        out.family(
            "banjo_state_save_errors_total",
            Kind::Counter,
            "Failed writes of a state file in the state directory (retried within a second).",
        );
        for file in STATE_FILES {
            out.sample(&[("file", file)], self.save_errors.get(file));
        }
        out.finish()
    }
}

/// The jails' counters (kept by each `Jail` since the start, across reloads) and the
/// addresses they track now.
fn expose_jails(out: &mut Exposition, jails: &Jails, now: Timestamp) {
    let stats: Vec<_> = (jails.iter())
        .map(|(name, r)| (name.as_str(), r.jail.stats(now)))
        .collect();
    let families: [(&str, Kind, &str, StatOf); 4] = [
        (
            "banjo_failures_total",
            Kind::Counter,
            "Failures counted, by jail: a failregex matched an address that is not ignored.",
            |s| s.total_failed,
        ),
        (
            "banjo_failures_ignored_total",
            Kind::Counter,
            "Failures of addresses the jail ignores (ignoreip, ignoreself), not counted.",
            |s| s.ignored,
        ),
        (
            "banjo_addresses_tracked",
            Kind::Gauge,
            "Addresses with failures within findtime, by jail.",
            |s| s.currently_failed as u64,
        ),
        (
            "banjo_addresses_evicted_total",
            Kind::Counter,
            "Addresses forgotten with their failures because the jail tracked maxtracked already.",
            |s| s.evicted,
        ),
    ];
    for (name, kind, help, value) in families {
        out.family(name, kind, help);
        for (jail, s) in &stats {
            out.sample(&[("jail", jail)], value(s));
        }
    }
}

/// One number of a jail's stats.
type StatOf = fn(&crate::jail::Stats) -> u64;

/// Why a ban was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanCause {
    /// A jail's failures reached maxretry; `at`: when the deciding failure was logged.
    Failures { at: Timestamp },
    /// `banjo ban`.
    Command,
}

impl BanCause {
    const LABELS: [&'static str; 2] = ["failures", "command"];

    fn label(self) -> &'static str {
        match self {
            BanCause::Failures { .. } => "failures",
            BanCause::Command => "command",
        }
    }
}

/// Why a ban ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnbanCause {
    /// Its bantime was over.
    Expiry,
    /// `banjo unban` (or `unban --all`).
    Command,
    /// Its jail is no longer configured (a reload, or a start with a changed config).
    Reload,
    /// A wider network ban of its jail took it in (`widen_after`).
    Widened,
}

impl UnbanCause {
    const LABELS: [&'static str; 4] = ["expiry", "command", "reload", "widened"];

    fn label(self) -> &'static str {
        match self {
            UnbanCause::Expiry => "expiry",
            UnbanCause::Command => "command",
            UnbanCause::Reload => "reload",
            UnbanCause::Widened => "widened",
        }
    }
}

/// The bans' counters since the start; `bans` tells each change.
#[derive(Default)]
pub struct BanCounts {
    bans: Counters<(JailName, &'static str)>,
    unbans: Counters<(JailName, &'static str)>,
    refusals: Counters<JailName>,
    latency: HashMap<JailName, Histogram>,
    /// Bans decided on a failure and not yet in the kernel: when the failure was logged.
    awaiting_kernel: HashMap<(JailName, Target), Timestamp>,
}

impl BanCounts {
    /// A configured jail: its series are shown from the start, at 0.
    pub fn know_jail(&mut self, jail: &JailName) {
        for cause in BanCause::LABELS {
            self.bans.touch((jail.clone(), cause));
        }
        for cause in UnbanCause::LABELS {
            self.unbans.touch((jail.clone(), cause));
        }
        self.refusals.touch(jail.clone());
        self.latency
            .entry(jail.clone())
            .or_insert_with(|| Histogram::new(LATENCY_BUCKETS));
    }

    /// A ban the ledger took; one decided by a failure waits for the kernel (latency).
    pub fn banned(&mut self, jail: JailName, target: Target, cause: BanCause) {
        self.bans.inc((jail.clone(), cause.label()));
        if let BanCause::Failures { at } = cause {
            self.awaiting_kernel.insert((jail, target), at);
        }
    }

    /// A ban ended.
    pub fn lifted(&mut self, jail: &JailName, target: Target, cause: UnbanCause) {
        self.awaiting_kernel.remove(&(jail.clone(), target));
        self.unbans.inc((jail.clone(), cause.label()));
    }

    /// The kernel refused a ban that was blocked (or new) until now.
    pub fn refused(&mut self, jail: &str) {
        self.refusals.inc(JailName::new(jail));
    }

    /// A ban is in the kernel: the time since its failure, when one decided it.
    pub fn in_kernel(&mut self, jail: &JailName, target: Target, now: Timestamp) {
        let Some(at) = self.awaiting_kernel.remove(&(jail.clone(), target)) else {
            return;
        };
        let secs = now.duration_since(at).as_secs_f64();
        self.latency
            .entry(jail.clone())
            .or_insert_with(|| Histogram::new(LATENCY_BUCKETS))
            .observe(secs);
    }

    /// A reconcile put every ban in but those `refused` says: the waiting ones are in.
    pub fn reconciled(&mut self, refused: impl Fn(&str, Target) -> bool, now: Timestamp) {
        let applied: Vec<(JailName, Target)> = (self.awaiting_kernel.keys())
            .filter(|(jail, target)| !refused(jail.as_str(), *target))
            .cloned()
            .collect();
        for (jail, target) in applied {
            self.in_kernel(&jail, target, now);
        }
    }

    /// The counters by cause, the ledger's bans now by family, the latency.
    pub fn expose(&self, out: &mut Exposition, ledger: &Ledger) {
        out.family(
            "banjo_bans_total",
            Kind::Counter,
            "Bans made, by jail and cause: failures (maxretry reached) or command (banjo ban).",
        );
        for ((jail, cause), n) in self.bans.iter() {
            out.sample(&[("jail", jail), ("cause", cause)], n);
        }
        out.family(
            "banjo_unbans_total",
            Kind::Counter,
            "Bans ended, by jail and cause: expiry, command (banjo unban) or reload (jail removed).",
        );
        for ((jail, cause), n) in self.unbans.iter() {
            out.sample(&[("jail", jail), ("cause", cause)], n);
        }
        out.family(
            "banjo_ban_refusals_total",
            Kind::Counter,
            "Bans that nftables refused to put in (a full set, an overlapping element ...): recorded \
             but NOT blocked, and retried every 10 s.",
        );
        for (jail, n) in self.refusals.iter() {
            out.sample(&[("jail", jail)], n);
        }
        self.expose_active(out, ledger);
        out.family(
            "banjo_ban_latency_seconds",
            Kind::Histogram,
            "Seconds from the failure that completed maxretry (its log time) to its element in nftables.",
        );
        let mut jails: Vec<_> = self.latency.iter().collect();
        jails.sort_by(|a, b| a.0.cmp(b.0));
        for (jail, h) in jails {
            out.histogram(&[("jail", jail)], h);
        }
    }

    /// Gauges read from the ledger: bans now by family, and those the kernel refused.
    fn expose_active(&self, out: &mut Exposition, ledger: &Ledger) {
        let mut active: BTreeMap<(&str, &str), usize> = BTreeMap::new();
        let mut refused: BTreeMap<&str, usize> = BTreeMap::new();
        for (jail, _) in self.refusals.iter() {
            refused.insert(jail, 0);
            for family in ["ipv4", "ipv6"] {
                active.insert((jail, family), 0);
            }
        }
        for ban in ledger.all() {
            let family = if ban.target.ip().is_ipv4() { "ipv4" } else { "ipv6" };
            *active.entry((&ban.jail, family)).or_default() += 1;
            if ban.refused().is_some() {
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
