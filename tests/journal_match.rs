//! The built-in filters' journal matches (their `journalmatch`, a jail's default): which
//! entries reach which jail, with and without `_SYSTEMD_UNIT`, through banjo's own journal
//! reader. Two parts:
//! - a fixture journal written by systemd-journal-remote (which keeps every field as written,
//!   trusted ones too): the routing of banjo's reader, checked against what sd-journal itself
//!   (journalctl) selects for the same matches;
//! - a private journald and the daemon: a line `logger -t sshd-session` sent by a non-root user
//!   (journald stamps its real `_UID`) is never counted, the same line from root is.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use banjo::config::{self, Config};
use banjo::filter::{Filter, Outcome};
use banjo::source::journal::{Follower, Location, Route, Start};
use common::daemon::Banjo;
use common::journal::{Journal, journal_remote};
use common::net::Lab;
use common::{holds_for, temp_dir};

/// tests/data/journal/match.export (comments removed) as a journal file in `dir`.
fn fixture_journal(remote: &Path, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(common::fixture("journal/match.export")).unwrap();
    let export: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip_while(|l| l.is_empty())
        .collect();
    let export_path = dir.join("match.export");
    std::fs::write(&export_path, export.join("\n") + "\n").unwrap();
    let file = dir.join("match.journal");
    let out = Command::new(remote)
        .arg(format!("--output={}", file.display()))
        .arg(&export_path)
        .output()
        .expect("run systemd-journal-remote");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    file
}

/// The jails of a config with no `journal =`: each reads its filter's built-in match.
fn default_jails() -> Config {
    let text = "[jails.sshd]\n[jails.dovecot]\n";
    config::from_toml(Path::new("/etc/banjo/config.toml"), text).unwrap()
}

fn matches_of(cfg: &Config, jail: &str) -> Vec<String> {
    let jail = cfg.jail(jail).unwrap();
    assert_eq!(jail.journal_from, config::JournalFrom::Filter);
    jail.journal.iter().map(ToString::to_string).collect()
}

/// Reads the whole journal in `dir` with one follower for `jails`; per jail, the addresses its
/// filter found in the entries routed to it, in journal order.
fn counted(cfg: &Config, dir: &Path, jails: &[&str]) -> Vec<Vec<String>> {
    let mut routes = Vec::new();
    let mut filters = Vec::new();
    for name in jails {
        routes.push(Route::new(&matches_of(cfg, name)).unwrap());
        filters.push(Filter::compile(&cfg.jail(name).unwrap().filter_def).unwrap());
    }
    let start = Start::Since(jiff::Timestamp::UNIX_EPOCH);
    let mut follower = Follower::open(&Location::Directory(dir.to_path_buf()), routes, &start).unwrap();
    let mut found = vec![Vec::new(); jails.len()];
    let (mut to, mut budget) = (Vec::new(), usize::MAX);
    while let Some(entry) = follower.next_entry(&mut to, &mut budget).unwrap() {
        for &i in &to {
            if let Outcome::Matched(m) = filters[i].check(&entry.text) {
                found[i].push(m.host.to_string());
            }
        }
    }
    found
}

fn addrs(cases: &[u32]) -> Vec<String> {
    cases.iter().map(|n| format!("192.0.2.{n}")).collect()
}

#[test]
fn sshd_counts_lines_without_systemd_unit_from_root_only() {
    let Some(remote) = journal_remote() else {
        eprintln!("SKIP: systemd-journal-remote is not installed (make deps installs it)");
        return;
    };
    let dir = temp_dir("bjt-match");
    fixture_journal(&remote, dir.path());
    let cfg = default_jails();
    let found = counted(&cfg, dir.path(), &["sshd", "dovecot"]);
    // cases 1-5 are sshd's; 6-9 are forged or not sshd's (see the fixture's comments)
    assert_eq!(found[0], addrs(&[1, 2, 3, 4, 5]), "sshd");
    assert_eq!(found[1], addrs(&[11, 12]), "dovecot");
    // one jail alone routes the same way
    assert_eq!(counted(&cfg, dir.path(), &["sshd"])[0], found[0]);
}

/// What sd-journal itself selects for a jail's matches (journalctl --file … MATCHES).
fn journalctl_selects(file: &Path, matches: &[String]) -> Vec<String> {
    let out = Command::new("journalctl")
        .arg(format!("--file={}", file.display()))
        .args(["-o", "cat", "--no-pager", "-q"])
        .args(matches)
        .output()
        .expect("run journalctl");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(" from ").nth(1).or_else(|| l.split("rip=").nth(1)))
        .map(|rest| rest.split([' ', ',']).next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn routing_agrees_with_sd_journals_own_selection() {
    let Some(remote) = journal_remote() else {
        eprintln!("SKIP: systemd-journal-remote is not installed (make deps installs it)");
        return;
    };
    let dir = temp_dir("bjt-match");
    let file = fixture_journal(&remote, dir.path());
    let cfg = default_jails();
    let found = counted(&cfg, dir.path(), &["sshd", "dovecot"]);
    assert_eq!(journalctl_selects(&file, &matches_of(&cfg, "sshd")), found[0]);
    assert_eq!(journalctl_selects(&file, &matches_of(&cfg, "dovecot")), found[1]);
}

#[test]
fn entries_no_jail_reads_spend_the_read_budget_too() {
    // banjo routes entries itself (no sd-journal matches): a long run of other services'
    // entries must still hand the loop back after each budget
    let Some(remote) = journal_remote() else {
        eprintln!("SKIP: systemd-journal-remote is not installed (make deps installs it)");
        return;
    };
    let dir = temp_dir("bjt-match");
    let file = fixture_journal(&remote, dir.path());
    let cfg = default_jails();
    let all = Command::new("journalctl")
        .arg(format!("--file={}", file.display()))
        .args(["-o", "cat", "--no-pager", "-q"])
        .output()
        .expect("run journalctl");
    let total = all.stdout.iter().filter(|&&b| b == b'\n').count();
    let route = Route::new(&matches_of(&cfg, "dovecot")).unwrap();
    let start = Start::Since(jiff::Timestamp::UNIX_EPOCH);
    let mut follower = Follower::open(
        &Location::Directory(dir.path().to_path_buf()),
        vec![route],
        &start,
    )
    .unwrap();
    let (mut to, mut reads, mut taken) = (Vec::new(), 0, 0);
    loop {
        let mut budget = 1;
        match follower.next_entry(&mut to, &mut budget).unwrap() {
            Some(_) => taken += 1,
            None if budget == 0 => {}
            None => break,
        }
        reads += 1;
        assert!(reads <= 10 * total, "the read never ends");
    }
    assert_eq!(taken, 2, "dovecot's two entries");
    assert!(total > 10, "the fixture has {total} entries");
    assert!(
        reads >= total,
        "{reads} reads of one entry each for {total} entries"
    );
}

/// `logger -t IDENT MESSAGE` through the private journal's syslog socket, as root or as
/// nobody (setpriv), from inside the journal's mount namespace.
fn logger(journal: &Journal, as_nobody: bool, ident: &str, message: &str) {
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--mount={}", journal.mount_ns().display()))
        .arg("--");
    if as_nobody {
        cmd.args([
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
        ]);
    }
    cmd.args([
        "logger",
        "--socket-errors=on",
        "-u",
        "/run/systemd/journal/dev-log",
        "-t",
        ident,
    ])
    .arg(message);
    let out = cmd.output().expect("run logger");
    assert!(
        out.status.success(),
        "logger: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn max_auth(addr: &str) -> String {
    format!("error: maximum authentication attempts exceeded for alice from {addr} port 50000 ssh2 [preauth]")
}

#[test]
fn forged_sshd_session_line_from_a_user_never_counts() {
    skip_unless_capable!();
    let journal = Journal::start();
    let lab = Lab::new();
    // No journal = on the jail: the sshd filter's built-in match. ignoreself = false: the
    // lab's addresses are this host's. maxretry 2, so three forged lines would be a ban.
    let config = "[defaults]\nignoreself = false\n\
                  [jails.sshd]\nmaxretry = 2\nfindtime = \"10m\"\nbantime = \"30s\"\nports = [22]\n";
    let mut banjo = Banjo::start(&lab.server, &journal, config);
    banjo.wait_ready(Duration::from_secs(10));
    let forged = "203.0.113.66";
    let real = lab.attacker_ip.clone();
    for _ in 0..3 {
        logger(&journal, true, "sshd-session", &max_auth(forged));
    }
    let uids = journal
        .wait_for_entries(&["SYSLOG_IDENTIFIER=sshd-session"], 3, Duration::from_secs(5))
        .expect("the forged lines are in the journal");
    assert!(
        uids.iter()
            .all(|e| common::journal::field(e, "_UID").as_deref() == Some("65534")),
        "journald stamps the writer's real uid"
    );
    // root's lines come after the forged ones: once they ban, the forged ones were read
    for _ in 0..2 {
        logger(&journal, false, "sshd-session", &max_auth(&real));
    }
    if lab
        .server
        .wait_banned("sshd-v4", &real, Duration::from_secs(5))
        .is_none()
    {
        panic!(
            "root's sshd-session lines did not ban {real}\n{}",
            banjo.diagnostics()
        );
    }
    assert!(
        holds_for(Duration::from_millis(500), || lab
            .server
            .ban_of("sshd-v4", forged)
            .is_none()),
        "a user's forged sshd-session lines banned {forged}\n{}",
        banjo.diagnostics()
    );
}
