//! The answers' types, as serialized in a response's `"data"`. Times are RFC 3339 text;
//! lengths of time are whole seconds, `null` meaning permanent. The constructors build them
//! from the core's types so the daemon's [`Handler`](super::Handler) stays a few lines each.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::addr::Target;
use crate::ban::Ban;
use crate::config::{self, MultilogSource};
use crate::jail::{Explanation, Stats};
use crate::time::{left, opt_ts, ts};

/// `status`: the daemon and its jails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The daemon's version.
    pub version: String,
    pub pid: u32,
    /// When it started.
    #[serde(with = "ts")]
    pub started: Timestamp,
    /// Seconds since it started.
    pub uptime: u64,
    pub jails: Vec<JailSummary>,
    /// `[blocklist]`'s files as last read; absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocklist: Option<BlocklistStatus>,
}

impl Status {
    /// This process's version and pid, `jails` as given.
    pub fn new(started: Timestamp, now: Timestamp, jails: Vec<JailSummary>) -> Status {
        Status {
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            started,
            uptime: seconds_left(now, started).unwrap_or(0),
            jails,
            blocklist: None,
        }
    }
}

/// `[blocklist]` in `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlocklistStatus {
    /// Networks and addresses in its sets (nested entries left out).
    pub blocked: usize,
    pub files: Vec<BlocklistFile>,
}

/// One list file in `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlocklistFile {
    pub path: String,
    pub entries: usize,
    /// Lines skipped at the last read (logged with their line numbers).
    pub bad_lines: usize,
    /// Why the last read failed: the entries are those of the read before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One jail in `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JailSummary {
    pub jail: String,
    pub sources: Vec<String>,
    /// Addresses banned now.
    pub banned: usize,
    /// Of those, how many the kernel refused to block (see [`BannedAddr::refused`]).
    #[serde(default)]
    pub refused: usize,
}

impl JailSummary {
    pub fn new(jail: &config::Jail, banned: usize, refused: usize) -> JailSummary {
        JailSummary {
            jail: jail.name.to_string(),
            sources: sources(jail),
            banned,
            refused,
        }
    }
}

/// `jail_status`: one jail in detail, like `fail2ban-client status JAIL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JailStatus {
    pub jail: String,
    /// The filter as the config names it.
    pub filter: String,
    pub sources: Vec<String>,
    /// The nftables hook and family its rules are in.
    pub hook: String,
    pub family: String,
    /// Addresses with failures within findtime.
    pub currently_failed: usize,
    /// Failures counted since the daemon started.
    pub total_failed: u64,
    pub currently_banned: usize,
    /// Bans decided since the daemon started.
    pub total_banned: u64,
    /// Its active bans, soonest to end first.
    pub banned: Vec<BannedAddr>,
    /// What its filter remembers between lines (sshd's connections), when it spans lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiline: Option<MultilineMemory>,
}

/// A multi-line filter's memory over every source of its jail (`SourceLines`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultilineMemory {
    /// Connections (failure ids) remembered now.
    pub connections: usize,
    /// Connections dropped while still open because the cap was reached.
    pub evicted: u64,
    /// Connections forgotten because they outlived their 5 minutes.
    pub expired: u64,
}

impl JailStatus {
    pub fn new(jail: &config::Jail, stats: &Stats, mut banned: Vec<BannedAddr>) -> JailStatus {
        sort_bans(&mut banned);
        JailStatus {
            jail: jail.name.to_string(),
            filter: jail.filter.clone(),
            sources: sources(jail),
            hook: jail.hook.to_string(),
            family: jail.family.to_string(),
            currently_failed: stats.currently_failed,
            total_failed: stats.total_failed,
            currently_banned: banned.len(),
            total_banned: stats.total_banned,
            banned,
            multiline: None,
        }
    }
}

/// One row of `stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JailStats {
    pub jail: String,
    pub sources: Vec<String>,
    /// Failures counted since the daemon started ("total failed").
    pub found: u64,
    /// Addresses with failures within findtime.
    pub currently_failed: usize,
    /// Addresses banned now.
    pub banned: usize,
    /// Bans decided since the daemon started.
    pub total_banned: u64,
}

impl JailStats {
    pub fn new(jail: &config::Jail, stats: &Stats, banned: usize) -> JailStats {
        JailStats {
            jail: jail.name.to_string(),
            sources: sources(jail),
            found: stats.total_failed,
            currently_failed: stats.currently_failed,
            banned,
            total_banned: stats.total_banned,
        }
    }
}

/// One active ban.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BannedAddr {
    pub jail: String,
    pub addr: Target,
    #[serde(with = "ts")]
    pub since: Timestamp,
    /// `null`: permanent.
    #[serde(with = "opt_ts")]
    pub until: Option<Timestamp>,
    /// Seconds left; `null`: permanent.
    pub left: Option<u64>,
    /// How many times it had been banned before this ban.
    pub count: u32,
    /// The failures that led to it (0 for a ban by hand).
    pub failures: u32,
    /// Why nftables refused to put it in, when it did: the ban is recorded but the address
    /// is not blocked; banjo tries again every few seconds. Absent: in nftables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// For a network: the addresses that failed in it, or the narrower bans it took in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seen: Vec<Target>,
    /// Why the ban is not of what was counted (widened; narrowed around an ignored address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl BannedAddr {
    pub fn new(ban: &Ban, now: Timestamp) -> BannedAddr {
        BannedAddr {
            jail: ban.jail.to_string(),
            addr: ban.target,
            since: ban.since,
            until: ban.until,
            left: ban.until.map(|u| seconds_left(u, now).unwrap_or(0)),
            count: ban.count,
            failures: ban.failures,
            refused: ban.refused().map(str::to_owned),
            seen: ban.seen().to_vec(),
            note: ban.note().map(str::to_owned),
        }
    }
}

/// Orders bans by jail, then soonest end first (permanent last), then address.
pub fn sort_bans(bans: &mut [BannedAddr]) {
    bans.sort_by(|a, b| {
        let end = |x: &BannedAddr| (x.until.is_none(), x.until);
        (&a.jail, end(a), a.addr).cmp(&(&b.jail, end(b), b.addr))
    });
}

/// `explain`: what each jail knows of one address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explain {
    pub addr: Target,
    pub jails: Vec<JailExplain>,
    /// The `[blocklist]` entries that hold it, as "FILE: ENTRY".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocklist: Vec<String>,
}

/// What one jail knows of an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JailExplain {
    pub jail: String,
    /// What its failures are counted under, when not itself: its IPv6 network (`ipv6_prefix`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_as: Option<Target>,
    /// Why the jail ignores it (an ignoreip entry, ignoreself), if it does.
    pub ignored: Option<String>,
    /// Its failures within findtime, oldest first.
    pub failures: Vec<FailureLine>,
    pub maxretry: u32,
    /// Seconds.
    pub findtime: u64,
    /// Its ban in this jail, if banned now.
    pub ban: Option<BannedAddr>,
    /// Its bans so far, as escalation counts them.
    pub ban_count: u32,
    /// Seconds its next ban would last (random part aside); `null`: permanent.
    pub next_bantime: Option<u64>,
}

impl JailExplain {
    /// From a jail's explanation and the ledger's ban of the address in that jail.
    pub fn new(e: &Explanation, ban: Option<&Ban>, now: Timestamp) -> JailExplain {
        JailExplain {
            jail: e.jail.to_string(),
            counted_as: (e.counted_as != e.target).then_some(e.counted_as),
            ignored: e.ignored.as_ref().map(ToString::to_string),
            failures: e
                .failures
                .iter()
                .map(|f| FailureLine {
                    time: f.time,
                    line: f.line.clone(),
                })
                .collect(),
            maxretry: e.maxretry,
            findtime: e.findtime.as_secs(),
            ban: ban.map(|b| BannedAddr::new(b, now)),
            ban_count: e.ban_count,
            next_bantime: e.next_bantime.map(|d| d.as_secs()),
        }
    }
}

/// `unban`: the jails the ban was lifted in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unbanned {
    pub addr: Target,
    pub jails: Vec<String>,
}

/// `unban_all`: how many bans were lifted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnbannedAll {
    pub unbanned: usize,
}

/// One failure a jail counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureLine {
    #[serde(with = "ts")]
    pub time: Timestamp,
    pub line: String,
}

/// Where a jail reads, in words: `journal _SYSTEMD_UNIT=ssh.service`, `multilog fd qmail-smtpd`.
pub fn sources(jail: &config::Jail) -> Vec<String> {
    let source = match &jail.multilog {
        Some(MultilogSource::FdName(name)) => format!("multilog fd {name}"),
        Some(MultilogSource::Fifo(path)) => format!("multilog FIFO {}", path.display()),
        None => {
            let matches: Vec<String> = jail.journal.iter().map(ToString::to_string).collect();
            format!("journal {}", matches.join(" ")).trim_end().to_string()
        }
    };
    vec![source]
}

/// Whole seconds from `now` to `until`, rounded up; `None` when `until` is not after `now`.
fn seconds_left(until: Timestamp, now: Timestamp) -> Option<u64> {
    left(until, now).map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn ban(jail: &str, addr: &str, until: Option<&str>) -> Ban {
        Ban::new(
            jail.into(),
            addr.parse().unwrap(),
            t("2025-03-01T12:00:00Z"),
            until.map(t),
            0,
            5,
        )
    }

    #[test]
    fn banned_addr_has_seconds_left_and_rfc3339_times() {
        let b = BannedAddr::new(
            &ban("sshd", "192.0.2.1", Some("2025-03-01T13:00:00Z")),
            t("2025-03-01T12:30:00.5Z"),
        );
        assert_eq!(b.left, Some(1800));
        let json = serde_json::to_value(&b).unwrap();
        assert_eq!(json["until"], "2025-03-01T13:00:00Z");
        assert_eq!(json["addr"], "192.0.2.1");
        let back: BannedAddr = serde_json::from_value(json).unwrap();
        assert_eq!(back, b);
    }

    #[test]
    fn permanent_ban_has_null_until_and_left() {
        let b = BannedAddr::new(&ban("sshd", "192.0.2.1", None), t("2025-03-01T12:30:00Z"));
        let json = serde_json::to_value(&b).unwrap();
        assert!(json["until"].is_null() && json["left"].is_null());
    }

    #[test]
    fn bans_sort_by_jail_then_soonest_end_permanent_last() {
        let now = t("2025-03-01T12:00:00Z");
        let mut bans = vec![
            BannedAddr::new(&ban("b", "192.0.2.1", None), now),
            BannedAddr::new(&ban("b", "192.0.2.2", Some("2025-03-01T14:00:00Z")), now),
            BannedAddr::new(&ban("b", "192.0.2.3", Some("2025-03-01T13:00:00Z")), now),
            BannedAddr::new(&ban("a", "192.0.2.4", None), now),
        ];
        sort_bans(&mut bans);
        let order: Vec<String> = bans.iter().map(|b| b.addr.to_string()).collect();
        assert_eq!(order, ["192.0.2.4", "192.0.2.3", "192.0.2.2", "192.0.2.1"]);
    }
}
