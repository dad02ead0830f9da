//! A private systemd-journald per test, in a mount namespace of its own: writers and readers
//! started inside it (`nsenter --mount=…`) see its sockets and files at the real paths
//! (/run/systemd/journal/socket, /run/log/journal), and nothing reaches the host's journal.
//!
//! The namespace is held by a `sleep infinity` started by `unshare`, which first bind-mounts
//! the test's directory D over the journal paths; journald runs in that namespace via
//! `nsenter`, so it can be stopped and started again (restart) without losing the namespace.
//! Layout of D (the host sees the same files under D):
//!   run-systemd/   → /run/systemd            (journal/socket, journal/stdout, …)
//!   run-log/       → /run/log                (journal/<machine-id>/system.journal)
//!   var-log-journal/ → /var/log/journal      (empty: Storage=volatile; hides the host's files)
//!   journald.conf  → /etc/systemd/journald.conf
//!   journald.log   journald's own messages (SYSTEMD_LOG_TARGET=console, so none go to kmsg)
//! /run/log is mounted rather than /run/log/journal because the host may have no
//! /run/log/journal to mount on (this VM has none), and the harness does not create it there.
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use super::{dies_with_test, signal, temp_dir, wait_until};

const JOURNALD: &str = "/lib/systemd/systemd-journald";
const JOURNALD_CONF: &str = "[Journal]\nStorage=volatile\nReadKMsg=no\nRateLimitBurst=0\n\
                             ForwardToSyslog=no\nForwardToWall=no\nForwardToKMsg=no\nForwardToConsole=no\n";
/// How long journald, or the namespace holder, may take to come up or go away.
const START: Duration = Duration::from_secs(5);

/// A running private journald; Drop stops it and removes its directory.
pub struct Journal {
    dir: TempDir,
    holder: Child,
    journald: Option<Child>,
}

impl Journal {
    /// Starts a namespace holder and a journald in it; returns once the native socket exists.
    pub fn start() -> Journal {
        let dir = temp_dir("bjt-journal");
        let d = dir.path();
        for sub in ["run-systemd/journal", "run-log/journal", "var-log-journal"] {
            std::fs::create_dir_all(d.join(sub)).expect("journal dirs");
        }
        std::fs::write(d.join("journald.conf"), JOURNALD_CONF).expect("journald.conf");
        let holder = start_holder(d);
        let mut journal = Journal {
            dir,
            holder,
            journald: None,
        };
        journal.start_journald();
        journal
    }

    /// The test's directory D (see the module comment for its layout).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The native-protocol socket, as the host sees it.
    pub fn socket(&self) -> PathBuf {
        self.dir().join("run-systemd/journal/socket")
    }

    /// The directory journalctl -D reads (the namespace's /run/log/journal).
    pub fn journal_dir(&self) -> PathBuf {
        self.dir().join("run-log/journal")
    }

    /// The mount namespace to start writers and readers in: `nsenter --mount=<this>`.
    pub fn mount_ns(&self) -> PathBuf {
        PathBuf::from(format!("/proc/{}/ns/mnt", self.holder.id()))
    }

    /// journald's pid (it changes on restart).
    pub fn journald_pid(&self) -> u32 {
        self.journald.as_ref().expect("journald runs").id()
    }

    /// Sends one entry over the native protocol, as sd_journal_send would. Values with a
    /// newline or a NUL use the binary form (name, newline, little-endian u64 length, value,
    /// newline).
    /// Trusted fields (`_SYSTEMD_UNIT`, `_PID`, …) are stamped by journald and cannot be set here.
    pub fn send(&self, fields: &[(&str, &str)]) {
        let datagram = native_datagram(fields);
        let socket = UnixDatagram::unbound().expect("datagram socket");
        socket
            .send_to(&datagram, self.socket())
            .unwrap_or_else(|e| panic!("send to {}: {e}", self.socket().display()));
    }

    /// Runs `journalctl -D <journal_dir> --no-pager -q ARGS` and returns its stdout; panics when
    /// journalctl fails (bad arguments, unreadable files).
    pub fn journalctl(&self, args: &[&str]) -> String {
        let out = Command::new("journalctl")
            .arg("-D")
            .arg(self.journal_dir())
            .args(["--no-pager", "-q"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run journalctl");
        assert!(
            out.status.success(),
            "journalctl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// The entries `journalctl -o json ARGS` returns (ARGS: matches like `JAIL=vpopmail`, options).
    pub fn entries(&self, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["-o", "json"];
        all.extend_from_slice(args);
        self.journalctl(&all)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("journalctl JSON ({e}): {l}")))
            .collect()
    }

    /// Polls until `journalctl -o json ARGS` returns at least `n` entries; returns them, or
    /// None after `timeout`.
    pub fn wait_for_entries(&self, args: &[&str], n: usize, timeout: Duration) -> Option<Vec<Value>> {
        let mut found = Vec::new();
        wait_until(timeout, || {
            found = self.entries(args);
            found.len() >= n
        })
        .then_some(found)
    }

    /// The last `n` entries in short form, for failure messages.
    pub fn tail(&self, n: usize) -> String {
        self.journalctl(&["-n", &n.to_string(), "-o", "short-precise"])
    }

    /// Stops journald and starts a new one in the same mount namespace (same files, same
    /// socket path); returns once the new socket exists. Entries already stored are kept.
    pub fn restart(&mut self) {
        self.stop_journald();
        self.start_journald();
    }

    fn start_journald(&mut self) {
        let socket = self.socket();
        // A stale socket from the previous journald would look ready.
        let _ = std::fs::remove_file(&socket);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir().join("journald.log"))
            .expect("journald.log");
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--mount={}", self.mount_ns().display()))
            .arg("--")
            .arg(JOURNALD)
            .env("SYSTEMD_LOG_TARGET", "console")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        let mut child = dies_with_test(&mut cmd).spawn().expect("start systemd-journald");
        let up = wait_until(START, || {
            socket.exists() || matches!(child.try_wait(), Ok(Some(_)))
        });
        if !up || !socket.exists() {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "journald did not come up within {START:?}: {}",
                std::fs::read_to_string(self.dir().join("journald.log")).unwrap_or_default()
            );
        }
        self.journald = Some(child);
    }

    fn stop_journald(&mut self) {
        if let Some(mut child) = self.journald.take() {
            signal(child.id(), libc::SIGTERM);
            if !wait_until(START, || matches!(child.try_wait(), Ok(Some(_)))) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        if let Some(mut child) = self.journald.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        // TempDir removes D; the bind mounts died with the namespace.
    }
}

/// `unshare --mount` a `sh` that bind-mounts D's directories and then becomes `sleep infinity`,
/// the process that keeps the namespace alive. Returns once it is `sleep` (mounts done).
fn start_holder(d: &Path) -> Child {
    const SCRIPT: &str = r#"
mount --bind "$1/run-systemd" /run/systemd
mount --bind "$1/run-log" /run/log
mount --bind "$1/var-log-journal" /var/log/journal
mount --bind "$1/journald.conf" /etc/systemd/journald.conf
exec sleep infinity
"#;
    for target in [
        "/run/systemd",
        "/run/log",
        "/var/log/journal",
        "/etc/systemd/journald.conf",
    ] {
        assert!(
            Path::new(target).exists(),
            "{target} is missing on this machine: the private journal mounts over it"
        );
    }
    let err = d.join("holder.err");
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-ec", SCRIPT, "sh"])
        .arg(d)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err).expect("holder.err"));
    let mut holder = dies_with_test(&mut cmd).spawn().expect("start unshare");
    let comm = format!("/proc/{}/comm", holder.id());
    let ready = wait_until(START, || {
        std::fs::read_to_string(&comm).is_ok_and(|c| c.trim() == "sleep")
            || matches!(holder.try_wait(), Ok(Some(_)))
    });
    if !ready || !matches!(holder.try_wait(), Ok(None)) {
        let _ = holder.kill();
        let _ = holder.wait();
        panic!(
            "the journal's mount namespace did not come up: {}",
            std::fs::read_to_string(&err).unwrap_or_default()
        );
    }
    holder
}

/// One native-protocol datagram: `KEY=VALUE\n`, or the binary form when VALUE has a newline
/// or a NUL (as sd_journal_send writes them).
pub fn native_datagram(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, value) in fields {
        out.extend_from_slice(key.as_bytes());
        if value.contains(['\n', '\0']) {
            out.push(b'\n');
            out.extend_from_slice(&(value.len() as u64).to_le_bytes());
            out.extend_from_slice(value.as_bytes());
        } else {
            out.push(b'=');
            out.extend_from_slice(value.as_bytes());
        }
        out.push(b'\n');
    }
    out
}

/// A field of a `journalctl -o json` entry as text (journalctl writes binary values as
/// arrays of bytes, decoded lossily here, and repeated fields as arrays: the first is taken).
pub fn field(entry: &Value, name: &str) -> Option<String> {
    match entry.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) if items.iter().all(Value::is_u64) => {
            let bytes: Vec<u8> = items
                .iter()
                .filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        // A field the entry has more than once: the first value.
        Value::Array(items) => items.first().and_then(|v| v.as_str()).map(str::to_string),
        other => Some(other.to_string()),
    }
}

/// systemd-journal-remote, which writes journal files from export-format fixtures keeping every
/// field as written (trusted ones too); None when it is not installed (`make deps` installs it).
pub fn journal_remote() -> Option<PathBuf> {
    [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}
