//! The daemon's real wiring (sources → filters → jails → ledger → firewall) without root: a
//! FIFO or a journal directory in, a recording firewall out. Each test starts a `Daemon` with
//! `Parts` of its own (firewall::Recording, a resolver it controls, no signals), turns its
//! loop from the test thread, and asserts on the changes the firewall was asked to make.
//! The same wiring against real nftables, journald and systemd is tests/daemon.rs (root).

mod common;

use std::fs::File;
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use banjo::addr::Target;
use banjo::ban::Change;
use banjo::daemon::{Daemon, Parts, Resolve, SystemResolver};
use banjo::firewall::{Call, Recording};
use banjo::source::journal::Location;
use tempfile::TempDir;

/// How long a change may take to reach the firewall (the loop sleeps at most a second).
const WAIT: Duration = Duration::from_secs(5);

fn target(text: &str) -> Target {
    text.parse().unwrap()
}

/// A daemon on a FIFO and a journal directory, in a directory of its own.
struct Pipeline {
    dir: TempDir,
    firewall: Recording,
    daemon: Daemon,
    fifo: File,
}

impl Pipeline {
    /// `jail` is the body of `[jails.app]` after its source (the FIFO is set here).
    fn start(jail: &str, resolver: Arc<dyn Resolve>) -> Pipeline {
        Pipeline::start_with(tempfile::tempdir().unwrap(), jail, resolver, Recording::new())
    }

    fn start_with(dir: TempDir, jail: &str, resolver: Arc<dyn Resolve>, firewall: Recording) -> Pipeline {
        Pipeline::start_filter(dir, "app", jail, resolver, firewall)
    }

    /// As `start_with`, with the jail's filter named (`"sshd"`: the built-in one).
    fn start_filter(
        dir: TempDir,
        filter: &str,
        jail: &str,
        resolver: Arc<dyn Resolve>,
        firewall: Recording,
    ) -> Pipeline {
        let d = dir.path();
        let fifo = d.join("app.fifo");
        if !fifo.exists() {
            assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        }
        let journal = d.join("journal");
        std::fs::create_dir_all(&journal).unwrap();
        let config = write_config(
            d,
            &format!(
                "[filters.app]\nfailregex = [\"auth failed from <HOST>\"]\n\n\
                 [jails.app]\nfilter = \"{filter}\"\nmultilog = \"{fifo}\"\nignoreself = false\n{jail}\n",
                fifo = fifo.display(),
            ),
        );
        let daemon = start_daemon(&config, &journal, resolver, firewall.clone());
        // banjo holds the FIFO open read-write: opening it to write does not block
        let fifo = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
        Pipeline {
            dir,
            firewall,
            daemon,
            fifo,
        }
    }

    fn log(&mut self, line: &str) {
        writeln!(self.fifo, "{line}").unwrap();
    }

    /// Turns the loop until the firewall holds a change that `wanted` accepts.
    fn turn_until(&mut self, what: &str, wanted: impl Fn(&Change) -> bool) -> Change {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(c) = self.firewall.changes().into_iter().find(|c| wanted(c)) {
                return c;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: not within {WAIT:?}; calls: {:?}",
                self.firewall.calls()
            );
            self.daemon.turn().unwrap();
        }
    }

    /// Turns the loop for `d` (something must not happen meanwhile).
    fn turn_for(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            self.daemon.turn().unwrap();
        }
    }
}

fn start_daemon(config: &Path, journal: &Path, resolver: Arc<dyn Resolve>, firewall: Recording) -> Daemon {
    let cfg = banjo::config::load(config).unwrap();
    let parts = Parts {
        firewall: Box::new(firewall),
        monitor: None,
        resolver,
        journal: Location::Directory(journal.to_path_buf()),
        socket: None,
        listen_fds: Vec::new(),
        signals: None,
    };
    Daemon::start(config, cfg, parts).unwrap()
}

/// Writes `dir/config.toml`: a `[daemon]` whose state and runtime live in `dir`, then `body`.
fn write_config(dir: &Path, body: &str) -> std::path::PathBuf {
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\nstate_dir = \"{}\"\nruntime_dir = \"{}\"\n\n{body}",
            dir.join("state").display(),
            dir.join("run").display(),
        ),
    )
    .unwrap();
    config
}

/// Turns the loop until the firewall was asked for anything (or WAIT passed), then `extra`
/// turns more, so that what would wrongly follow has its chance too.
fn turn_until_changed(daemon: &mut Daemon, firewall: &Recording, extra: usize) {
    let deadline = Instant::now() + WAIT;
    while firewall.changes().is_empty() && Instant::now() < deadline {
        daemon.turn().unwrap();
    }
    for _ in 0..extra {
        daemon.turn().unwrap();
    }
}

/// The targets the firewall was asked to add, in order.
fn added_targets(firewall: &Recording) -> Vec<Target> {
    firewall
        .changes()
        .iter()
        .filter(|c| c.is_add())
        .map(Change::target)
        .collect()
}

fn added(jail: &str, t: Target) -> impl Fn(&Change) -> bool {
    let jail = jail.to_string();
    move |c| matches!(c, Change::Add { jail: j, target, .. } if *j == jail && *target == t)
}

fn removed(jail: &str, t: Target) -> impl Fn(&Change) -> bool {
    let jail = jail.to_string();
    move |c| matches!(c, Change::Remove { jail: j, target } if *j == jail && *target == t)
}

#[test]
fn fifo_failures_reach_the_firewall_as_one_add_with_the_bantime() {
    let mut p = Pipeline::start("maxretry = 3\nbantime = \"10m\"", Arc::new(SystemResolver));
    assert!(
        matches!(p.firewall.calls()[..], [Call::Apply(_), Call::Reconcile(_)]),
        "start-up applies the layout and restores the (empty) ledger: {:?}",
        p.firewall.calls()
    );
    let a = target("192.0.2.7");
    p.log("auth failed from 192.0.2.7");
    p.log("auth failed from 192.0.2.7");
    p.turn_for(Duration::from_millis(300));
    assert!(
        p.firewall.changes().is_empty(),
        "two of three failures ban no one"
    );
    p.log("noise that no failregex matches");
    p.log("auth failed from 192.0.2.7");
    let ban = p.turn_until("the ban", added("app", a));
    let Change::Add { timeout, .. } = ban else {
        unreachable!()
    };
    let timeout = timeout.expect("a ban with a bantime has a timeout");
    assert!(
        timeout <= Duration::from_secs(600) && timeout > Duration::from_secs(590),
        "{timeout:?}"
    );
    assert_eq!(p.firewall.holds("app", a), Some(Some(timeout)));
    assert_eq!(p.daemon.ledger().len(), 1);
}

/// Answers `slow.example` only after the test opens the gate; counts the lookups.
#[derive(Default)]
struct SlowDns {
    open: Mutex<bool>,
    opened: Condvar,
    asked: Mutex<Vec<String>>,
}

impl SlowDns {
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

impl Resolve for SlowDns {
    fn resolve(&self, name: &str) -> Vec<IpAddr> {
        self.asked.lock().unwrap().push(name.to_string());
        let open = self.open.lock().unwrap();
        drop(self.opened.wait_while(open, |open| !*open).unwrap());
        vec!["198.51.100.99".parse().unwrap()]
    }
}

#[test]
fn a_slow_resolver_does_not_delay_the_ban_of_another_address() {
    let dns = Arc::new(SlowDns::default());
    let mut p = Pipeline::start("maxretry = 2\nbantime = \"10m\"\nusedns = \"yes\"", dns.clone());
    p.log("auth failed from slow.example");
    p.log("auth failed from slow.example");
    p.log("auth failed from 192.0.2.8");
    p.log("auth failed from 192.0.2.8");
    p.turn_until(
        "the ban of the address that needs no lookup",
        added("app", target("192.0.2.8")),
    );
    assert_eq!(
        dns.asked.lock().unwrap().first().map(String::as_str),
        Some("slow.example")
    );
    assert!(
        p.firewall.holds("app", target("198.51.100.99")).is_none(),
        "the host's failures wait for its addresses"
    );
    dns.open();
    p.turn_until(
        "the host's ban once it resolved",
        added("app", target("198.51.100.99")),
    );
}

#[test]
fn a_ban_expires_as_a_remove_and_a_restart_adopts_what_the_kernel_holds() {
    let mut p = Pipeline::start("maxretry = 1\nbantime = \"1s\"", Arc::new(SystemResolver));
    let a = target("192.0.2.9");
    p.log("auth failed from 192.0.2.9");
    p.turn_until("the ban", added("app", a));
    p.turn_until("its end", removed("app", a));
    assert_eq!(p.firewall.holds("app", a), None);
    assert!(p.daemon.ledger().is_empty());

    // a ban the kernel holds and the ledger does not (banjo killed before its save)
    let firewall = p.firewall.clone();
    let Pipeline { dir, daemon, .. } = p;
    drop(daemon);
    let b = target("192.0.2.10");
    firewall.insert("app", b, Some(Duration::from_secs(300)));
    let p = Pipeline::start_with(
        dir,
        "maxretry = 1\nbantime = \"1s\"",
        Arc::new(SystemResolver),
        firewall,
    );
    let ban = p.daemon.ledger().get("app", &b).expect("adopted");
    assert_eq!((ban.failures, ban.count), (0, 0));
    let restored = p.firewall.calls().into_iter().rev().find_map(|c| match c {
        Call::Reconcile(wanted) => Some(wanted),
        _ => None,
    });
    assert!(
        restored.is_some_and(|w| w.iter().any(added("app", b))),
        "the adopted ban is in the restore"
    );
}

/// The kernel refuses one element (a set that is full): that ban is left out alone, the
/// other bans of the same batch go in, the ledger keeps it marked NOT blocked, and the retry
/// job puts it in once the kernel takes it.
#[test]
fn one_refused_element_never_keeps_the_others_out() {
    let firewall = Recording::new();
    let (a, b, c) = (target("192.0.2.31"), target("192.0.2.32"), target("192.0.2.33"));
    firewall.refuse("app", b, libc::ENFILE);
    let mut p = Pipeline::start_with(
        tempfile::tempdir().unwrap(),
        "maxretry = 1\nbantime = \"10m\"",
        Arc::new(SystemResolver),
        firewall,
    );
    for addr in ["192.0.2.31", "192.0.2.32", "192.0.2.33"] {
        p.log(&format!("auth failed from {addr}"));
    }
    p.turn_until("the third ban", added("app", c));
    let batch = p
        .firewall
        .calls()
        .into_iter()
        .find_map(|call| match call {
            Call::Change(changes) if changes.iter().any(added("app", b)) => Some(changes),
            _ => None,
        })
        .expect("the refused ban was sent");
    assert!(
        batch.iter().any(added("app", a)) && batch.iter().any(added("app", c)),
        "one batch: {batch:?}"
    );
    assert!(p.firewall.holds("app", a).is_some() && p.firewall.holds("app", c).is_some());
    assert_eq!(p.firewall.holds("app", b), None, "refused: not in the set");
    let ledger = p.daemon.ledger();
    assert_eq!(ledger.len(), 3, "a refused ban is still a ban");
    let why = ledger
        .get("app", &b)
        .and_then(|ban| ban.refused().map(str::to_owned));
    assert!(
        why.as_deref().is_some_and(|w| w.contains("full")),
        "marked NOT blocked with the kernel's reason: {why:?}"
    );
    assert!(ledger.get("app", &a).is_some_and(|ban| ban.refused().is_none()));

    // the set has room again: the retry job (every 10 s) puts it in and clears the mark
    p.firewall.accept("app", b);
    let deadline = Instant::now() + Duration::from_secs(15);
    while p.firewall.holds("app", b).is_none() {
        assert!(Instant::now() < deadline, "not retried within 15 s");
        p.daemon.turn().unwrap();
    }
    let turned = Instant::now();
    while p
        .daemon
        .ledger()
        .get("app", &b)
        .is_some_and(|ban| ban.refused().is_some())
    {
        assert!(turned.elapsed() < WAIT, "the mark stays after the kernel took it");
        p.daemon.turn().unwrap();
    }
}

#[test]
fn journal_directory_entries_reach_the_firewall() {
    let dir = tempfile::tempdir().unwrap();
    // two failures of one address and one of another
    let entries: Vec<Vec<(&str, String)>> = ["192.0.2.20", "192.0.2.20", "192.0.2.21"]
        .iter()
        .map(|addr| {
            vec![
                ("_HOSTNAME", "mx1".to_string()),
                ("SYSLOG_IDENTIFIER", "app".to_string()),
                ("_PID", "7".to_string()),
                ("MESSAGE", format!("auth failed from {addr}")),
            ]
        })
        .collect();
    let Some(journal) = journal_of(dir.path(), &entries) else {
        return;
    };
    let firewall = Recording::new();
    let config = write_config(
        dir.path(),
        "[filters.app]\nfailregex = [\"auth failed from <HOST>\"]\n\n\
             [jails.app]\nfilter = \"app\"\njournal = [\"SYSLOG_IDENTIFIER=app\"]\nignoreself = false\n\
             maxretry = 2\nfindtime = \"10m\"\nbantime = \"1h\"\n",
    );
    let mut daemon = start_daemon(&config, &journal, Arc::new(SystemResolver), firewall.clone());
    turn_until_changed(&mut daemon, &firewall, 0);
    assert_eq!(
        added_targets(&firewall),
        [target("192.0.2.20")],
        "the address with two failures, not the one with one"
    );
}

/// One sshd connection's lines as the journal's syslog head gives them (`mx1 sshd[PID]: `).
fn sshd(pid: u32, message: &str) -> String {
    format!("mx1 sshd[{pid}]: {message}")
}

/// The built-in sshd filter ties a connection's lines by pid: "Disconnecting: Too many
/// authentication failures" names no address and counts for the one its connection's
/// "Connection from" line named; that line and "Connection closed" are context, never
/// failures, however often they come.
#[test]
fn fifo_sshd_multi_line_failure_bans_the_address_of_its_connection() {
    let mut p = Pipeline::start_filter(
        tempfile::tempdir().unwrap(),
        "sshd",
        "maxretry = 2\nbantime = \"10m\"",
        Arc::new(SystemResolver),
        Recording::new(),
    );
    let (bad, quiet) = (target("192.0.2.40"), target("192.0.2.41"));
    for round in 0..3 {
        // two connections open at once: the failure must go to its own connection's address
        let (q, b) = (100 + 2 * round, 101 + 2 * round);
        p.log(&sshd(
            q,
            "Connection from 192.0.2.41 port 5022 on 198.51.100.1 port 22",
        ));
        p.log(&sshd(
            b,
            "Connection from 192.0.2.40 port 6022 on 198.51.100.1 port 22",
        ));
        if round < 2 {
            p.log(&sshd(
                b,
                "Disconnecting: Too many authentication failures [preauth]",
            ));
        }
        p.log(&sshd(q, "Connection closed by 192.0.2.41 port 5022 [preauth]"));
    }
    p.turn_until("the ban of the connection's address", added("app", bad));
    p.turn_for(Duration::from_millis(300));
    assert_eq!(
        p.firewall.holds("app", quiet),
        None,
        "context lines are not failures"
    );
    assert_eq!(p.daemon.ledger().len(), 1);
    let ban = p.daemon.ledger().get("app", &bad).expect("banned");
    assert_eq!(ban.failures, 2, "one failure per Disconnecting line");
}

/// The memory is bounded per source: past the cap the oldest connection goes, and
/// `banjo status JAIL` counts it.
#[test]
fn fifo_sshd_connections_are_capped_and_evictions_counted() {
    use banjo::control::Handler;
    let mut p = Pipeline::start_filter(
        tempfile::tempdir().unwrap(),
        "sshd",
        "maxretry = 2",
        Arc::new(SystemResolver),
        Recording::new(),
    );
    let cap = banjo::filter::multiline::IDS_PER_FILTER;
    let extra = 10;
    for pid in 0..(cap + extra) as u32 {
        p.log(&sshd(
            10_000 + pid,
            "Connection from 192.0.2.42 port 5022 on 198.51.100.1 port 22",
        ));
        if pid % 200 == 199 {
            // the FIFO holds 64 KiB: let banjo read before the writer blocks
            p.daemon.turn().unwrap();
        }
    }
    let deadline = Instant::now() + WAIT;
    loop {
        let m = p
            .daemon
            .jail_status("app")
            .unwrap()
            .multiline
            .expect("sshd spans lines");
        if m.evicted == extra as u64 {
            assert_eq!(m.connections, cap);
            break;
        }
        assert!(Instant::now() < deadline, "evictions not counted: {m:?}");
        p.daemon.turn().unwrap();
    }
    assert!(p.firewall.changes().is_empty(), "context lines ban no one");
    // a filter that spans no lines reports nothing
    let plain = Pipeline::start("", Arc::new(SystemResolver));
    assert_eq!(plain.daemon.jail_status("app").unwrap().multiline, None);
}

/// A journal directory made by systemd-journal-remote from `entries` (fields of one entry
/// each, a second apart, ending a minute ago); None without systemd-journal-remote.
fn journal_of(dir: &Path, entries: &[Vec<(&str, String)>]) -> Option<std::path::PathBuf> {
    let Some(remote) = common::journal::journal_remote() else {
        eprintln!("SKIP: systemd-journal-remote is not installed (make deps installs it)");
        return None;
    };
    let journal = dir.join("journal");
    std::fs::create_dir_all(&journal).unwrap();
    let t = (jiff::Timestamp::now().as_microsecond() - 60_000_000) as u64 - entries.len() as u64 * 1_000_000;
    let mut export = String::new();
    for (i, fields) in entries.iter().enumerate() {
        export.push_str(&format!(
            "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n",
            t + i as u64 * 1_000_000,
            1_000_000 + i as u64
        ));
        for (k, v) in fields {
            export.push_str(&format!("{k}={v}\n"));
        }
        export.push('\n');
    }
    let export_file = dir.join("entries.export");
    std::fs::write(&export_file, export).unwrap();
    let made = Command::new(remote)
        .arg(format!("--output={}", journal.join("entries.journal").display()))
        .arg(&export_file)
        .status()
        .unwrap();
    assert!(made.success());
    Some(journal)
}

/// The same on the journal: the syslog head banjo builds from _HOSTNAME, SYSLOG_IDENTIFIER
/// and SYSLOG_PID names the connection, and an entry of another jail's match (same text,
/// another identifier) is not seen by this jail's multi-line memory.
#[test]
fn journal_sshd_multi_line_failure_bans_the_address_of_its_connection() {
    let dir = tempfile::tempdir().unwrap();
    let entry = |ident: &str, pid: u32, message: &str| {
        vec![
            ("_HOSTNAME", "mx1".to_string()),
            ("SYSLOG_IDENTIFIER", ident.to_string()),
            ("SYSLOG_PID", pid.to_string()),
            ("MESSAGE", message.to_string()),
        ]
    };
    let from = |addr: &str| format!("Connection from {addr} port 5022 on 198.51.100.1 port 22");
    let too_many = "Disconnecting: Too many authentication failures [preauth]";
    let mut entries = Vec::new();
    for pid in [200, 201] {
        entries.push(entry("sshd", pid, &from("192.0.2.50")));
        entries.push(entry("sshd", pid + 10, &from("192.0.2.51")));
        entries.push(entry("sshd", pid, too_many));
        entries.push(entry(
            "sshd",
            pid + 10,
            "Connection closed by 192.0.2.51 port 5022 [preauth]",
        ));
        // another service's entries, not this jail's: its connection must not be sshd's
        entries.push(entry("other", pid + 20, &from("192.0.2.52")));
        entries.push(entry("sshd", pid + 20, too_many));
    }
    let Some(journal) = journal_of(dir.path(), &entries) else {
        return;
    };
    let firewall = Recording::new();
    let config = write_config(
        dir.path(),
        "[jails.sshd]\nfilter = \"sshd\"\njournal = [\"SYSLOG_IDENTIFIER=sshd\"]\nignoreself = false\n\
             maxretry = 2\nfindtime = \"10m\"\nbantime = \"1h\"\n",
    );
    let mut daemon = start_daemon(&config, &journal, Arc::new(SystemResolver), firewall.clone());
    // the entries are all read in the first turns; a few more find nothing else
    turn_until_changed(&mut daemon, &firewall, 3);
    assert_eq!(
        added_targets(&firewall),
        [target("192.0.2.50")],
        "the address of the connections that failed; not the one with context lines only, \
         not the one another identifier logged"
    );
}
