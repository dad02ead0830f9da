//! How soon a failure logged to the journal is a ban in the kernel, and what that costs an
//! idle banjo (issue 12): a private journald, banjo in a network namespace, `nft monitor`
//! timing each element as the kernel announces it.
//!
//! journald tells readers about new entries only when its post-change timer fires, 250 ms
//! after the first write of a batch; banjo's hot window looks for entries every few ms after
//! the journal moved, so the failure that completes a burst is banned within milliseconds.
//! The latency bound is the issue's (50 ms, asserted on the median of several bursts so a
//! loaded machine's stray turn does not fail it); the idle bound is the loop's own timers.
//! Root needed; the tests skip, saying why, without it.
mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use common::daemon::Banjo;
use common::journal::Journal;
use common::net::{Lab, Netns};
use common::{dies_with_test, wait_until};

/// One jail, maxretry 5: a burst's fifth failure bans.
const CONFIG: &str = r#"
[defaults]
ignoreself = false

[jails.vpopmail]
filter = "vpopmail"
journal = ["SYSLOG_IDENTIFIER=vpopmail"]
ports = [25]
maxretry = 5
findtime = "10m"
bantime = "30s"
"#;

/// The issue's bound for a burst's banning failure, journal → kernel set.
const BURST_BAN: Duration = Duration::from_millis(50);
/// Longer than banjo's hot window (1 s) after journald's notice (250 ms) of the last entry
/// (banjo's own audit record of a ban, too): the journal is quiet again, the window shut.
/// A scenario's pause, not a wait for a condition.
const QUIET: Duration = Duration::from_secs(2);

/// Logs one vpopmail password failure from ADDR, as vchkpw writes it.
fn fail(journal: &Journal, addr: &str) {
    let message = format!("vchkpw-submission: password fail (pass: 'x') postmaster@example.org:{addr}");
    journal.send(&[("SYSLOG_IDENTIFIER", "vpopmail"), ("MESSAGE", &message)]);
}

/// `nft monitor new elements` in a namespace: each line with the moment it was read.
struct ElementMonitor {
    child: Child,
    lines: Receiver<(Instant, String)>,
}

impl ElementMonitor {
    fn start(ns: &Netns) -> ElementMonitor {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net={}", ns.path().display()))
            .args(["--", "nft", "monitor", "new", "elements"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = dies_with_test(&mut cmd).spawn().expect("start nft monitor");
        let stdout = child.stdout.take().expect("monitor stdout");
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send((Instant::now(), line)).is_err() {
                    return;
                }
            }
        });
        ElementMonitor { child, lines }
    }

    /// When the kernel announced ADDR's element, waiting at most `timeout`.
    fn added(&self, addr: &str, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let (at, line) = self.lines.recv_timeout(left).ok()?;
            if line.split([' ', ',', '{', '}']).any(|word| word == addr) {
                return Some(at);
            }
        }
    }
}

impl Drop for ElementMonitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every context switch of every thread of PID so far: each is a wake-up (or a preemption).
fn context_switches(pid: u32) -> u64 {
    let mut n = 0;
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    for task in tasks.flatten() {
        let Ok(status) = std::fs::read_to_string(task.path().join("status")) else {
            continue; // a thread that ended meanwhile
        };
        for line in status.lines() {
            if let Some(v) = line
                .strip_prefix("voluntary_ctxt_switches:")
                .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
            {
                n += v.trim().parse::<u64>().unwrap_or(0);
            }
        }
    }
    n
}

fn start(lab: &Lab, journal: &Journal) -> Banjo {
    let mut banjo = Banjo::start(&lab.server, journal, CONFIG);
    banjo.wait_ready(Duration::from_secs(10));
    assert!(
        wait_until(Duration::from_secs(10), || lab.server.has_table("inet", "banjo")),
        "no table\n{}",
        banjo.diagnostics()
    );
    banjo
}

#[test]
fn a_bursts_banning_failure_reaches_the_kernel_within_50ms() {
    skip_unless_capable!();
    let journal = Journal::start();
    let lab = Lab::new();
    let mut banjo = start(&lab, &journal);
    let monitor = ElementMonitor::start(&lab.server);
    // a first burst, not timed, proves the monitor listens before the timed ones start
    let warmup = lab.spare_attacker_ip(0);
    for _ in 0..5 {
        fail(&journal, &warmup);
    }
    assert!(
        monitor.added(&warmup, Duration::from_secs(10)).is_some(),
        "the warm-up burst was not banned\n{}",
        banjo.diagnostics()
    );
    let mut latencies = Vec::new();
    for b in 1..=7u8 {
        std::thread::sleep(QUIET);
        let addr = lab.spare_attacker_ip(b);
        // 5 failures 100 ms apart: the 5th bans; journald's notice of the first comes 250 ms
        // after it, so the fd alone would see the 5th (at 400 ms) only at about 550 ms
        for _ in 0..4 {
            fail(&journal, &addr);
            std::thread::sleep(Duration::from_millis(100));
        }
        let sent = Instant::now();
        fail(&journal, &addr);
        let Some(at) = monitor.added(&addr, Duration::from_secs(10)) else {
            panic!("burst {b} ({addr}) not banned\n{}", banjo.diagnostics());
        };
        latencies.push(at.saturating_duration_since(sent));
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    eprintln!("burst ban latencies, journal → kernel: {latencies:?}");
    assert!(
        median < BURST_BAN,
        "median {median:?} ≥ {BURST_BAN:?}: {latencies:?}\n{}",
        banjo.diagnostics()
    );
}

#[test]
fn an_idle_banjo_wakes_only_for_its_timers() {
    skip_unless_capable!();
    let journal = Journal::start();
    let lab = Lab::new();
    let mut banjo = start(&lab, &journal);
    // one entry banjo reads (not a failure) opens its hot window; past QUIET it must be shut
    journal.send(&[("SYSLOG_IDENTIFIER", "vpopmail"), ("MESSAGE", "nothing to see")]);
    std::thread::sleep(QUIET);
    let pid = banjo.pid();
    let (before, t0) = (context_switches(pid), Instant::now());
    std::thread::sleep(Duration::from_secs(5));
    let woke = context_switches(pid) - before;
    let per_s = woke as f64 / t0.elapsed().as_secs_f64();
    // the loop sleeps at most a second (table check, expiries, STATUS=); a hot window left
    // open would be 200 a second
    assert!(
        per_s <= 4.0,
        "{woke} context switches in {:?} ({per_s:.1}/s) with no log traffic\n{}",
        t0.elapsed(),
        banjo.diagnostics()
    );
}
