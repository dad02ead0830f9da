//! A `banjo run` under test: started inside a journal's mount namespace and a lab's network
//! namespace, with its own config file, state and runtime directories, and an sd_notify socket
//! the harness reads (READY=1, RELOADING=1, STOPPING=1, STATUS=…, WATCHDOG=1).
//! Signals, kill -9 and restarts with the same config and state are the test's to drive.
use std::ffi::OsString;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::journal::Journal;
use super::net::Netns;
use super::{dies_with_test, signal, temp_dir, wait_until};

/// How long banjo may take to exit after SIGTERM, or to die after SIGKILL.
const EXIT: Duration = Duration::from_secs(5);

/// One sd_notify datagram: its `KEY=VALUE` lines, in order.
#[derive(Debug, Clone)]
pub struct Notification {
    pub at: Instant,
    pub fields: Vec<(String, String)>,
}

impl Notification {
    /// The value of KEY, if the datagram has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the datagram says KEY=VALUE.
    pub fn says(&self, key: &str, value: &str) -> bool {
        self.get(key) == Some(value)
    }
}

/// The `KEY=VALUE` lines of an sd_notify datagram (lines without '=' are skipped).
pub fn parse_notification(datagram: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(datagram)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A bound unix datagram socket for NOTIFY_SOCKET; a thread stores every datagram received.
/// Drop stops the thread.
pub struct NotifySocket {
    path: PathBuf,
    received: Arc<Mutex<Vec<Notification>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl NotifySocket {
    /// Binds PATH (a filesystem socket, so it works across network namespaces).
    pub fn bind(path: &Path) -> NotifySocket {
        let socket = UnixDatagram::bind(path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
        socket.set_read_timeout(Some(super::POLL)).expect("read timeout");
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (received, stop) = (received.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                while !stop.load(Ordering::SeqCst) {
                    if let Ok(n) = socket.recv(&mut buf) {
                        let note = Notification {
                            at: Instant::now(),
                            fields: parse_notification(&buf[..n]),
                        };
                        received.lock().unwrap_or_else(|e| e.into_inner()).push(note);
                    }
                }
            })
        };
        NotifySocket {
            path: path.to_path_buf(),
            received,
            stop,
            thread: Some(thread),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Everything received so far, oldest first.
    pub fn all(&self) -> Vec<Notification> {
        self.received.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many datagrams have arrived so far (an index to wait from).
    pub fn len(&self) -> usize {
        self.received.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The index of the first datagram at or after FROM that says KEY=VALUE, if any yet.
    pub fn find(&self, from: usize, key: &str, value: &str) -> Option<usize> {
        let all = self.received.lock().unwrap_or_else(|e| e.into_inner());
        (from..all.len()).find(|&i| all[i].says(key, value))
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The binary under test: this crate's banjo, or $BANJO_TEST_BIN (e.g. an installed
/// /usr/sbin/banjo, to run the daemon tests against a package).
pub fn banjo_bin() -> String {
    std::env::var("BANJO_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_banjo").to_string())
}

/// A banjo daemon (or a stand-in for it) under test. Drop kills it and removes its directory.
/// Its directory T holds etc/config.toml, state/, run/, notify.sock and banjo.log (stdout and
/// stderr of every run, appended).
pub struct Banjo {
    dir: TempDir,
    program: Vec<OsString>,
    extra_env: Vec<(String, String)>,
    mount_ns: PathBuf,
    net_ns: PathBuf,
    journal_dir: PathBuf,
    notify: NotifySocket,
    child: Option<Child>,
    /// Index into the notifications where the current run's start.
    run_from: usize,
}

impl Banjo {
    /// Starts `banjo run --config T/etc/config.toml --log journal` in NS and JOURNAL's mount
    /// namespace. Does not wait: call [`Banjo::wait_ready`].
    pub fn start(ns: &Netns, journal: &Journal, config: &str) -> Banjo {
        Banjo::start_with(ns, journal, config, &[&banjo_bin()], &[])
    }

    /// Like [`Banjo::start`] with extra environment (e.g. WATCHDOG_USEC).
    pub fn start_with_env(ns: &Netns, journal: &Journal, config: &str, env: &[(&str, &str)]) -> Banjo {
        Banjo::start_with(ns, journal, config, &[&banjo_bin()], env)
    }

    /// Starts PROGRAM (argv prefix, e.g. ["python3", "fake.py"]) with banjo's arguments,
    /// environment and namespaces: the harness tests use a stand-in daemon this way.
    pub fn start_with(
        ns: &Netns,
        journal: &Journal,
        config: &str,
        program: &[&str],
        env: &[(&str, &str)],
    ) -> Banjo {
        let dir = temp_dir("bjt-daemon");
        for sub in ["etc", "state", "run"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("banjo dirs");
        }
        let notify = NotifySocket::bind(&dir.path().join("notify.sock"));
        let mut banjo = Banjo {
            program: program.iter().map(OsString::from).collect(),
            extra_env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            mount_ns: journal.mount_ns(),
            net_ns: ns.path(),
            journal_dir: journal.journal_dir(),
            notify,
            child: None,
            run_from: 0,
            dir,
        };
        banjo.write_config(config);
        banjo.spawn();
        banjo
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir().join("etc/config.toml")
    }

    /// STATE_DIRECTORY: kept across restarts.
    pub fn state_dir(&self) -> PathBuf {
        self.dir().join("state")
    }

    /// RUNTIME_DIRECTORY.
    pub fn runtime_dir(&self) -> PathBuf {
        self.dir().join("run")
    }

    /// Replaces the config file atomically (write and rename), e.g. before a SIGHUP.
    pub fn write_config(&self, text: &str) {
        let tmp = self.dir().join("etc/.config.toml.new");
        std::fs::write(&tmp, text).expect("write config");
        std::fs::rename(&tmp, self.config_path()).expect("rename config");
    }

    /// The current process's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("banjo was started").id()
    }

    /// The current run's exit status, if it has exited.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    pub fn is_running(&mut self) -> bool {
        self.child.is_some() && self.exit_status().is_none()
    }

    /// Every sd_notify datagram since the first start.
    pub fn notifications(&self) -> Vec<Notification> {
        self.notify.all()
    }

    /// The current run's sd_notify datagrams.
    pub fn run_notifications(&self) -> Vec<Notification> {
        self.notify.all().split_off(self.run_from)
    }

    /// The notify socket's index now: pass it to [`Banjo::wait_notify_from`] to wait for a
    /// message sent after this point.
    pub fn notify_mark(&self) -> usize {
        self.notify.len()
    }

    /// Polls until a datagram at or after FROM says KEY=VALUE; its index, or None on timeout or
    /// when the process exits first.
    pub fn wait_notify_from(
        &mut self,
        from: usize,
        key: &str,
        value: &str,
        timeout: Duration,
    ) -> Option<usize> {
        let mut found = None;
        wait_until(timeout, || {
            found = self.notify.find(from, key, value);
            found.is_some() || !self.is_running()
        });
        found.or_else(|| self.notify.find(from, key, value))
    }

    /// Waits for READY=1 from the current run; panics with the stderr and the journal's tail
    /// if it does not come (or the process exits first). Returns the time it took.
    pub fn wait_ready(&mut self, timeout: Duration) -> Duration {
        let started = Instant::now();
        if self
            .wait_notify_from(self.run_from, "READY", "1", timeout)
            .is_none()
        {
            panic!("banjo not ready within {timeout:?}\n{}", self.diagnostics());
        }
        started.elapsed()
    }

    /// Sends SIGHUP and waits for RELOADING=1 followed by READY=1; false if either is missing
    /// after `timeout`.
    pub fn reload(&mut self, timeout: Duration) -> bool {
        let mark = self.notify_mark();
        self.sighup();
        let Some(reloading) = self.wait_notify_from(mark, "RELOADING", "1", timeout) else {
            return false;
        };
        self.wait_notify_from(reloading + 1, "READY", "1", timeout)
            .is_some()
    }

    pub fn sighup(&self) {
        assert!(signal(self.pid(), libc::SIGHUP), "SIGHUP: banjo is gone");
    }

    /// SIGKILL, and waits until the process is gone.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            self.child = Some(child);
        }
    }

    /// SIGTERM, and waits up to 5 s for the exit; its status, or None (then it is killed).
    pub fn term(&mut self) -> Option<ExitStatus> {
        signal(self.pid(), libc::SIGTERM);
        let exited = wait_until(EXIT, || !self.is_running());
        if !exited {
            self.kill9();
            return None;
        }
        self.exit_status()
    }

    /// Starts banjo again with the same config, state and runtime directories and notify
    /// socket. The previous run must have exited (term() or kill9() first).
    pub fn restart(&mut self) {
        assert!(
            !self.is_running(),
            "restart: banjo still runs; term() or kill9() first"
        );
        self.spawn();
    }

    /// What banjo wrote to stdout and stderr, all runs.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir().join("banjo.log")).unwrap_or_default()
    }

    /// The journal entries banjo itself logged (SYSLOG_IDENTIFIER=banjo), short form.
    pub fn journal_log(&self) -> String {
        let out = Command::new("journalctl")
            .arg("-D")
            .arg(&self.journal_dir)
            .args([
                "--no-pager",
                "-q",
                "-o",
                "short-precise",
                "SYSLOG_IDENTIFIER=banjo",
            ])
            .stdin(Stdio::null())
            .output();
        out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Exit status, stderr, the journal's banjo records and the notifications: for messages.
    pub fn diagnostics(&mut self) -> String {
        let status = match self.exit_status() {
            Some(s) => match (s.code(), s.signal()) {
                (Some(code), _) => format!("exited with {code}"),
                (_, Some(sig)) => format!("killed by signal {sig}"),
                _ => format!("{s}"),
            },
            None => "running".into(),
        };
        let notes: Vec<String> = self
            .notifications()
            .iter()
            .map(|n| {
                n.fields
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        format!(
            "banjo: {status}\n--- stderr ---\n{}\n--- journal (SYSLOG_IDENTIFIER=banjo) ---\n{}\n--- sd_notify ---\n{}",
            self.stderr().trim_end(),
            self.journal_log().trim_end(),
            notes.join("\n")
        )
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir().join("banjo.log"))
            .expect("banjo.log");
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--mount={}", self.mount_ns.display()))
            .arg(format!("--net={}", self.net_ns.display()))
            .arg("--")
            .args(&self.program)
            .arg("run")
            .arg("--config")
            .arg(self.config_path())
            .args(["--log", "journal"])
            .env("STATE_DIRECTORY", self.state_dir())
            .env("RUNTIME_DIRECTORY", self.runtime_dir())
            .env("NOTIFY_SOCKET", self.notify.path())
            .env("RUST_BACKTRACE", "1")
            .env("TZ", "UTC");
        for var in [
            "LISTEN_FDS",
            "LISTEN_PID",
            "LISTEN_FDNAMES",
            "WATCHDOG_USEC",
            "WATCHDOG_PID",
            "JOURNAL_STREAM",
            "INVOCATION_ID",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(self.extra_env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        self.run_from = self.notify.len();
        // nsenter joins the mount and network namespaces and execs: the pid is banjo's own.
        self.child = Some(dies_with_test(&mut cmd).spawn().expect("start banjo"));
    }
}

impl Drop for Banjo {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
