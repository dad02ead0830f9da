//! The `banjo` binary as an admin runs it: test-filter on files, stdin and journal files,
//! check on good and bad configs.
mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn banjo(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_banjo"))
        .args(args)
        .env("TZ", "UTC")
        .output()
        .expect("run banjo")
}

fn data(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(p)
        .display()
        .to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "banjo failed: {}", stderr(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

#[test]
fn test_filter_json_gives_exact_hosts_lines_and_times() {
    let o = banjo(&[
        "test-filter",
        "qmail-smtp",
        &data("logs/qmail-smtpd.current"),
        "--json",
    ]);
    let v = json(&o);
    assert_eq!(v["lines"], 6);
    assert_eq!(v["matched"], 4);
    assert_eq!(v["ignored"], 0);
    assert_eq!(v["missed"], 2);
    let m: Vec<(u64, String, u64)> = v["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["line"].as_u64().unwrap(),
                m["host"].as_str().unwrap().to_string(),
                m["regex"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        m,
        vec![
            (1, "95.140.112.191".into(), 1),
            (3, "77.65.15.93".into(), 3),
            (5, "91.121.144.116".into(), 2),
            (6, "203.0.113.50".into(), 4)
        ]
    );
    // TAI64N @4000000059f5195c211f2234 is 2017-10-29T00:00:18Z (daemontools' 10 s offset)
    let t: jiff::Timestamp = v["matches"][0]["time"].as_str().unwrap().parse().unwrap();
    assert_eq!(t.as_second(), 0x59f5195c - 10);
    // tai64nlocal's date in local time (TZ=UTC here)
    assert_eq!(v["matches"][2]["time"], "2022-02-18T16:23:03.7197625Z");
}

#[test]
fn missed_line_hint_names_the_missing_text() {
    // the seed's pitfall: a qlogenvelope line with reason=authfailed has no remoteip=
    let o = banjo(&[
        "test-filter",
        "qmail-smtp",
        &data("logs/qmail-smtpd.current"),
        "--print-all-missed",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("lines: 6  matched: 4  ignored: 0  missed: 2"),
        "{out}"
    );
    let hint = out
        .lines()
        .skip_while(|l| !l.contains("reason=authfailed"))
        .nth(1)
        .unwrap_or_default();
    assert!(hint.contains("why:") && hint.contains("remoteip="), "{out}");
    assert!(out.contains("TAI64N"), "templates are reported: {out}");
}

#[test]
fn test_filter_reads_stdin_and_a_regex_string() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_banjo"))
        .args(["test-filter", r"auth failed for \S+ from <HOST>$", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Nov 24 10:00:00 h app: auth failed for bob from 2001:db8::7\nnoise\n")
        .unwrap();
    let v = json(&child.wait_with_output().unwrap());
    assert_eq!((v["lines"].as_u64(), v["matched"].as_u64()), (Some(2), Some(1)));
    assert_eq!(v["matches"][0]["host"], "2001:db8::7");
}

#[test]
fn test_filter_now_pins_the_year_of_yearless_dates() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    // Aug 15 is within a day of "now": this year; Dec 1 would be in the future: last year.
    std::fs::write(
        &log,
        "Aug 15 09:00:00 h app: auth failed from 192.0.2.1\nDec  1 10:00:00 h app: auth failed from 192.0.2.2\n",
    )
    .unwrap();
    let run = |now: &str| {
        json(&banjo(&[
            "test-filter",
            "auth failed from <HOST>$",
            log.to_str().unwrap(),
            "--json",
            "--now",
            now,
        ]))
    };
    for now in ["2005-08-14T12:00:00+02:00", "2005-08-14 10:00:00"] {
        let v = run(now);
        assert_eq!(v["matches"][0]["time"], "2005-08-15T09:00:00Z", "{now}");
        assert_eq!(v["matches"][1]["time"], "2004-12-01T10:00:00Z", "{now}");
    }
    let o = banjo(&["test-filter", "x <HOST>", "-", "--now", "yesterday"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("is not a time"), "{}", stderr(&o));
}

#[test]
fn test_filter_reads_a_fail2ban_filter_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("seed-vpopmail.conf");
    std::fs::write(
        &conf,
        "[Definition]\nfailregex = vchkpw-submission: .* user not found .*:<HOST>$\n            vchkpw-submission: password fail .*:<HOST>$\nignoreregex =\nmaxlines = 3\nusedns = no\n",
    )
    .unwrap();
    let log = dir.path().join("mail.log");
    std::fs::write(
        &log,
        "Jul 10 12:05:53 qmail vpopmail[3076]: vchkpw-submission: vpopmail user not found helpdesk@yourdomain.xy:191.233.70.140\n\
         Jul 22 17:31:46 qmail vpopmail[6383]: vchkpw-submission: password fail (pass: 'dasdas') postmaster@yourdomain.xy:1.2.3.4\n",
    )
    .unwrap();
    let o = banjo(&["test-filter", conf.to_str().unwrap(), log.to_str().unwrap()]);
    let out = stdout(&o);
    // maxlines = 3: each line is searched with the two before it, and taken only once
    assert!(out.contains("matched: 2"), "{out}{}", stderr(&o));
    assert!(
        out.contains("warning: usedns"),
        "unsupported options are reported: {out}"
    );
}

#[test]
fn unknown_filter_is_a_clear_error() {
    let o = banjo(&["test-filter", "no-such-filter", &data("logs/qmail-smtpd.current")]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("no-such-filter") && e.contains("qmail-smtp"),
        "lists the built-ins: {e}"
    );
}

#[test]
fn bad_regex_names_the_filter_and_position() {
    let o = banjo(&[
        "test-filter",
        "from <HOST> (unclosed",
        &data("logs/qmail-smtpd.current"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("failregex 1"), "{}", stderr(&o));
}

#[test]
fn test_filter_reads_journal_files_with_matches() {
    let Some(remote) = common::journal::journal_remote() else {
        eprintln!("SKIP: systemd-journal-remote is not installed (make deps installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fixture.journal");
    let st = Command::new(remote)
        .arg(format!("--output={}", file.display()))
        .arg(data("journal/mail.export"))
        .status()
        .unwrap();
    assert!(st.success());
    let o = banjo(&[
        "test-filter",
        "vpopmail",
        "--journal-file",
        file.to_str().unwrap(),
        "SYSLOG_IDENTIFIER=vpopmail",
        "--json",
    ]);
    let v = json(&o);
    assert_eq!(v["lines"], 3, "the dovecot entry is not selected");
    assert_eq!(v["matched"], 2);
    assert_eq!(v["matches"][0]["host"], "191.233.70.140");
    assert_eq!(v["matches"][1]["host"], "1.2.3.4");
    // the entry's own time; _SOURCE_REALTIME_TIMESTAMP wins over the receive time
    let t0: jiff::Timestamp = v["matches"][0]["time"].as_str().unwrap().parse().unwrap();
    let t1: jiff::Timestamp = v["matches"][1]["time"].as_str().unwrap().parse().unwrap();
    assert_eq!(t0.as_microsecond(), 1763980000000000);
    assert_eq!(t1.as_microsecond(), 1763979999500000);
    let o = banjo(&[
        "test-filter",
        "dovecot",
        "--journal-dir",
        dir.path().to_str().unwrap(),
        "_SYSTEMD_UNIT=dovecot.service",
        "--json",
    ]);
    let v = json(&o);
    assert_eq!((v["lines"].as_u64(), v["matched"].as_u64()), (Some(1), Some(1)));
    assert_eq!(v["matches"][0]["host"], "198.51.100.7");
}

#[test]
fn bad_journal_match_is_refused() {
    let o = banjo(&["test-filter", "sshd", "--journal-dir", "/nonexistent", "unit=ssh"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("FIELD=VALUE"), "{}", stderr(&o));
}

#[test]
fn check_accepts_the_example_config() {
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    let o = banjo(&["--config", cfg.to_str().unwrap(), "check"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for jail in [
        "qmail-smtp",
        "qmail-submission",
        "vpopmail",
        "qmailadmin",
        "roundcube-auth",
        "dovecot-pop3",
        "dovecot-imap",
    ] {
        assert!(out.contains(&format!("[jails.{jail}]")), "{jail} missing: {out}");
    }
    assert!(out.contains("multilog fd named \"qmail-smtpd\""));
    assert!(
        out.contains("after 6 failures within 1h, for 1h"),
        "dovecot thresholds: {out}"
    );
}

#[test]
fn check_names_file_key_and_fix_for_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[jails.dovecot]\njournal = [\"_SYSTEMD_UNIT=dovecot.service\"]\nmaxretry = \"six\"\nfindtme = \"1h\"\n",
    )
    .unwrap();
    let o = banjo(&["--config", cfg.to_str().unwrap(), "check"]);
    assert_eq!(o.status.code(), Some(78), "EX_CONFIG");
    let e = stderr(&o);
    assert!(e.contains("config.toml: jails.dovecot.maxretry = \"six\""), "{e}");
    assert!(e.contains("did you mean `findtime`"), "{e}");
}

/// `banjo check` reads the list files as the daemon would: entries counted, each bad line and
/// a file it cannot read a warning (the daemon skips them), never a refusal.
#[test]
fn check_reads_list_files_and_warns_of_bad_lines() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("drop.txt");
    std::fs::write(&list, "; DROP\n192.0.2.0/24 ; SBL1\nbogus\n2001:db8::/32\n").unwrap();
    let missing = dir.path().join("missing.txt");
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[blocklist]\nfiles = [\"{}\", \"{}\"]\n[jails.sshd]\njournal = [\"_SYSTEMD_UNIT=ssh.service\"]\n\
             ignoreip = [\"file:{}\"]\nipv6_prefix = 56\n",
            list.display(),
            missing.display(),
            list.display()
        ),
    )
    .unwrap();
    let o = banjo(&["--config", cfg.to_str().unwrap(), "check"]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(out.contains("drop.txt ignores 2 address(es)"), "{out}");
    assert!(out.contains("drop.txt blocks 2 address(es)"), "{out}");
    assert!(out.contains("drop.txt:3: `bogus` skipped"), "{out}");
    assert!(
        out.contains("cannot read the address list") && out.contains("missing.txt"),
        "{out}"
    );
    assert!(out.contains("IPv6 counted and banned by /56"), "{out}");
    assert!(out.contains("3 warning(s)"), "{out}");
}

/// `banjo check` refuses what cannot work, each with file, key and reason: a ban longer than
/// nftables can time, a datepattern banjo does not understand (here in a fail2ban filter
/// file), a failregex with two address tags that can both match.
#[test]
fn check_refuses_what_cannot_work() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("app.conf");
    std::fs::write(
        &conf,
        "[Definition]\nfailregex = ^auth failed from <HOST>$\ndatepattern = ^%%Q %%Z\n",
    )
    .unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[filters.two]\nfailregex = [\"from <HOST> via <ADDR>\"]\n\
             [jails.app]\nfilter = {:?}\njournal = [\"SYSLOG_IDENTIFIER=app\"]\n\
             [jails.two]\njournal = [\"SYSLOG_IDENTIFIER=two\"]\n\
             [jails.long]\nfilter = \"two\"\njournal = [\"SYSLOG_IDENTIFIER=long\"]\nbantime = \"1000y\"\n",
            conf.display().to_string()
        ),
    )
    .unwrap();
    let o = banjo(&["--config", cfg.to_str().unwrap(), "check"]);
    assert_eq!(o.status.code(), Some(78), "EX_CONFIG: {}", stdout(&o));
    let e = stderr(&o);
    let file = cfg.display().to_string();
    assert!(
        e.contains(&format!("{file}: jails.app.filter"))
            && e.contains(&format!("{}: datepattern", conf.display())),
        "{e}"
    );
    assert!(e.contains("not one banjo understands"), "{e}");
    assert!(
        e.contains(&format!("{file}: jails.long.bantime = \"1000y\"")) && e.contains("584 years"),
        "{e}"
    );
    assert!(
        e.contains(&format!("{file}: filters.two.failregex")) && e.contains("two address tags"),
        "{e}"
    );
}

#[test]
fn check_on_missing_or_empty_config_explains() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let o = banjo(&["--config", missing.to_str().unwrap(), "check"]);
    assert_eq!(o.status.code(), Some(78));
    assert!(stderr(&o).contains("no such file"), "{}", stderr(&o));
    let empty = dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let o = banjo(&["--config", empty.to_str().unwrap(), "check"]);
    assert_eq!(o.status.code(), Some(78));
    assert!(stderr(&o).contains("no enabled jails"), "{}", stderr(&o));
}

#[test]
fn run_with_a_config_that_does_not_validate_exits_78_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "[jails.dovecot]\njournal = [\"_SYSTEMD_UNIT=dovecot.service\"]\nmaxretry = \"six\"\n",
    )
    .unwrap();
    let o = banjo(&["--config", cfg.to_str().unwrap(), "run", "--log", "stderr"]);
    assert_eq!(
        o.status.code(),
        Some(78),
        "EX_CONFIG, so systemd does not restart it"
    );
    assert!(stderr(&o).contains("jails.dovecot.maxretry"), "{}", stderr(&o));
    let o = banjo(&["--help"]);
    assert!(stdout(&o).contains("78"), "the exit codes are in --help");
}

#[test]
fn version_and_usage() {
    let o = banjo(&["--version"]);
    assert!(stdout(&o).starts_with("banjo "));
    let o = banjo(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

/// banjo.toml(5), generated from the config reference: man renders it without a warning
/// (groff's every warning on), and it names every section and a key of each.
#[test]
fn the_config_man_page_renders_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let o = banjo(&["generate", "config-man", dir.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = dir.path().join("banjo.toml.5");
    let Ok(man) = Command::new("man")
        .args(["--warnings=w", "-l"])
        .arg(&page)
        .env("MANWIDTH", "80")
        .stdin(Stdio::null())
        .output()
    else {
        eprintln!("SKIP: no man (apt-get install man-db)");
        return;
    };
    assert!(
        man.status.success() && man.stderr.is_empty(),
        "man -l banjo.toml.5: {}",
        stderr(&man)
    );
    // overstrike bold (X backspace X) as man writes it to a pipe: keep the last of each pair
    let mut text = String::new();
    for c in stdout(&man).chars() {
        if c == '\u{8}' {
            text.pop();
        } else {
            text.push(c);
        }
    }
    for want in [
        "[daemon]",
        "[defaults]",
        "[jails.NAME]",
        "[filters.NAME]",
        "maxretry",
        "read_group",
        "failregex",
    ] {
        assert!(text.contains(want), "{want} in\n{text}");
    }
}
