//! A `banjo notify` under test: started inside a private journal's mount namespace (so it
//! reads that journal as "the system journal"), with its own config, state directory and
//! sd_notify socket, and a fake sendmail that stores each mail it is given as a file.
//! Restarts (SIGTERM or kill -9) keep the state directory, as systemd's StateDirectory= does.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::daemon::{NotifySocket, banjo_bin};
use super::journal::Journal;
use super::{dies_with_test, signal, temp_dir, wait_until};

/// How long banjo-notify may take to exit after SIGTERM.
const EXIT: Duration = Duration::from_secs(10);

/// The fake sendmail: its arguments and stdin go to DIR/mail/<nanoseconds>.<pid>.eml.
/// With DIR/fail-next present, it fails once (exit 75, like a full queue) and removes it;
/// with DIR/hang-next, it hangs once (its pid in DIR/hung.pid) without storing the mail.
const SENDMAIL: &str = r#"#!/bin/sh
dir=$(dirname "$0")
if [ -e "$dir/fail-next" ]; then rm -f "$dir/fail-next"; cat > /dev/null; echo "queue full" >&2; exit 75; fi
if [ -e "$dir/hang-next" ]; then rm -f "$dir/hang-next"; echo $$ > "$dir/hung.pid"; exec sleep 60; fi
tmp="$dir/mail/.$$.tmp"
{ echo "X-Args: $*"; cat; } > "$tmp"
mv "$tmp" "$dir/mail/$(date +%s%N).$$.eml"
"#;

/// A banjo notify under test. Its directory T holds sendmail (the fake), mail/ (the mails
/// received), etc/config.toml, state/, notify.sock and notify.log (stderr of every run).
pub struct Notifier {
    dir: TempDir,
    mount_ns: PathBuf,
    notify: NotifySocket,
    child: Option<Child>,
    run_from: usize,
}

impl Notifier {
    /// Writes CONFIG (with `@DIR@` replaced by T) and starts banjo notify; does not wait.
    pub fn start(journal: &Journal, config: &str) -> Notifier {
        let dir = temp_dir("bjt-notify");
        for sub in ["etc", "state", "mail"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("notify dirs");
        }
        write_script(&dir.path().join("sendmail"), SENDMAIL);
        let notify = NotifySocket::bind(&dir.path().join("notify.sock"));
        let mut n = Notifier {
            mount_ns: journal.mount_ns(),
            notify,
            child: None,
            run_from: 0,
            dir,
        };
        n.write_config(config);
        n.spawn();
        n
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The fake sendmail's path.
    pub fn sendmail(&self) -> PathBuf {
        self.dir().join("sendmail")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir().join("state")
    }

    /// Replaces the config (`@DIR@` → T), e.g. before a SIGHUP.
    pub fn write_config(&self, config: &str) {
        let text = config.replace("@DIR@", &self.dir().display().to_string());
        std::fs::write(self.dir().join("etc/config.toml"), text).expect("write config");
    }

    /// The mails received so far, oldest first.
    pub fn mails(&self) -> Vec<String> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir().join("mail"))
            .expect("mail dir")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| std::fs::read_to_string(p).expect("read mail"))
            .collect()
    }

    /// Polls until at least `n` mails are there; returns them, or panics with the log.
    pub fn wait_mails(&self, n: usize, timeout: Duration) -> Vec<String> {
        if !wait_until(timeout, || self.mails().len() >= n) {
            panic!(
                "{} mail(s), not {n}, within {timeout:?}\n{}",
                self.mails().len(),
                self.diagnostics()
            );
        }
        self.mails()
    }

    /// Waits for READY=1 of the current run; panics with the log if it does not come.
    pub fn wait_ready(&mut self, timeout: Duration) {
        let from = self.run_from;
        let ok = wait_until(timeout, || {
            self.notify.find(from, "READY", "1").is_some() || !self.is_running()
        });
        if !ok || self.notify.find(from, "READY", "1").is_none() {
            panic!(
                "banjo notify not ready within {timeout:?}\n{}",
                self.diagnostics()
            );
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("started").id()
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGTERM and wait for the exit; its exit code (None: it had to be killed).
    pub fn term(&mut self) -> Option<i32> {
        signal(self.pid(), libc::SIGTERM);
        let exited = wait_until(EXIT, || !self.is_running());
        let child = self.child.as_mut().expect("started");
        if !exited {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        child.wait().ok().and_then(|s| s.code())
    }

    pub fn sighup(&self) {
        assert!(signal(self.pid(), libc::SIGHUP), "SIGHUP: banjo notify is gone");
    }

    /// The sd_notify index now, to wait for something sent later.
    pub fn notify_mark(&self) -> usize {
        self.notify.len()
    }

    /// Waits for KEY=VALUE at or after FROM.
    pub fn wait_notify(&self, from: usize, key: &str, value: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.notify.find(from, key, value).is_some())
    }

    pub fn kill9(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts again with the same config and state; the previous run must have ended.
    pub fn restart(&mut self) {
        assert!(!self.is_running(), "restart: still running");
        self.spawn();
    }

    /// stderr of every run and the state file, for failure messages.
    pub fn diagnostics(&self) -> String {
        format!(
            "--- banjo notify stderr ---\n{}\n--- state ---\n{}",
            std::fs::read_to_string(self.dir().join("notify.log")).unwrap_or_default(),
            std::fs::read_to_string(self.state_dir().join("notify.json")).unwrap_or_default()
        )
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir().join("notify.log"))
            .expect("notify.log");
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--mount={}", self.mount_ns.display()))
            .arg("--")
            .arg(banjo_bin())
            .arg("--config")
            .arg(self.dir().join("etc/config.toml"))
            .args(["notify", "--log", "journal"])
            .env("STATE_DIRECTORY", self.state_dir())
            .env("NOTIFY_SOCKET", self.notify.path())
            .env("RUST_BACKTRACE", "1")
            .env("TZ", "UTC");
        for var in ["WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", "INVOCATION_ID"] {
            cmd.env_remove(var);
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log);
        self.run_from = self.notify.len();
        self.child = Some(dies_with_test(&mut cmd).spawn().expect("start banjo notify"));
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Writes an executable script.
pub fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// Logs a ban record exactly as banjo's daemon does (daemon/audit.rs: the fields
/// tracing-journald writes), from this (root) process.
pub fn log_ban(journal: &Journal, jail: &str, ip: &str, lines: &[&str]) {
    let matches = lines.join("\n");
    let message = format!("Ban {ip} jail={jail} bantime=1d failures={}", lines.len());
    journal.send(&[
        ("MESSAGE", &message),
        ("PRIORITY", "4"),
        ("SYSLOG_IDENTIFIER", "banjo"),
        ("MESSAGE_ID", "12dddcb6204944748f53bc07146ad80a"),
        ("JAIL", jail),
        ("IP", ip),
        ("BANTIME", "1d"),
        ("UNTIL", "2026-11-25T10:00:00Z"),
        ("FAILURES", &lines.len().to_string()),
        ("BANS_BEFORE", "0"),
        ("MATCHES", &matches),
    ]);
}

/// Logs an unban record as banjo does.
pub fn log_unban(journal: &Journal, jail: &str, ip: &str, reason: &str) {
    let message = format!("Unban {ip} jail={jail} ({reason})");
    journal.send(&[
        ("MESSAGE", &message),
        ("PRIORITY", "6"),
        ("SYSLOG_IDENTIFIER", "banjo"),
        ("MESSAGE_ID", "690a63557246427ea6ee271444359589"),
        ("JAIL", jail),
        ("IP", ip),
        ("REASON", reason),
    ]);
}
