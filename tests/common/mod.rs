//! Shared harness for integration tests that bring real parts up: a private systemd-journald
//! ([`journal`]), network namespaces with veth links, bridges and TCP traffic ([`net`]), and a
//! running `banjo run` watched over its sd_notify socket ([`daemon`]), and a `banjo notify`
//! with a fake sendmail ([`notify`]).
//!
//! Everything it creates is removed by Drop guards, which also run when a test panics; child
//! processes are started with a parent-death signal, so they die even if the test process is
//! killed. Names carry the test process's pid and a counter, so tests run in parallel.
//! Use it from an integration test with `mod common;`.
#![allow(dead_code)] // each test binary uses its own part of the harness

pub mod daemon;
pub mod journal;
pub mod net;
pub mod notify;

use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How often [`wait_until`] and [`holds_for`] look again.
pub const POLL: Duration = Duration::from_millis(20);

/// The tools the harness runs; a missing one skips the test with its name.
const TOOLS: &[&str] = &[
    "/lib/systemd/systemd-journald",
    "journalctl",
    "unshare",
    "nsenter",
    "ip",
    "nft",
];

/// Why this machine cannot run the harness's tests (not root, a tool missing), if it cannot.
pub fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root (network namespaces, nftables, a private journald)".into());
    }
    TOOLS
        .iter()
        .find(|tool| !on_path(tool))
        .map(|tool| format!("needs {tool}"))
}

fn on_path(tool: &str) -> bool {
    if tool.contains('/') {
        return Path::new(tool).exists();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(tool).exists()))
}

/// Returns from the test, saying why, when the machine cannot run it.
#[macro_export]
macro_rules! skip_unless_capable {
    () => {
        if let Some(reason) = $crate::common::skip_reason() {
            eprintln!("skipped: {reason}");
            return;
        }
    };
}

/// Polls `condition` every 20 ms until it holds (true) or `timeout` passes (false).
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// Polls `condition` every 20 ms for `duration`: true if it held every time.
pub fn holds_for(duration: Duration, mut condition: impl FnMut() -> bool) -> bool {
    !wait_until(duration, || !condition())
}

/// A name no other test (in this process or another) uses: `bjt<pid>-<n><role>`.
/// [`net::Netns`] relies on this shape to clean up after killed test processes.
pub fn unique_name(role: &str) -> String {
    format!("{PREFIX}{}-{}{role}", std::process::id(), next_serial())
}

/// The prefix of every namespace name the harness creates.
pub const PREFIX: &str = "bjt";

/// A number unique in this process, from 1.
pub fn next_serial() -> u32 {
    static SERIAL: AtomicU32 = AtomicU32::new(1);
    SERIAL.fetch_add(1, Ordering::Relaxed)
}

/// Makes the child get SIGKILL when the thread that started it ends, so a journald, a banjo or
/// a namespace holder never outlives a test that was killed before its Drop guards ran.
/// The signal survives exec (not setuid), so it holds through unshare/nsenter/sh chains.
pub fn dies_with_test(cmd: &mut Command) -> &mut Command {
    // SAFETY: the closure runs between fork and exec and only calls prctl, which is
    // async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// Runs `cmd` to completion; panics with its stderr if it cannot start or fails.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    out
}

/// Sends `signal` to `pid`; false if the process is gone.
pub fn signal(pid: u32, signal: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill has no memory effects; pid is a child this harness started and still owns.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// Reads a file this harness wrote (a config fixture, a log), panicking with the path.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A temp dir `<tmp>/<what>-<pid>-XXXXXX`, removed on Drop. Dirs of earlier test processes
/// that were killed before their Drop ran are removed first (journal files take 8 MB each).
pub fn temp_dir(what: &str) -> tempfile::TempDir {
    sweep_stale_temp_dirs();
    tempfile::Builder::new()
        .prefix(&format!("{what}-{}-", std::process::id()))
        .tempdir()
        .unwrap_or_else(|e| panic!("temp dir for {what}: {e}"))
}

/// The prefixes [`temp_dir`] is called with.
const TEMP_PREFIXES: &[&str] = &["bjt-journal", "bjt-daemon", "bjt-notify"];

fn sweep_stale_temp_dirs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = TEMP_PREFIXES.iter().find_map(|p| {
                let rest = name.strip_prefix(p)?.strip_prefix('-')?;
                rest.split_once('-')?.0.parse::<u32>().ok()
            });
            if pid.is_some_and(|pid| !process_exists(pid)) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    });
}

/// Whether a process with this pid exists (it may be another process that reused the pid:
/// then its leftovers are kept, which is the safe side).
pub fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// A fixture under tests/data/.
pub fn fixture(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(rel)
}
