//! The ledger as the jails' ban history (`jail::BanHistory`): escalation counts its bans,
//! `bantime_overalljails` counts every jail's, a banned address's failures are not counted,
//! a permanent ban never ends. Jail and ledger together, so the tests live here, on the side
//! of the arrow that imports the other.

use std::time::Duration;

use jiff::Timestamp;

use super::Ledger;
use crate::config::BanTime;
use crate::jail::tests::{at, cfg_named, fail, fail_with, ip, jail, order};
use crate::jail::{BanHistory, Decision, IgnoreList, Jail};

#[test]
fn failures_of_a_banned_address_are_not_counted() {
    let mut j = jail("maxretry = 2\nfindtime = \"10m\"");
    let mut ledger = Ledger::default();
    fail_with(&mut j, "192.0.2.1", 0, 0, &ledger);
    ledger.add(order(fail_with(&mut j, "192.0.2.1", 1, 1, &ledger)));
    for t in 2..10 {
        assert_eq!(fail_with(&mut j, "192.0.2.1", t, t, &ledger), Decision::Nothing);
    }
    assert_eq!(ledger.ban_count(&ip("192.0.2.1"), None), 1);
}

#[test]
fn escalation_follows_the_ledger_history() {
    let mut j = jail(
        "maxretry = 1\nbantime = \"10m\"\nbantime_increment = true\nbantime_factor = 1.0\n\
         bantime_maxtime = \"1h\"",
    );
    let mut ledger = Ledger::default();
    let mut lengths = Vec::new();
    for round in 0..5 {
        let now = round * 10_000;
        let ban = order(fail_with(&mut j, "192.0.2.1", now, now, &ledger));
        lengths.push((ban.count, ban.bantime.unwrap().as_secs() / 60));
        ledger.add(ban);
        ledger.expire(at(now + 5000));
    }
    assert_eq!(lengths, [(0, 10), (1, 20), (2, 40), (3, 60), (4, 60)]);
}

#[test]
fn overalljails_counts_other_jails_bans() {
    let increment = "maxretry = 1\nbantime = \"10m\"\nbantime_increment = true\n\
                     bantime_multipliers = [1, 3, 9]";
    let mut ledger = Ledger::default();
    let mut sshd = Jail::new(&cfg_named("sshd", increment), IgnoreList::empty());
    ledger.add(order(fail_with(&mut sshd, "192.0.2.1", 0, 0, &ledger)));
    ledger.add(order(fail_with(&mut sshd, "192.0.2.2", 0, 0, &ledger)));

    let mut own = Jail::new(&cfg_named("dovecot", increment), IgnoreList::empty());
    let ban = order(fail_with(&mut own, "192.0.2.1", 0, 0, &ledger));
    assert_eq!(
        (ban.count, ban.bantime),
        (0, Some(Duration::from_secs(600))),
        "sshd's bans not counted"
    );

    let overall = format!("{increment}\nbantime_overalljails = true");
    let mut all = Jail::new(&cfg_named("postfix", &overall), IgnoreList::empty());
    ledger.add(ban);
    let ban = order(fail_with(&mut all, "192.0.2.1", 0, 0, &ledger));
    assert_eq!(
        (ban.count, ban.bantime),
        (2, Some(Duration::from_secs(5400))),
        "sshd's and dovecot's"
    );
    let e = all.explain(&ip("192.0.2.2"), at(0), &ledger);
    assert_eq!(e.ban_count, 1);
    assert_eq!(e.next_bantime, Some(Duration::from_secs(1800)));
}

#[test]
fn a_manual_ban_counts_bans_as_escalation_does_overalljails_included() {
    let increment = "maxretry = 1\nbantime = \"10m\"\nbantime_increment = true";
    let mut ledger = Ledger::default();
    let mut sshd = Jail::new(&cfg_named("sshd", increment), IgnoreList::empty());
    ledger.add(order(fail_with(&mut sshd, "192.0.2.1", 0, 0, &ledger)));

    let own = Jail::new(&cfg_named("dovecot", increment), IgnoreList::empty());
    let ban = own.manual_ban(ip("192.0.2.1"), None, at(5), &ledger);
    assert_eq!(
        (ban.jail.as_str(), ban.count),
        ("dovecot", 0),
        "sshd's ban not counted"
    );
    assert_eq!(
        (ban.since, ban.until),
        (at(5), Some(at(605))),
        "the jail's bantime"
    );
    assert_eq!(ban.lines, ["banned by hand (banjo ban)"]);

    let overall = format!("{increment}\nbantime_overalljails = true");
    let all = Jail::new(&cfg_named("postfix", &overall), IgnoreList::empty());
    let ban = all.manual_ban(ip("::ffff:192.0.2.1"), Some(BanTime::Permanent), at(5), &ledger);
    assert_eq!(
        (ban.target, ban.count),
        (ip("192.0.2.1"), 1),
        "sshd's ban counted"
    );
    assert_eq!((ban.until, ban.bantime), (None, None), "the time asked for");
}

#[test]
fn permanent_bantime_gives_a_permanent_ban() {
    let mut j = jail("maxretry = 1\nbantime = -1\nbantime_increment = true");
    let ban = order(fail(&mut j, "192.0.2.1", 0, 0));
    assert_eq!((ban.until, ban.bantime), (None, None));
    let mut ledger = Ledger::default();
    ledger.add(ban);
    assert!(ledger.expire(Timestamp::MAX).is_empty());
    assert!(ledger.is_banned("app", &ip("192.0.2.1"), Timestamp::MAX));
}

/// A flood of `n` distinct addresses of one /64 through a jail and the ledger; (windows
/// tracked when it ended, bans in the ledger, failures counted).
fn flood_of_one_64(settings: &str, n: u32) -> (usize, usize, u64) {
    let mut j = jail(settings);
    let mut ledger = Ledger::default();
    for i in 0..n {
        let addr =
            std::net::Ipv6Addr::from(0x2001_0db8_0000_0001_0000_0000_0000_0000u128 | (u128::from(i) + 1));
        let line = format!("auth failed from {addr}");
        let failure = crate::jail::Failure {
            target: crate::addr::Target::addr(addr.into()),
            time: at(i64::from(i / 1000)),
            line: &line,
        };
        if let Decision::Ban(orders) = j.failure(failure, at(i64::from(i / 1000)), &ledger, 0) {
            for o in orders {
                ledger.ban(o, at(i64::from(i / 1000)));
            }
        }
    }
    let stats = j.stats(at(i64::from(n / 1000)));
    (stats.currently_failed, ledger.len(), stats.total_failed)
}

#[test]
fn a_flood_from_one_64_costs_one_entry_not_one_per_address() {
    // counted by /64: banned after maxretry, then not even counted
    let (tracked, bans, counted) = flood_of_one_64("maxretry = 5\nfindtime = \"1d\"", 100_000);
    assert_eq!((tracked, bans, counted), (0, 1, 5));
    // never reaching maxretry: one window all along, holding maxretry failures at most
    let (tracked, bans, _) = flood_of_one_64("maxretry = 1000000\nfindtime = \"1d\"", 100_000);
    assert_eq!((tracked, bans), (1, 0));
    // counted by address (fail2ban's way): one window per address, up to maxtracked
    let (tracked, bans, _) = flood_of_one_64(
        "maxretry = 5\nfindtime = \"1d\"\nipv6_prefix = 128\nmaxtracked = 50000",
        100_000,
    );
    assert_eq!((tracked, bans), (50_000, 0));
}

/// The measure: `cargo test --release --lib -- --ignored --nocapture flood_measure`.
#[test]
#[ignore = "a measurement: run with --release --ignored --nocapture"]
fn flood_measure_a_million_addresses_of_one_64() {
    fn rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .unwrap_or("VmRSS: 0");
        line.split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
    for (what, settings) in [
        ("ipv6_prefix = 64, banned at 5", "maxretry = 5\nfindtime = \"1d\""),
        (
            "ipv6_prefix = 128",
            "maxretry = 5\nfindtime = \"1d\"\nipv6_prefix = 128\nmaxtracked = 1000000",
        ),
    ] {
        let before = rss_kib();
        let started = std::time::Instant::now();
        let (tracked, bans, _) = flood_of_one_64(settings, 1_000_000);
        let took = started.elapsed();
        println!(
            "{what}: 1M failures in {:.2}s ({:.0}/s), {tracked} window(s), {bans} ban(s), RSS +{} KiB",
            took.as_secs_f64(),
            1e6 / took.as_secs_f64(),
            rss_kib().saturating_sub(before)
        );
    }
}
