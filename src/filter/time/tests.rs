//! The finder as fail2ban's own tests and banjo's first users need it: every default template on
//! real lines, the datepatterns of fail2ban's filter.d, year and day completion, DST, the
//! template memory, bad input.
use jiff::tz::{self, TimeZone};

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

/// Europe/Berlin's rules without tzdata: CET/CEST, last Sunday of March and October.
fn berlin() -> TimeZone {
    TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").expect("posix zone")
}

const NOW: &str = "2026-08-01T00:00:00Z";

fn time(f: &mut TimeFinder, line: &str, now: &str) -> Option<String> {
    f.find(line.as_bytes(), ts(now))?.time.map(|t| t.to_string())
}

fn date_text<'a>(f: &mut TimeFinder, line: &'a str) -> Option<&'a str> {
    let found = f.find(line.as_bytes(), ts(NOW))?;
    line.get(found.start..found.end)
}

/// tests/data/time/samples.tsv: expected UTC time, expected cut text, line.
#[test]
fn sample_lines_as_fail2ban_reads_them() {
    let fixture = include_str!("../../../tests/data/time/samples.tsv");
    let mut finder = TimeFinder::new(berlin());
    let mut scratch = Vec::new();
    for row in fixture.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let [utc, after, line] = row.splitn(3, '\t').collect::<Vec<_>>()[..] else {
            panic!("fixture row needs 3 tab-separated columns: {row}");
        };
        let f = finder
            .find(line.as_bytes(), ts(NOW))
            .unwrap_or_else(|| panic!("no date in {line}"));
        assert_eq!(f.time, Some(ts(utc)), "{line}");
        let text = cut(line.as_bytes(), &f, &mut scratch);
        assert_eq!(String::from_utf8_lossy(text), after, "{line}");
    }
}

/// The datepatterns of fail2ban 1.0.2's filter.d (as its config reader hands them over) and
/// the issue's cases: each loads, and reads its own log format.
#[test]
fn datepatterns_of_fail2ban_filters_read_their_lines() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // (datepattern, line, date text, UTC time); Berlin time, now = 2026-08-01
        (
            "^%Y:%m:%d-%H:%M:%S",
            "2014:07:02-13:07:50: 'x' 1 failed login attempt",
            "2014:07:02-13:07:50",
            "2014-07-02T11:07:50Z",
        ),
        (
            "^L %d/%m/%Y - %H:%M:%S",
            "L 31/12/2013 - 15:01:02: \"x\" STEAM USERID validation rejected",
            "L 31/12/2013 - 15:01:02",
            "2013-12-31T14:01:02Z",
        ),
        (
            "^t=%Y-%m-%dT%H:%M:%S%z",
            "t=2020-10-19T17:44:33+0200 lvl=eror msg=\"Invalid username or password\"",
            "t=2020-10-19T17:44:33+0200",
            "2020-10-19T15:44:33Z",
        ),
        (
            "^<W>{DATE}",
            "<W>2015-11-29 16:18:21.143 1 => <8:x(-1)> Rejected connection from 192.0.2.1:58412: Invalid server password",
            "<W>2015-11-29 16:18:21.143",
            "2015-11-29T15:18:21.143Z",
        ),
        (
            "{^LN-BEG}",
            "11-06-2013 02:09:40 +0300 PROXY.3128 00004 - 1.2.3.4:28783",
            "11-06-2013 02:09:40",
            "2013-06-11T00:09:40Z",
        ),
        (
            "^[^\\[]*\\[({DATE})\n{^LN-BEG}",
            "[Thu Jul 11 01:21:41 2013] [error] [client 194.228.20.113] user  not found: /",
            "Thu Jul 11 01:21:41 2013",
            "2013-07-10T23:21:41Z",
        ),
        (
            "^[^\\[]*\\[({DATE})\n{^LN-BEG}",
            "192.0.2.1 - - [09/Jul/2013:13:43:42 +0200] \"GET / HTTP/1.1\"",
            "09/Jul/2013:13:43:42 +0200",
            "2013-07-09T11:43:42Z",
        ),
        (
            "^[^\\[]*(\\[{DATE}\\s*\\])\n{^LN-BEG}",
            "192.0.2.1 - - [09/Jul/2013:13:43:42 +0200 ] \"GET /\"",
            "[09/Jul/2013:13:43:42 +0200 ]",
            "2013-07-09T11:43:42Z",
        ),
        (
            "^\\[%d/%b/%Y %H:%M:%S\\]",
            "[18/Jul/2017 08:54:42] Failed SMTP login from 192.0.2.1",
            "[18/Jul/2017 08:54:42]",
            "2017-07-18T06:54:42Z",
        ),
        (
            "^(?:%Y-)?%m-%d[ T]%H:%M:%S(?:\\.%f)?\n{^LN-BEG}",
            "2013-12-31 17:39:54.767815 [WARNING] sofia_reg.c:1533 SIP auth failure",
            "2013-12-31 17:39:54.767815",
            "2013-12-31T16:39:54.767815Z",
        ),
        (
            "^(?:%Y-)?%m-%d[ T]%H:%M:%S(?:\\.%f)?\n{^LN-BEG}",
            "07-18 12:00:01.1 [WARNING] x",
            "07-18 12:00:01.1",
            "2026-07-18T10:00:01.1Z",
        ),
        (
            "{^LN-BEG}%b-%d-%Exy %H:%M:%S\n{^LN-BEG}",
            "Apr-27-13 02:33:06 [SMTP Error] 535 5.7.8 Authentication credentials invalid from 192.0.2.1",
            "Apr-27-13 02:33:06",
            "2013-04-27T00:33:06Z",
        ),
        (
            "^%b %d, %ExY %I:%M:%S %p\n^%H:%M:%S.%f",
            "Mar 07, 2016 12:03:41 PM org.glyptodon.guacamole.net.basic.rest.auth.BasicTokenRESTService",
            "Mar 07, 2016 12:03:41 PM",
            "2016-03-07T11:03:41Z",
        ),
        (
            "^%b %d, %ExY %I:%M:%S %p\n^%H:%M:%S.%f",
            "12:15:30.007 [x] WARN o.a.g.r.auth.AuthenticationService - x",
            "12:15:30.007",
            "2026-07-31T10:15:30.007Z",
        ),
        (
            "%d/%b[^/]*/%Y:%H:%M:%S %z",
            "192.0.2.1 - - [20/Aug/2017:15:50:04 +0000] \"GET / HTTP/1.1\"",
            "20/Aug/2017:15:50:04 +0000",
            "2017-08-20T15:50:04Z",
        ),
        (
            "^<co ts=\"{DATE}\"\\s+",
            "<co ts=\"2016-03-16T19:46:51.040-07:00\" pi=\"x\"",
            "<co ts=\"2016-03-16T19:46:51.040-07:00\" ",
            "2016-03-17T02:46:51.04Z",
        ),
        (
            "^[^-]+ -- [^-]+ -- - ({DATE})\n{^LN-BEG}",
            "5344 -- 7a46b0ea -- - 2014-01-14T15:10:00+00:00 WARN (4): x",
            "2014-01-14T15:10:00+00:00",
            "2014-01-14T15:10:00Z",
        ),
        (
            "^<\\d+>\\d+\\s+{DATE}",
            "<38>1 2019-07-08T17:40:17.954167-04:00 hostname.example.com sshd 55555 - x",
            "<38>1 2019-07-08T17:40:17.954167-04:00",
            "2019-07-08T21:40:17.954167Z",
        ),
        (
            "^%m/%d/%Y %H:%M:%S",
            "04/25/2013 10:41:09 Message: ERROR: Connection dropped by IMAP server.",
            "04/25/2013 10:41:09",
            "2013-04-25T08:41:09Z",
        ),
        (
            "^%%Y-%%m-%%d %%H:%%M:%%S",
            "2014-01-29 16:38:19 [client 192.0.2.1] x",
            "2014-01-29 16:38:19",
            "2014-01-29T15:38:19Z",
        ),
        (
            "^{DATE}",
            "2005-08-14 10:21:32,233 fail2ban.actions [1]: NOTICE [ssh] Ban 192.0.2.1",
            "2005-08-14 10:21:32,233",
            "2005-08-14T08:21:32.233Z",
        ),
        (
            "{^LN-BEG}Epoch\n{^LN-BEG}",
            "[1387288694] nsd[7745]: info: ratelimit block example.com.",
            "1387288694",
            "2013-12-17T13:58:14Z",
        ),
        (
            "EPOCH",
            "type=USER_ERR msg=audit(1398930000.123:1): pid=1 acct=\"x\"",
            "1398930000.123",
            "2014-05-01T07:40:00.123Z",
        ),
        (
            "{^LN-BEG}TAI64N\n{^LN-BEG}",
            "@400000004c91b044077a9e94 imap-login: Info: Aborted login",
            "@400000004c91b044077a9e94",
            "2010-09-16T05:50:50.125476500Z",
        ),
        (
            "LEPOCH",
            "1700000000123 x",
            "1700000000123",
            "2023-11-14T22:13:20.123Z",
        ),
        (
            "^\\[{EPOCH}\\]",
            "[1700000000] x",
            "[1700000000]",
            "2023-11-14T22:13:20Z",
        ),
    ];
    for &(pattern, line, text, utc) in cases {
        let mut f = TimeFinder::pinned(pattern, berlin()).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        let found = f
            .find(line.as_bytes(), ts(NOW))
            .unwrap_or_else(|| panic!("{pattern}: no date in {line}"));
        assert_eq!(&line[found.start..found.end], text, "{pattern}");
        assert_eq!(found.time, Some(ts(utc)), "{pattern}: {line}");
    }
}

#[test]
fn year_less_dates_are_this_year_unless_more_than_a_day_ahead() {
    let mut f = TimeFinder::new(TimeZone::UTC);
    let now = "2026-01-01T12:00:00Z";
    assert_eq!(
        time(&mut f, "Dec 31 23:00:00 h x", now).as_deref(),
        Some("2025-12-31T23:00:00Z")
    );
    assert_eq!(
        time(&mut f, "Jan  2 11:00:00 h x", now).as_deref(),
        Some("2026-01-02T11:00:00Z"),
        "within a day"
    );
    assert_eq!(
        time(&mut f, "Jan  2 13:00:00 h x", now).as_deref(),
        Some("2025-01-02T13:00:00Z"),
        "beyond a day"
    );
    // fail2ban's test "now": Sun Aug 14 12:00:00 CEST 2005.
    let zurich = TimeZone::posix("CET-01CEST-02,M3.5.0,M10.5.0").unwrap();
    let mut f = TimeFinder::new(zurich);
    let now = "2005-08-14T10:00:00Z";
    assert_eq!(
        time(&mut f, "Aug 15 11:59:59 h x", now).as_deref(),
        Some("2005-08-15T09:59:59Z")
    );
    assert_eq!(
        time(&mut f, "Aug 15 12:00:01 h x", now).as_deref(),
        Some("2004-08-15T10:00:01Z")
    );
    assert_eq!(
        time(&mut f, "Feb 29 12:00:00 h x", now),
        None,
        "2005 has no Feb 29"
    );
}

#[test]
fn time_only_lines_are_today_or_yesterday() {
    let mut f = TimeFinder::pinned("{^LN-BEG}%H:%M:%S", TimeZone::UTC).unwrap();
    let now = "2026-03-10T12:00:00Z";
    assert_eq!(
        time(&mut f, "11:00:00 x", now).as_deref(),
        Some("2026-03-10T11:00:00Z")
    );
    assert_eq!(
        time(&mut f, "13:00:00 x", now).as_deref(),
        Some("2026-03-09T13:00:00Z")
    );
}

#[test]
fn field_forms_am_pm_year_day_two_digit_years_and_zone_names() {
    let mut f = TimeFinder::pinned("%b %d, %ExY %I:%M:%S %p", TimeZone::UTC).unwrap();
    assert_eq!(
        time(&mut f, "Mar 07, 2016 12:03:41 AM x", NOW).as_deref(),
        Some("2016-03-07T00:03:41Z")
    );
    assert_eq!(
        time(&mut f, "Mar 07, 2016 12:03:41 pm x", NOW).as_deref(),
        Some("2016-03-07T12:03:41Z")
    );
    assert_eq!(
        time(&mut f, "Mar 07, 2016 01:03:41 PM x", NOW).as_deref(),
        Some("2016-03-07T13:03:41Z")
    );
    let mut f = TimeFinder::pinned("^%Y %j %H:%M:%S", TimeZone::UTC).unwrap();
    assert_eq!(
        time(&mut f, "2016 060 10:00:00 x", NOW).as_deref(),
        Some("2016-02-29T10:00:00Z")
    );
    let mut f = TimeFinder::pinned("^%y%m%d %H:%M:%S", TimeZone::UTC).unwrap();
    assert_eq!(
        time(&mut f, "990102 10:00:00 x", NOW).as_deref(),
        Some("2099-01-02T10:00:00Z"),
        "%y is 20yy"
    );
    let mut f = TimeFinder::pinned("^%A, %B %d %Y %H:%M %Z", TimeZone::UTC).unwrap();
    assert_eq!(
        time(&mut f, "Tuesday, March 07 2017 10:00 CEST x", NOW).as_deref(),
        Some("2017-03-07T08:00:00Z")
    );
    assert_eq!(
        time(&mut f, "Tuesday, March 07 2017 10:00 QQQ x", NOW),
        None,
        "an unknown zone gives no time"
    );
    let mut f = TimeFinder::pinned("^%Y-%m-%d %H:%M:%S %Exz", TimeZone::UTC).unwrap();
    assert_eq!(
        time(&mut f, "2017-03-07 10:00:00 CET+0100 x", NOW).as_deref(),
        Some("2017-03-07T08:00:00Z")
    );
}

#[test]
fn dst_gap_and_fold_in_berlin() {
    let mut f = TimeFinder::new(berlin());
    let mut t = |line: &str| time(&mut f, line, NOW).unwrap();
    // Spring forward 2026-03-29 02:00 CET → 03:00 CEST.
    assert_eq!(t("2026-03-29 01:59:59 x"), "2026-03-29T00:59:59Z");
    assert_eq!(t("2026-03-29 02:30:00 x"), "2026-03-29T01:30:00Z", "gap: later");
    assert_eq!(t("2026-03-29 03:00:00 x"), "2026-03-29T01:00:00Z");
    // Fall back 2026-10-25 03:00 CEST → 02:00 CET.
    assert_eq!(t("2026-10-25 01:59:59 x"), "2026-10-24T23:59:59Z");
    assert_eq!(
        t("2026-10-25 02:30:00 x"),
        "2026-10-25T00:30:00Z",
        "fold: earlier"
    );
    assert_eq!(t("2026-10-25 03:00:00 x"), "2026-10-25T02:00:00Z");
    assert_eq!(
        t("2026-10-25 01:00:00 x"),
        "2026-10-24T23:00:00Z",
        "the hour cache forgets the fold"
    );
}

#[test]
fn memory_follows_a_format_change_mid_stream() {
    let mut f = TimeFinder::new(TimeZone::UTC);
    let syslog = "Jul 10 12:05:53 qmail vpopmail[3076]: x";
    let tai = "@4000000059f5195c211f2234 qlogenvelope: x";
    let nginx = "1.2.3.4 - - [12/Jul/2022:00:00:08 +0200] \"GET / HTTP/1.1\" 304 5";
    let nginx2 = "10.20.30.40 - - [12/Jul/2022:00:00:09 +0200] \"GET / HTTP/1.1\" 304 5";
    let mut names = Vec::new();
    for line in [syslog, syslog, tai, tai, tai, nginx, nginx2, syslog] {
        f.find(line.as_bytes(), ts(NOW)).expect(line);
        names.push(f.last_template().unwrap().to_string());
    }
    let syslog_t = "{^LN-BEG}(?:DAY )?MON Day %k:Minute:Second(?:\\.Microseconds)?(?: ExYear)?";
    let tai_t = "{^LN-BEG}TAI64N";
    let access_t =
        "Day(?P<_sep>[-/])MON(?P=_sep)ExYear[ :]?24hour:Minute:Second(?:\\.Microseconds)?(?: Zone offset)?";
    assert_eq!(
        names,
        [
            syslog_t, syslog_t, tai_t, tai_t, tai_t, access_t, access_t, syslog_t
        ]
    );
    let hits = f.hits();
    assert!(
        hits.contains(&(tai_t.to_string(), 3)) && hits.contains(&(syslog_t.to_string(), 3)),
        "{hits:?}"
    );
    let found = f.find(nginx2.as_bytes(), ts(NOW)).unwrap();
    assert_eq!((found.start, found.time), (17, Some(ts("2022-07-11T22:00:09Z"))));
}

#[test]
fn garbage_gives_no_time() {
    let mut f = TimeFinder::new(berlin());
    for line in [
        &b""[..],
        b"@4000zzzz",
        b"@4000000059f5195c211f22zz x",
        b"Foo 99 99:99:99",
        b"Jul 32 12:00:00 x",
        b"Feb 30 12:00:00 x",
        b"2026-13-01 00:00:00 x",
        b"2026-02-30 00:00:00 x",
        b"2026-01-01 24:00:00 x",
        b"2026-01-01 23:60:00 x",
        b"\xff\xfe\x00\x80 \xc3",
        b"::::::::::",
        b"aa:bb:cc 1.2.3.4",
    ] {
        let t = f.find(line, ts(NOW)).and_then(|found| found.time);
        assert_eq!(t, None, "{}", String::from_utf8_lossy(line));
    }
}

#[test]
fn no_panic_on_any_prefix_or_noise() {
    let fixture = include_str!("../../../tests/data/time/samples.tsv");
    let mut finders = vec![
        TimeFinder::new(berlin()),
        TimeFinder::pinned("{^LN-BEG}", berlin()).unwrap(),
        TimeFinder::pinned("^[^\\[]*\\[({DATE})", berlin()).unwrap(),
        TimeFinder::pinned("LEPOCH\n%j%Exz", berlin()).unwrap(),
    ];
    let now = ts(NOW);
    for row in fixture.lines().filter(|l| !l.starts_with('#')) {
        let line = row.rsplit('\t').next().unwrap().as_bytes();
        for f in &mut finders {
            for n in 0..=line.len() {
                let _ = f.find(&line[..n], now);
                let _ = f.find(&line[n..], now);
            }
        }
    }
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let alphabet = b"0123456789:-/ T.,+@Z[]JulFebMarafPDTCEST\xff";
    for _ in 0..20_000 {
        let mut line = Vec::new();
        for _ in 0..(x % 40) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            line.push(alphabet[(x % alphabet.len() as u64) as usize]);
        }
        for f in &mut finders {
            if let Some(found) = f.find(&line, now) {
                assert!(found.start <= found.end && found.end <= line.len());
            }
        }
    }
}

#[test]
fn bad_datepatterns_say_what_and_where() {
    for (pattern, why) in [
        ("%Y%m%d-%H%Q", "`%Q` at position 10 is not a date field"),
        ("^(%Y-%m", "missing `)`"),
        ("", "empty"),
        ("%H:%M(?(x)a|b)", "unsupported group"),
    ] {
        let err = TimeFinder::pinned(pattern, TimeZone::UTC).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(why), "{pattern}: {msg}");
        assert!(msg.contains("Remove the datepattern line"), "{msg}");
    }
}

#[test]
fn none_means_no_date_and_now() {
    let mut f = TimeFinder::pinned("{NONE}", TimeZone::UTC).unwrap();
    assert!(!f.expects_dates());
    let found = f.find(b"Jul 10 12:05:53 qmail x", ts(NOW)).unwrap();
    assert_eq!((found.start, found.end, found.time), (0, 0, Some(ts(NOW))));
    assert!(TimeFinder::new(TimeZone::UTC).expects_dates());
}

#[test]
fn cut_at_start_borrows_and_in_middle_joins() {
    let mut f = TimeFinder::new(TimeZone::UTC);
    let mut scratch = Vec::new();
    let line = b"Jul 10 12:05:53   qmail vpopmail[3076]: x";
    let found = f.find(line, ts(NOW)).unwrap();
    let out = cut(line, &found, &mut scratch);
    assert_eq!(out, b"   qmail vpopmail[3076]: x");
    assert_eq!(out.as_ptr(), line[15..].as_ptr(), "borrowed, not copied");
    let line = b"93.155.70.28 - - [12/Jul/2022:00:00:08 +0200] \"GET / HTTP/1.1\" 304 5";
    let found = f.find(line, ts(NOW)).unwrap();
    assert_eq!(
        cut(line, &found, &mut scratch),
        b"93.155.70.28 - - [] \"GET / HTTP/1.1\" 304 5"
    );
    let stale = Found {
        start: 5,
        end: 500,
        ..found
    };
    assert_eq!(cut(b"short", &stale, &mut scratch), b"short");
}

#[test]
fn line_start_dates_are_preferred_as_fail2ban_prefers_them() {
    let mut f = TimeFinder::new(TimeZone::UTC);
    let line = "2026-01-02 03:04:05 relay says Jul 10 12:05:53 and 2020/01/01 00:00:00";
    assert_eq!(date_text(&mut f, line), Some("2026-01-02 03:04:05"));
    let mut f = TimeFinder::new(TimeZone::UTC);
    let line = "host: on Jul 10 12:05:53 then 2026-01-02T03:04:05Z";
    assert_eq!(date_text(&mut f, line), Some("Jul 10 12:05:53"));
}

#[test]
fn fixed_offset_zone_is_used_for_local_times() {
    let mut f = TimeFinder::new(TimeZone::fixed(tz::offset(-5)));
    assert_eq!(
        time(&mut f, "2015/05/27 15:45:58 x", NOW).as_deref(),
        Some("2015-05-27T20:45:58Z")
    );
}

/// Lines of one second share their first bytes; the finder answers such a line from its last
/// search (`Repeat`). That answer must be the one a full search gives: each pair is read after
/// its first line (shortcut possible) and after an unrelated line of the same layout (no
/// shortcut, same template memory), and both readings must agree.
#[test]
fn the_repeat_shortcut_answers_as_a_full_search_would() {
    let pairs = [
        ("Jul 12 08:56:39 host a", "Jul 12 08:56:39 host b"),
        ("Jul 12 08:56:39 host a", "Jul 12 08:56:39.5 host a"),
        ("Jul 12 08:56:39.25 host a", "Jul 12 08:56:39 host a"),
        ("Jul 12 08:56:39 host a", "Jul 12 08:56:39"),
        ("Jul 12 08:56:39", "Jul 12 08:56:39 x"),
        ("Jul 12 08:56:39 host a", "Jul 12 08:56:3x host a"),
        ("Jul 12 08:56:39 host a", "Jul 12 08:56:39x host a"),
        ("Jul 12 08:56:39 host a", "Jul 12 08:56:39 +0200 host a"),
        ("2022-07-12 08:56:39 a", "2022-07-12 08:56:39,123 a"),
        ("2022-07-12 08:56:39 a", "2022-07-12 08:56:39Z a"),
        ("2022-07-12T08:56:39+02:00 a", "2022-07-12T08:56:39+02 a"),
        ("[12/Jul/2022:08:56:39 +0200] a", "[12/Jul/2022:08:56:39 -0500] a"),
        (
            "x [12/Jul/2022:08:56:39 +0200] a",
            "x [12/Jul/2022:08:56:39 +0200] b",
        ),
        ("@400000005d2e8b4f1c2b3a40 a", "@400000005d2e8b4f1c2b3a41 a"),
        ("1562810702 a", "1562810702.5 a"),
    ];
    for (a, b) in pairs {
        let mut after_a = TimeFinder::new(berlin());
        let first = after_a.find(a.as_bytes(), ts(NOW));
        let shortcut = after_a.find(b.as_bytes(), ts(NOW));
        // The same layout as `a` (same template, same place), another date: no shortcut for `b`.
        let other = a
            .replacen("39", "38", 1)
            .replacen("1562810702", "1562810701", 1)
            .replacen("3a40", "3a3f", 1);
        assert_ne!(other, a);
        let mut after_other = TimeFinder::new(berlin());
        let _ = after_other.find(a.as_bytes(), ts(NOW));
        let _ = after_other.find(other.as_bytes(), ts(NOW));
        let full = after_other.find(b.as_bytes(), ts(NOW));
        assert_eq!(
            shortcut, full,
            "`{b}` after `{a}` (first: {first:?}), against after `{other}`"
        );
    }
}

/// The per-line claim of vm.rs and mod.rs: once the finder has seen lines like these, finding
/// their dates again allocates nothing (no Vec, no Box, no String per line).
#[test]
fn finding_dates_allocates_nothing_once_warm() {
    let lines = [
        "Jul 12 08:56:39 host sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2",
        "Jul 12 08:56:40 host sshd[1]: Failed password for root from 1.2.3.4 port 22 ssh2",
        "93.155.1.28 - - [12/Jul/2022:08:56:39 +0200] \"GET / HTTP/1.1\" 304 5 \"-\" \"Mozilla/5.0\"",
        "@400000005d2e8b4f1c2b3a40 qlogenvelope: result=rejected code=553 remoteip=95.140.112.191",
        "[Thu Jul 11 01:21:41 2013] [error] [client 1.2.3.4] File does not exist",
        "Failed password for invalid user admin from 1.2.3.4 port 22 ssh2 at 12:30 or 2001:db8::1",
        "2022-07-12T08:56:39.123456+02:00 host x",
        "1562810702.5 audit(1562810702.5:12): x",
    ];
    let mut finder = TimeFinder::new(berlin());
    let mut pinned = TimeFinder::pinned("^%Y-%m-%d %H:%M:%S(?:,%f)?", berlin()).unwrap();
    let mut run = || {
        for line in lines {
            std::hint::black_box(finder.find(line.as_bytes(), ts(NOW)));
            std::hint::black_box(pinned.find(line.as_bytes(), ts(NOW)));
        }
    };
    run();
    run();
    assert_eq!(crate::sys::alloc_count::allocations(run), 0);
}

/// Lines the fast path must answer as the machine does: every branch of the default templates'
/// optional tails taken and not, near misses, dates at odd places.
const FAST_PATH_LINES: &[&str] = &[
    "Jul 12 00:00:00 mail sshd[907]: Failed password for root from 192.0.2.1 port 22 ssh2",
    "Jul  5 08:09:10 host x",
    "Feb 28 10:11:12 host x",
    "Mar  1 10:11:12 2024 host x",
    "Sep 30 23:59:59.123456 host x",
    "Sat Jul 12 00:00:01 2025 x",
    "Thu Jul 11 01:21:41.5 2013 [x] y",
    "Jul 12 0:00:00 host",
    "Jul 12 24:00:00 host",
    "Jul 12 00:00:00.x",
    "Jul 12 00:00:00 20",
    "Jul 12 00:00:00 2099 x",
    "CEST Mon Jul 12 00:00:00 2022 x",
    "+0200 Jul 12 00:00:00 x",
    "84.71.201.89 - - [12/Jul/2022:00:00:01 +0200] \"GET /x HTTP/1.1\" 200 15 \"-\" \"curl/7.88.1\"",
    "2001:db8::1 - - [2/Jul/2022:00:00:01 -0330] \"GET / HTTP/1.1\" 404 0",
    "10.0.0.1 - - [12/Jul/2022:00:00:01] x",
    "10.0.0.1 - - [12/Jul/2022 00:00:01 +02] x",
    "[12-Jul-2022 08:56:39 +0200]: x",
    "12-Jul-2022 08:56:39.123 x",
    "2022-07-12 10:00:00 x",
    "2022-07-12T10:00:00.123+02:00 x",
    "2022-07-12T10:00:00,5 UTC x",
    "2022-07-12  10:00:00 x",
    "2022/07/12 10:00:00 [error] x",
    "2022.07.12 10:00:00 x",
    "2022-07/12 10:00:00 x",
    "20220712T100000.5Z x",
    "20220712 100000 x",
    "220712 10:00:00 x",
    "07/12/2022:10:00:00 x",
    "07-12-2022 10:00:00.7 x",
    "12/07/2022 10:00:00 x",
    "12-07-22 10:00:00 x",
    "<07/12/22@10:00:00> x",
    "Jul-12-22 10:00:00 x",
    "Jul 12, 2022 10:00:00 AM x",
    "10:00:00 x",
    "[10:00:00] x",
    "1700000000 x",
    "[1700000000.123] x",
    "@4000000059f5194706e649ec x",
    "x 12:34:56 y 12:34 z 1:2:3",
    "no date here at all, 12:30 is no date either",
    "",
    "1",
    "Jul",
    "Jul 12 00:00:0",
];

/// Every template's search with the fast path gives what the machine alone gives: the hit,
/// every capture and value, how far it read and the steps it spent. Over the lines above and
/// every line of fail2ban's sample logs (when `make compat` fetched them into target/compat).
/// Two machines left alike by one search: read mark, steps, and after a hit the `n` values'
/// spans and, where their field took part, their values (`SameFields`, `fields_time`); the hit
/// holds the date group, the one capture a template's search reads.
fn searched_alike(a: &Vm, b: &Vm, hit: bool, n: usize, what: &dyn Fn() -> String) {
    assert_eq!(a.read, b.read, "read: {}", what());
    assert_eq!(a.steps_left(), b.steps_left(), "steps: {}", what());
    if hit {
        assert_eq!(a.spans.values[..n], b.spans.values[..n], "values: {}", what());
        let taken = |vm: &Vm| -> Vec<Option<i32>> {
            (0..n)
                .map(|i| vm.spans.values[i].get().map(|_| vm.spans.vals[i]))
                .collect()
        };
        assert_eq!(taken(a), taken(b), "vals: {}", what());
    }
}

#[test]
fn the_fast_path_answers_as_the_machine_does() {
    let mut templates: Vec<Arc<Template>> = template::defaults().to_vec();
    for pattern in [
        "%d/%b/%Y:%H:%M:%S %z",
        "%d/%b[^/]*/%Y:%H:%M:%S %z",
        "^%H:%M:%S.%f",
        "^%Y-%m-%d %H:%M:%S",
        "^%Y:%m:%d-%H:%M:%S",
        "^%b %d, %ExY %I:%M:%S %p",
        "^%m/%d/%Y %H:%M:%S",
        r"^(?:%Y-)?%m-%d[ T]%H:%M:%S(?:\.%f)?",
        r"^(?:=[^=]+={3,} )?(%ExY(?P<_sep>[-/.])%m(?P=_sep)%d[T ]%H:%M:%S(?:[.,]%f)?(?:\s*%z)?)",
        "^<W>{DATE}",
        r"^<\d+>\d+\s+{DATE}",
        r"^[^\[]*\[({DATE})",
        r"^[^\[]*(\[{DATE}\s*\])",
        "^L %d/%m/%Y - %H:%M:%S",
        r"^\[%d/%b/%Y %H:%M:%S\]",
        "^t=%Y-%m-%dT%H:%M:%S%z",
        "{^LN-BEG}%b-%d-%Exy %H:%M:%S",
        "%e %B %Y %l:%M %p",
        "%j %U %w %a %A %Z",
    ] {
        let finder = TimeFinder::pinned(pattern, TimeZone::UTC).expect(pattern);
        templates.extend(finder.slots.iter().map(|s| s.template.clone()));
    }
    let logs = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/compat/root/usr/lib/python3/dist-packages/fail2ban/tests/files/logs");
    let mut lines: Vec<Vec<u8>> = FAST_PATH_LINES.iter().map(|l| l.as_bytes().to_vec()).collect();
    let mut files = 0;
    let mut dirs = vec![logs];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(text) = std::fs::read(&path) {
                files += 1;
                lines.extend(text.split(|&b| b == b'\n').map(<[u8]>::to_vec));
            }
        }
    }
    // Each line again further in: a kept match is moved to where its bytes are now.
    let moved: Vec<Vec<u8>> = lines
        .iter()
        .map(|l| [b"192.0.2.10 - ".as_slice(), l].concat())
        .collect();
    let lines: Vec<Vec<u8>> = lines.into_iter().zip(moved).flat_map(|(a, b)| [a, b]).collect();
    // And after each, the same with some digits changed (the next second, another day, a digit
    // that no longer fits its field): a kept match may be replayed over other digits only where
    // the machine would take the same path.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let lines: Vec<Vec<u8>> = lines
        .into_iter()
        .flat_map(|line| {
            let mut other = |line: &[u8]| -> Vec<u8> {
                line.iter()
                    .map(|&b| {
                        let r = random();
                        if b.is_ascii_digit() && r % 3 == 0 {
                            b'0' + (r >> 8) as u8 % 10
                        } else {
                            b
                        }
                    })
                    .collect()
            };
            let (a, b) = (other(&line), other(&line));
            [line, a, b]
        })
        .collect();
    eprintln!(
        "{} lines ({files} sample files), {} templates",
        lines.len(),
        templates.len()
    );
    let mut fast = Vm::default();
    let mut machine = Vm::default();
    machine.machine_only = true;
    for t in &templates {
        for line in &lines {
            for vm in [&mut fast, &mut machine] {
                vm.new_line();
            }
            let a = t.search(line, 0, line.len(), &mut fast);
            let b = t.search(line, 0, line.len(), &mut machine);
            let what = || format!("{} on {:?}", t.name, String::from_utf8_lossy(line));
            assert_eq!(a, b, "hit: {}", what());
            searched_alike(&fast, &machine, a.is_some(), t.keys().len(), &what);
        }
    }
    let (decided, left, replayed) = fast.first_path_counts;
    let other_digits: u64 = fast.same_match.iter().map(|m| m.over_other_digits).sum();
    eprintln!(
        "fast path: {decided} attempts decided, {left} left to the machine, {replayed} replayed \
         ({other_digits} over other digits)"
    );
    assert!(replayed > 0, "kept matches are replayed");
    assert!(other_digits > 0, "kept matches are replayed over other digits");
    assert!(decided > left, "the fast path decides most attempts");
    // The bench's common lines never need the machine.
    for (pattern, line) in [
        ("{^LN-BEG}", FAST_PATH_LINES[0]),
        ("%d/%b/%Y:%H:%M:%S %z", FAST_PATH_LINES[14]),
    ] {
        let mut finder = TimeFinder::pinned(pattern, TimeZone::UTC).unwrap();
        // The attempts' own memories are what this counts (`SameDate` would answer first).
        finder.vm.no_same_date = true;
        finder.find(line.as_bytes(), ts(NOW)).unwrap();
        finder.vm.first_path_counts = (0, 0, 0);
        // The next second: the kept match, replayed over the seconds' other digits.
        let other = line.replace("00:00:0", "00:00:1");
        let found = finder.find(other.as_bytes(), ts(NOW)).unwrap();
        let fresh = TimeFinder::pinned(pattern, TimeZone::UTC)
            .unwrap()
            .find(other.as_bytes(), ts(NOW));
        assert_eq!(Some(found), fresh, "{pattern} on {other}");
        // (An access log's search bounded where the last date ended keeps its own match.)
        let want = if pattern.starts_with('%') {
            (1, 0, 0)
        } else {
            (0, 0, 1)
        };
        assert_eq!(finder.vm.first_path_counts, want, "{pattern} on {other}");
        if pattern.starts_with('%') {
            // The same second after addresses of other lengths: the match of the last line is
            // replayed where the date is in this one.
            for (i, address) in ["10.1.2.3", "172.16.100.1", "172.16.100.2", "10.9.8.7"]
                .into_iter()
                .enumerate()
            {
                let next = other.replace("84.71.201.89", address);
                let found = finder.find(next.as_bytes(), ts(NOW)).unwrap();
                assert_eq!(&next[found.start..found.end], "12/Jul/2022:00:00:11 +0200");
                assert_eq!(
                    finder.vm.first_path_counts,
                    (1, 0, 1 + i as u64),
                    "{pattern} on {next}"
                );
            }
        }
    }
}

#[test]
fn a_kept_date_answers_as_a_search_would() {
    // Access-log-like lines: addresses of other lengths, dates repeated, moved, changed,
    // truncated, at the line start and at its end, "now" moving (year-less dates depend on
    // it). A finder with `SameDate` must find what one without it finds, line for line.
    let patterns = [
        "%d/%b/%Y:%H:%M:%S %z",
        "%d/%b[^/]*/%Y:%H:%M:%S %z",
        r"\[%d/%b/%Y %H:%M:%S\]",
        "%Y-%m-%d %H:%M:%S",
        "%b %d %H:%M:%S",
        "%H:%M:%S",
        "{^LN-BEG}%b %d %H:%M:%S",
    ];
    let dates = [
        "12/Jul/2022:00:00:00 +0200",
        "12/Jul/2022:00:00:01 +0200",
        "2/Jul/2022:10:00:01 +0200",
        "12/Jul/2022:00:00:01 +0200",
        "12/Jul/2022 00:00:01",
        "2022-07-12 00:00:01",
        "Jul 12 00:00:01",
        "Jul 12 00:00:02",
        "Jul  2 00:00:02",
        "12/Jul/2022:00:0",
        "12/Jul/2022:0a:00:01 +0200",
        "99:99:99",
        "23:59:59",
    ];
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut random = move |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let addresses = ["10.0.0.1", "192.168.100.200", "2001:db8::1", "", "1.2.3.4:80"];
    let mut lines = Vec::new();
    let (mut date, mut form) = (dates[0], 7);
    for _ in 0..4000 {
        // Mostly the same date in the same form again (the lines of one second), sometimes
        // another.
        if random(4) == 0 {
            date = dates[random(dates.len())];
        }
        if random(4) == 0 {
            form = random(8);
        }
        let address = addresses[random(addresses.len())];
        let line = match form {
            0 => format!("{date} {address} x"),
            1 => format!("{address} - - [{date}]"),
            2 => format!("{address} - - [{date}"),
            3 => format!("{address} - - [{date}7"),
            4 => date.to_string(),
            5 => format!("x{date}"),
            _ => format!("{address} - - [{date}] \"GET / HTTP/1.1\" 200 5"),
        };
        // A year later: a year-less date, or a time alone, is another time then.
        let now = if random(10) == 0 {
            "2027-08-01T12:00:00Z"
        } else {
            NOW
        };
        lines.push((line, now));
    }
    let mut answers = 0;
    for pattern in patterns {
        let mut with = TimeFinder::pinned(pattern, berlin()).unwrap();
        let mut without = TimeFinder::pinned(pattern, berlin()).unwrap();
        without.vm.no_same_date = true;
        for (line, now) in &lines {
            let a = with.find(line.as_bytes(), ts(now));
            let b = without.find(line.as_bytes(), ts(now));
            assert_eq!(a, b, "{pattern} on {line:?} at {now}");
        }
        answers += with.vm.same_date.iter().map(|d| d.answers).sum::<u64>();
    }
    assert!(answers > 1500, "searches a kept date answered: {answers}");
    // A search bounded where the last date was (`from`, `to`) sees fewer starts and a shorter
    // line: searches of any bounds must answer, read and spend as the machine alone does.
    let mut checked = 0;
    for pattern in patterns {
        let finder = TimeFinder::pinned(pattern, berlin()).unwrap();
        let t = &finder.slots[0].template;
        let mut kept = Vm::default();
        kept.same_date_on = true;
        let mut machine = Vm::default();
        machine.machine_only = true;
        for (line, _) in &lines {
            let line = line.as_bytes();
            let from = if random(2) == 0 { 0 } else { random(line.len() + 1) };
            let to = if random(2) == 0 {
                line.len()
            } else {
                random(line.len() + 1)
            };
            kept.new_line();
            machine.new_line();
            let a = t.search(line, from, to, &mut kept);
            let b = t.search(line, from, to, &mut machine);
            let what = || format!("{pattern} on {:?} [{from}..{to}]", String::from_utf8_lossy(line));
            assert_eq!(a, b, "hit: {}", what());
            searched_alike(&kept, &machine, a.is_some(), t.keys().len(), &what);
        }
        checked += kept.same_date.iter().map(|d| d.answers).sum::<u64>();
    }
    eprintln!("kept dates answered {answers} finder searches and {checked} bounded ones");
    assert!(checked > 300, "bounded searches a kept date answered: {checked}");
}

#[test]
fn percent_escapes_from_fail2ban_files_are_accepted() {
    assert_eq!(unescape_percent("^%%Y-%%m %%%% 100%%"), "^%Y-%m %%%% 100%%");
}
#[test]
fn a_kept_match_takes_other_digits_only_where_their_field_would() {
    // The day, hour, minute and second of a kept access-log match may change on replay; each
    // pair of digits' path is learned from its field once. Digits outside a field's range
    // (day 32, hour 24, second 62) or no longer digits must give what a fresh search gives.
    let pattern = "%d/%b/%Y:%H:%M:%S %z";
    let line = |date: &str| format!("10.0.0.1 - - [{date} +0200] \"GET / HTTP/1.1\" 200 5");
    let mut finder = TimeFinder::pinned(pattern, berlin()).unwrap();
    // The replay is what this checks: a line that repeats the last date would not reach it.
    finder.vm.no_same_date = true;
    let first = line("31/Jul/2022:23:59:59");
    finder.find(first.as_bytes(), ts(NOW)).unwrap();
    let dates = [
        "30/Jul/2022:23:59:59",
        "32/Jul/2022:23:59:59",
        "31/Jul/2022:24:59:59",
        "31/Jul/2022:23:60:59",
        "31/Jul/2022:23:59:60",
        "31/Jul/2022:23:59:62",
        "31/Jul/2022:23:5x:59",
        "09/Jul/2022:08:07:06",
        "30/Jul/2022:23:59:59",
        "00/Jul/2022:00:00:00",
        "31/Jun/2022:23:59:59",
        "01/Jul/2023:00:00:00",
    ];
    for date in dates {
        for address in ["10.0.0.1", "192.168.100.200"] {
            let next = line(date).replace("10.0.0.1", address);
            let fresh = TimeFinder::pinned(pattern, berlin())
                .unwrap()
                .find(next.as_bytes(), ts(NOW));
            assert_eq!(finder.find(next.as_bytes(), ts(NOW)), fresh, "{next}");
        }
    }
    let replayed = finder.vm.first_path_counts.2;
    assert!(
        replayed >= 8,
        "kept matches replayed over other digits: {replayed}"
    );
}

/// ns/line for a few line kinds and finders; run with
/// `cargo test --release --lib filter::time -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_ns_per_line() {
    use std::hint::black_box;
    use std::time::Instant;
    let n = 2_000;
    let base = 1_700_000_000i64;
    let syslog: Vec<String> = (0..n)
        .map(|i| {
            let t = Timestamp::from_second(base + i / 4).unwrap();
            let dt = TimeZone::UTC.to_datetime(t);
            format!(
                "{} qmail vpopmail[3076]: vchkpw-submission: password fail (pass: 'x') u@d.xy:1.2.3.4",
                dt.strftime("%b %e %H:%M:%S")
            )
        })
        .collect();
    let tai: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "@{:016x}{:08x} qlogenvelope: result=rejected code=553 remoteip=95.140.112.191",
                (1u64 << 62) + 10 + (base + i / 4) as u64,
                (i * 7919) % 1_000_000_000
            )
        })
        .collect();
    // Client addresses of every length, as in a real access log: where the date starts moves.
    let octet = |i: i64, k: i64| (i * 7919 + k * 104_729).wrapping_mul(2_654_435_761) as u64 % 255 + 1;
    let nginx: Vec<String> = (0..n)
        .map(|i| {
            let t = Timestamp::from_second(base + i / 4).unwrap();
            let dt = TimeZone::fixed(tz::offset(2)).to_datetime(t);
            format!(
                "{}.{}.{}.{} - - [{} +0200] \"GET / HTTP/1.1\" 304 5 \"-\" \"Mozilla/5.0\"",
                octet(i, 0),
                octet(i, 1),
                octet(i, 2),
                octet(i, 3),
                dt.strftime("%d/%b/%Y:%H:%M:%S")
            )
        })
        .collect();
    let plain = [
        "Failed password for invalid user admin from 1.2.3.4 port 22 ssh2",
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= \
         rhost=1.2.3.4  user=root",
        "imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<u@d.xy>, \
         method=PLAIN, rip=1.2.3.4, lip=5.6.7.8, session=<k2t5+c7>",
        "Connection closed by 1.2.3.4 port 51234 [preauth]",
    ];
    let plain: Vec<String> = (0..n as usize)
        .map(|i| plain[i % plain.len()].to_string())
        .collect();
    let now = Timestamp::from_second(base + n).unwrap();
    for (name, tz, lines, pinned) in [
        ("syslog", berlin(), &syslog, None),
        ("TAI64N", TimeZone::UTC, &tai, None),
        ("nginx access", berlin(), &nginx, None),
        ("nginx pinned", berlin(), &nginx, Some("%d/%b/%Y:%H:%M:%S %z")),
        ("no timestamp", berlin(), &plain, None),
    ] {
        if std::env::var("MEASURE_ONLY").is_ok_and(|only| only != name) {
            continue;
        }
        let mut finder = match pinned {
            Some(p) => TimeFinder::pinned(p, tz).unwrap(),
            None => TimeFinder::new(tz),
        };
        let rounds = 500;
        let mut best = f64::MAX;
        let mut found = 0usize;
        for _ in 0..5 {
            let start = Instant::now();
            for _ in 0..rounds {
                for line in lines.iter() {
                    let hit = finder.find(black_box(line.as_bytes()), now);
                    found += black_box(hit).is_some() as usize;
                }
            }
            let per = start.elapsed().as_nanos() as f64 / (rounds * lines.len()) as f64;
            best = best.min(per);
        }
        println!("{name:>14}: {best:6.1} ns/line, best of 5 ({found} found)");
    }
}

#[test]
fn the_next_second_moves_the_last_time_when_nothing_else_is_assumed() {
    // (pattern, zone, the first line, lines after it, whether the seconds alone move the time)
    let cases = [
        (
            "%d/%b/%Y:%H:%M:%S %z",
            berlin(),
            "1.2.3.4 - - [12/Jul/2022:10:00:07 +0200] \"GET / HTTP/1.1\" 200 5",
            vec![
                "10.20.30.40 - - [12/Jul/2022:10:00:08 +0200] \"GET / HTTP/1.1\" 200 5",
                "10.20.30.4 - - [12/Jul/2022:10:00:59 +0200] \"GET / HTTP/1.1\" 200 5",
                "10.2.3.4 - - [12/Jul/2022:10:01:00 +0200] \"GET / HTTP/1.1\" 200 5",
                "10.2.3.4 - - [12/Jul/2022:10:01:60 +0200] \"GET / HTTP/1.1\" 200 5",
                "10.2.3.44 - - [12/Jul/2022:10:01:02 +0200] \"GET / HTTP/1.1\" 200 5",
                "10.2.3.4 - - [12/Jul/2022:10:01:03 -0500] \"GET / HTTP/1.1\" 200 5",
                "10.2.3.4 - - [31/Feb/2022:10:01:04 -0500] \"GET / HTTP/1.1\" 200 5",
                "10.2.3.4 - - [31/Mar/2022:10:01:05 -0500] \"GET / HTTP/1.1\" 200 5",
            ],
            true,
        ),
        (
            // A local time: a zone's rules, not the seconds alone, say when it is.
            "%d/%b/%Y:%H:%M:%S",
            berlin(),
            "1.2.3.4 - - [27/Mar/2022:01:59:58] x",
            vec![
                "1.2.3.44 - - [27/Mar/2022:01:59:59] x",
                "1.2.3.4 - - [27/Mar/2022:03:00:00] x",
                "1.2.3.44 - - [27/Mar/2022:03:00:01] x",
            ],
            false,
        ),
        (
            // No year: "now" says which.
            "%b %d %H:%M:%S %z",
            TimeZone::UTC,
            "a Dec 31 23:59:58 +0000 b",
            vec!["ab Dec 31 23:59:59 +0000 b", "a Jan 01 00:00:00 +0000 b"],
            false,
        ),
    ];
    for (pattern, tz, first, lines, linear) in cases {
        let mut finder = TimeFinder::pinned(pattern, tz.clone()).unwrap();
        assert!(
            finder.find(first.as_bytes(), ts(NOW)).is_some(),
            "{pattern} on {first}"
        );
        assert_eq!(
            finder.same_fields.seconds.is_some(),
            linear,
            "{pattern} on {first}"
        );
        for line in lines {
            let found = finder.find(line.as_bytes(), ts(NOW));
            let fresh = TimeFinder::pinned(pattern, tz.clone())
                .unwrap()
                .find(line.as_bytes(), ts(NOW));
            assert_eq!(found, fresh, "{pattern} on {line}");
        }
    }
}
