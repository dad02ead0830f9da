//! Behaviour of a jail: the window, bans, escalation through the ledger, eviction, reload.

use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;

use super::*;

/// A jail from a config text (its defaults applied as the config module applies them).
fn cfg(settings: &str) -> config::Jail {
    cfg_named("app", settings)
}

pub(crate) fn cfg_named(name: &str, settings: &str) -> config::Jail {
    let text = format!(
        "[filters.app]\nfailregex = [\"auth failed from <HOST>\"]\n\n\
         [jails.{name}]\nfilter = \"app\"\njournal = [\"_SYSTEMD_UNIT=app.service\"]\n{settings}\n"
    );
    let config = config::from_toml(Path::new("/etc/banjo/config.toml"), &text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    config.jails.into_iter().next().unwrap()
}

pub(crate) fn jail(settings: &str) -> Jail {
    Jail::new(&cfg(settings), IgnoreList::empty())
}

pub(crate) fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + secs).unwrap()
}

pub(crate) fn ip(text: &str) -> Target {
    text.parse().unwrap()
}

/// A failure of `addr` logged at `logged`, seen at `now`.
pub(crate) fn fail(j: &mut Jail, addr: &str, logged: i64, now: i64) -> Decision {
    fail_with(j, addr, logged, now, &NoBans)
}

pub(crate) fn fail_with(j: &mut Jail, addr: &str, logged: i64, now: i64, bans: &dyn BanHistory) -> Decision {
    let line = format!("auth failed from {addr} at {logged}");
    let failure = Failure {
        target: ip(addr),
        time: at(logged),
        line: &line,
    };
    j.failure(failure, at(now), bans, 0)
}

/// Each failure seen as it is logged.
fn live(j: &mut Jail, addr: &str, times: &[i64]) -> Vec<Decision> {
    times.iter().map(|&t| fail(j, addr, t, t)).collect()
}

fn counted(n: u32) -> Decision {
    Decision::Counted { failures: n }
}

/// The one ban a decision makes.
pub(crate) fn order(d: Decision) -> BanOrder {
    match d {
        Decision::Ban(mut orders) if orders.len() == 1 => orders.remove(0),
        other => panic!("expected one ban, got {other:?}"),
    }
}

#[test]
fn bans_after_maxretry_within_findtime() {
    let mut j = jail("maxretry = 3\nfindtime = \"10m\"\nbantime = \"1h\"");
    let d = live(&mut j, "192.0.2.1", &[0, 100, 200]);
    assert_eq!(d[..2], [counted(1), counted(2)]);
    let ban = order(d[2].clone());
    assert_eq!(ban.jail, "app");
    assert_eq!(ban.target, ip("192.0.2.1"));
    assert_eq!(ban.since, at(200));
    assert_eq!(ban.until, Some(at(200 + 3600)));
    assert_eq!(ban.bantime, Some(Duration::from_secs(3600)));
    assert_eq!(ban.failures, 3);
    assert_eq!(ban.count, 0);
    assert_eq!(
        ban.lines,
        [
            "auth failed from 192.0.2.1 at 0",
            "auth failed from 192.0.2.1 at 100",
            "auth failed from 192.0.2.1 at 200"
        ]
    );
    let stats = j.stats(at(200));
    assert_eq!(
        (stats.total_failed, stats.total_banned, stats.currently_failed),
        (3, 1, 0)
    );
}

#[test]
fn failures_exactly_findtime_apart_still_count() {
    let mut j = jail("maxretry = 2\nfindtime = \"10m\"");
    assert_eq!(fail(&mut j, "192.0.2.1", 0, 0), counted(1));
    assert!(matches!(fail(&mut j, "192.0.2.1", 600, 600), Decision::Ban(_)));
    let mut j = jail("maxretry = 2\nfindtime = \"10m\"");
    fail(&mut j, "192.0.2.1", 0, 0);
    assert_eq!(fail(&mut j, "192.0.2.1", 601, 601), counted(1));
}

#[test]
fn does_not_ban_when_failures_are_spread_beyond_findtime() {
    let mut j = jail("maxretry = 3\nfindtime = \"10m\"");
    // Every 6 minutes: never three within 10 minutes.
    let d = live(&mut j, "192.0.2.1", &[0, 360, 720, 1080, 1440, 1800]);
    assert_eq!(
        d,
        [
            counted(1),
            counted(2),
            counted(2),
            counted(2),
            counted(2),
            counted(2)
        ]
    );
    assert_eq!(j.stats(at(1800)).total_banned, 0);
}

#[test]
fn old_lines_read_after_restart_count_within_findtime() {
    // banjo restarts at 1000 and reads the journal from its cursor: lines logged at 300..=900.
    let mut j = jail("maxretry = 3\nfindtime = \"10m\"");
    assert_eq!(
        fail(&mut j, "192.0.2.1", 300, 1000),
        Decision::Nothing,
        "older than findtime"
    );
    assert_eq!(
        fail(&mut j, "192.0.2.1", 400, 1000),
        counted(1),
        "exactly findtime old"
    );
    assert_eq!(fail(&mut j, "192.0.2.1", 800, 1000), counted(2));
    let ban = order(fail(&mut j, "192.0.2.1", 900, 1000));
    assert_eq!(
        ban.since,
        at(1000),
        "the ban starts when it is decided, not when logged"
    );
}

#[test]
fn out_of_order_failures_count_the_same() {
    // Two sources with different delays: the order of arrival does not matter, only that
    // the failures are within findtime before now.
    let mut j = jail("maxretry = 3\nfindtime = \"10m\"");
    assert_eq!(fail(&mut j, "192.0.2.1", 500, 520), counted(1));
    assert_eq!(
        fail(&mut j, "192.0.2.1", 100, 530),
        counted(2),
        "late, still within findtime"
    );
    let ban = order(fail(&mut j, "192.0.2.1", 300, 540));
    assert_eq!(
        ban.lines[0], "auth failed from 192.0.2.1 at 100",
        "lines in log-time order"
    );

    // A late line older than the window at the time it arrives does not count, even if it
    // is within findtime of the address's other failures.
    let mut j = jail("maxretry = 3\nfindtime = \"10m\"");
    fail(&mut j, "192.0.2.2", 700, 700);
    assert_eq!(fail(&mut j, "192.0.2.2", 150, 800), Decision::Nothing);
    // And a failure that is newer but arrives when an older one has left the window.
    assert_eq!(fail(&mut j, "192.0.2.2", 1350, 1350), counted(1));
}

#[test]
fn times_ahead_of_now_count_as_now() {
    let mut j = jail("maxretry = 2\nfindtime = \"10m\"");
    fail(&mut j, "192.0.2.1", 10_000, 0);
    let e = j.explain(&ip("192.0.2.1"), at(0), &NoBans);
    assert_eq!(
        e.failures[0].time,
        at(0),
        "a clock ahead does not stretch the window"
    );
    assert_eq!(fail(&mut j, "192.0.2.1", 601, 601), counted(1));
}

#[test]
fn window_cleared_after_ban() {
    let mut j = jail("maxretry = 2\nfindtime = \"10m\"");
    let d = live(&mut j, "192.0.2.1", &[0, 10]);
    assert!(matches!(d[1], Decision::Ban(_)));
    assert!(j.explain(&ip("192.0.2.1"), at(10), &NoBans).failures.is_empty());
    // With no ledger saying it is banned (e.g. the ban was lifted), counting starts over.
    assert_eq!(fail(&mut j, "192.0.2.1", 20, 20), counted(1));
}

#[test]
fn ignored_addresses_are_not_counted() {
    let cfg = cfg("maxretry = 1\nignoreip = [\"10.0.0.0/8\", \"2001:db8::/32\"]\nignoreself = true");
    let resolved = Resolved {
        own: vec!["203.0.113.9".parse().unwrap()],
        ..Resolved::default()
    };
    let mut j = Jail::new(&cfg, IgnoreList::for_jail(&cfg, &resolved));
    let reason = |d: Decision| match d {
        Decision::Ignored { reason } => reason.to_string(),
        other => panic!("expected ignored, got {other:?}"),
    };
    assert_eq!(
        reason(fail(&mut j, "::ffff:10.1.2.3", 0, 0)),
        "ignoreip lists 10.0.0.0/8"
    );
    assert_eq!(
        reason(fail(&mut j, "2001:db8::1", 0, 0)),
        "ignoreip lists 2001:db8::/32"
    );
    assert!(reason(fail(&mut j, "203.0.113.9", 0, 0)).contains("ignoreself"));
    assert!(matches!(fail(&mut j, "192.0.2.1", 0, 0), Decision::Ban(_)));
    let stats = j.stats(at(0));
    assert_eq!((stats.ignored, stats.total_failed), (3, 1));
}

#[test]
fn network_failures_are_counted_per_network() {
    let mut j = jail("maxretry = 2");
    let net = |addr: &str| Failure {
        target: Target::net(addr.parse().unwrap(), 24),
        time: at(0),
        line: "x",
    };
    assert_eq!(j.failure(net("192.0.2.7"), at(0), &NoBans, 0), counted(1));
    let d = j.failure(net("192.0.2.99"), at(0), &NoBans, 0);
    assert_eq!(order(d.clone()).target, ip("192.0.2.0/24"));
}

#[test]
fn rndtime_uses_the_callers_random_number() {
    let mut j = jail("maxretry = 1\nbantime = \"10m\"\nbantime_increment = true\nbantime_rndtime = \"10m\"");
    let f = Failure {
        target: ip("192.0.2.1"),
        time: at(0),
        line: "x",
    };
    let d = j.failure(f, at(0), &NoBans, 1 << 63);
    assert_eq!(order(d.clone()).bantime, Some(Duration::from_secs(15 * 60)));
    assert_eq!(order(d.clone()).until, Some(at(15 * 60)));
}

#[test]
fn eviction_keeps_memory_bounded_and_counts() {
    let mut j = jail("maxretry = 3\nfindtime = \"1h\"\nmaxtracked = 100");
    for i in 0..1000u32 {
        let addr = std::net::Ipv4Addr::from(0xc000_0200 + i).to_string();
        fail(&mut j, &addr, i64::from(i), i64::from(i));
        assert!(j.windows.len() <= 100);
    }
    let stats = j.stats(at(1000));
    assert_eq!(
        (stats.currently_failed, stats.evicted, stats.total_failed),
        (100, 900, 1000)
    );
    // The survivors are the 100 most recently failing; the first ones went first.
    assert!(j.explain(&ip("192.0.2.0"), at(1000), &NoBans).failures.is_empty());
    assert_eq!(j.explain(&ip("192.0.5.231"), at(1000), &NoBans).failures.len(), 1);

    // Refreshing an old address protects it from the next eviction.
    fail(&mut j, "192.0.5.132", 1000, 1000); // the oldest of the survivors (i = 900)
    fail(&mut j, "198.51.100.1", 1001, 1001);
    assert_eq!(j.explain(&ip("192.0.5.132"), at(1001), &NoBans).failures.len(), 2);
    assert!(
        j.explain(&ip("192.0.5.133"), at(1001), &NoBans)
            .failures
            .is_empty(),
        "i = 901 went"
    );
    assert_eq!(j.stats(at(1001)).evicted, 901);
}

#[test]
fn stale_windows_are_dropped_not_evicted() {
    let mut j = jail("maxretry = 3\nfindtime = \"10m\"\nmaxtracked = 2");
    fail(&mut j, "192.0.2.1", 0, 0);
    fail(&mut j, "192.0.2.2", 0, 0);
    assert_eq!(j.stats(at(601)).currently_failed, 0);
    fail(&mut j, "192.0.2.3", 700, 700);
    assert_eq!(j.stats(at(700)).evicted, 0);
    assert_eq!(j.stats(at(700)).currently_failed, 1);
    assert_eq!(j.prune(at(2000)), 1);
}

#[test]
fn reconfigure_keeps_windows() {
    let mut j = jail("maxretry = 5\nfindtime = \"10m\"\nmaxtracked = 10");
    live(&mut j, "192.0.2.1", &[0, 10, 20]);
    live(&mut j, "192.0.2.2", &[30]);
    live(&mut j, "192.0.2.3", &[40]);

    j.reconfigure(
        &cfg("maxretry = 5\nfindtime = \"10m\"\nmaxtracked = 2"),
        IgnoreList::empty(),
    );
    let stats = j.stats(at(40));
    assert_eq!(
        (stats.currently_failed, stats.evicted, stats.total_failed),
        (2, 1, 5)
    );
    assert_eq!(fail(&mut j, "192.0.2.3", 50, 50), counted(2), "kept its failure");

    j.reconfigure(&cfg("maxretry = 4\nfindtime = \"10m\""), IgnoreList::empty());
    assert_eq!(fail(&mut j, "192.0.2.3", 60, 60), counted(3));
    assert!(matches!(fail(&mut j, "192.0.2.3", 70, 70), Decision::Ban(_)));

    let ignore = IgnoreList::new(&["192.0.2.2".parse().unwrap()], &Default::default(), &[]);
    j.reconfigure(&cfg("maxretry = 4"), ignore);
    assert!(matches!(
        fail(&mut j, "192.0.2.2", 80, 80),
        Decision::Ignored { .. }
    ));
}

#[test]
fn explain_shows_failures_ignore_and_bans() {
    let cfg = cfg("maxretry = 5\nfindtime = \"10m\"\nignoreip = [\"10.0.0.0/8\"]");
    let mut j = Jail::new(&cfg, IgnoreList::for_jail(&cfg, &Resolved::default()));
    live(&mut j, "192.0.2.1", &[0, 100]);
    let e = j.explain(&ip("::ffff:192.0.2.1"), at(650), &NoBans);
    assert_eq!(e.target, ip("192.0.2.1"));
    assert_eq!(
        e.failures.len(),
        1,
        "the failure at 0 is out of the window at 650"
    );
    assert_eq!(e.failures[0].line, "auth failed from 192.0.2.1 at 100");
    assert_eq!(
        (e.maxretry, e.findtime, e.banned, e.ban_count),
        (5, Duration::from_secs(600), false, 0)
    );
    assert_eq!(e.ignored, None);
    let e = j.explain(&ip("10.0.0.1"), at(0), &NoBans);
    assert_eq!(e.ignored, Some(IgnoreReason::Listed("10.0.0.0/8".into())));
}

#[test]
fn forget_resets_an_address() {
    let mut j = jail("maxretry = 3");
    live(&mut j, "192.0.2.1", &[0, 1]);
    assert!(j.forget(&ip("192.0.2.1")));
    assert!(!j.forget(&ip("192.0.2.1")));
    assert_eq!(fail(&mut j, "192.0.2.1", 2, 2), counted(1));
}
