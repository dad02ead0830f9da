//! The control socket end to end: a `Server` in this process with a fake `Handler` playing the
//! daemon, the `banjo` binary as the client (`--socket`). Every command in text and `--json`,
//! exit codes, access by uid and group, bad and slow clients, and the generated man pages and
//! completions. The CLI against a real daemon is tested in tests/daemon.rs.
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use banjo::addr::Target;
use banjo::config::BanTime;
use banjo::control::{
    Access, BannedAddr, ControlError, Explain, FailureLine, Handler, JailExplain, JailStats, JailStatus,
    JailSummary, MultilineMemory, Server, Status,
};
use jiff::Timestamp;
use serde_json::Value;

const NOBODY: u32 = 65534;

fn t(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn now() -> Timestamp {
    t("2025-03-01T12:00:00Z")
}

/// Two jails, "sshd" and "dovecot"; bans kept in a list; reload of "all" refused.
struct Fake {
    bans: Vec<BannedAddr>,
    reloads: Arc<Mutex<Vec<Option<String>>>>,
}

const JAILS: [&str; 2] = ["dovecot", "sshd"];

fn sources(jail: &str) -> Vec<String> {
    vec![format!("journal _SYSTEMD_UNIT={jail}.service")]
}

impl Fake {
    fn new(reloads: Arc<Mutex<Vec<Option<String>>>>) -> Fake {
        let ban = |jail: &str, addr: &str, until: Option<&str>| BannedAddr {
            jail: jail.into(),
            addr: addr.parse().unwrap(),
            since: t("2025-03-01T11:00:00Z"),
            until: until.map(t),
            left: until.map(|u| t(u).duration_since(now()).as_secs() as u64),
            count: 1,
            failures: 5,
            refused: None,
            seen: vec![],
            note: None,
        };
        Fake {
            bans: vec![
                ban("sshd", "192.0.2.1", Some("2025-03-01T13:00:00Z")),
                ban("sshd", "2001:db8::/64", None),
                ban("dovecot", "198.51.100.7", Some("2025-03-02T11:00:00Z")),
            ],
            reloads,
        }
    }

    fn known(&self, jail: &str) -> Result<(), ControlError> {
        if JAILS.contains(&jail) {
            Ok(())
        } else {
            Err(ControlError::no_jail(jail, JAILS))
        }
    }

    fn count(&self, jail: &str) -> usize {
        self.bans.iter().filter(|b| b.jail == jail).count()
    }
}

impl Handler for Fake {
    fn status(&self) -> Status {
        let jails = JAILS
            .iter()
            .map(|j| JailSummary {
                jail: j.to_string(),
                sources: sources(j),
                banned: self.count(j),
                refused: 0,
            })
            .collect();
        Status::new(t("2025-03-01T09:00:00Z"), now(), jails)
    }

    fn jail_status(&self, jail: &str) -> Result<JailStatus, ControlError> {
        self.known(jail)?;
        Ok(JailStatus {
            jail: jail.into(),
            filter: jail.into(),
            sources: sources(jail),
            hook: "input".into(),
            family: "inet".into(),
            currently_failed: 2,
            total_failed: 17,
            currently_banned: self.count(jail),
            total_banned: 4,
            banned: self.banned(Some(jail))?,
            multiline: (jail == "sshd").then_some(MultilineMemory {
                connections: 3,
                evicted: 1,
                expired: 40,
            }),
        })
    }

    fn stats(&self) -> Vec<JailStats> {
        JAILS
            .iter()
            .map(|j| JailStats {
                jail: j.to_string(),
                sources: sources(j),
                found: 17,
                currently_failed: 2,
                banned: self.count(j),
                total_banned: 4,
            })
            .collect()
    }

    fn banned(&self, jail: Option<&str>) -> Result<Vec<BannedAddr>, ControlError> {
        if let Some(j) = jail {
            self.known(j)?;
        }
        Ok(self
            .bans
            .iter()
            .filter(|b| jail.is_none_or(|j| b.jail == j))
            .cloned()
            .collect())
    }

    fn ban(&mut self, jail: &str, target: Target, time: Option<BanTime>) -> Result<BannedAddr, ControlError> {
        self.known(jail)?;
        let length = time.unwrap_or(BanTime::For(Duration::from_secs(600))).duration();
        let ban = BannedAddr {
            jail: jail.into(),
            addr: target,
            since: now(),
            until: length.map(|d| now().checked_add(d).unwrap()),
            left: length.map(|d| d.as_secs()),
            count: 0,
            failures: 0,
            refused: None,
            seen: vec![],
            note: None,
        };
        self.bans.push(ban.clone());
        Ok(ban)
    }

    fn unban(&mut self, jail: Option<&str>, target: Target) -> Result<Vec<String>, ControlError> {
        if let Some(j) = jail {
            self.known(j)?;
        }
        let mut lifted = Vec::new();
        self.bans.retain(|b| {
            let hit = b.addr == target && jail.is_none_or(|j| b.jail == j);
            if hit {
                lifted.push(b.jail.clone());
            }
            !hit
        });
        Ok(lifted)
    }

    fn unban_all(&mut self) -> Result<usize, ControlError> {
        Ok(std::mem::take(&mut self.bans).len())
    }

    fn reload(&mut self, jail: Option<&str>) -> Result<(), ControlError> {
        self.reloads.lock().unwrap().push(jail.map(str::to_string));
        match jail {
            None => Err(ControlError::refused(
                "/etc/banjo/config.toml: jails.sshd.maxretry: expected a number, found \"five\"",
            )),
            Some(j) => self.known(j),
        }
    }

    fn explain(&self, addr: Target) -> Explain {
        let jails = JAILS
            .iter()
            .map(|j| JailExplain {
                jail: j.to_string(),
                counted_as: None,
                ignored: (*j == "dovecot").then(|| "ignoreip lists 192.0.2.0/24".to_string()),
                failures: vec![FailureLine {
                    time: t("2025-03-01T11:59:00Z"),
                    line: format!("Failed password for root from {addr} port 22 ssh2"),
                }],
                maxretry: 5,
                findtime: 600,
                ban: self.bans.iter().find(|b| b.jail == *j && b.addr == addr).cloned(),
                ban_count: 1,
                next_bantime: Some(7200),
            })
            .collect();
        Explain {
            addr,
            jails,
            blocklist: vec![],
        }
    }

    fn metrics(&self) -> String {
        FAKE_METRICS.to_string()
    }
}

/// What the fake daemon answers to `metrics`.
const FAKE_METRICS: &str = "# HELP banjo_bans_total Bans.\n# TYPE banjo_bans_total counter\n\
                            banjo_bans_total{jail=\"sshd\",cause=\"failures\"} 2\n";

/// A Server on a temporary socket, answered by a thread that plays the daemon's poll loop.
struct Daemon {
    dir: tempfile::TempDir,
    server: Arc<Server>,
    reloads: Arc<Mutex<Vec<Option<String>>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Daemon {
    fn start(access: Access) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let server = Arc::new(Server::bind(&dir.path().join("banjo.sock"), access).unwrap());
        let reloads = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (server, stop, reloads) = (server.clone(), stop.clone(), reloads.clone());
            thread::spawn(move || {
                let mut fake = Fake::new(reloads);
                while !stop.load(Ordering::SeqCst) {
                    let _ = banjo::sys::readable(server.wake_fd(), Duration::from_millis(20));
                    server.handle_pending(&mut fake);
                }
            })
        };
        Daemon {
            dir,
            server,
            reloads,
            stop,
            thread: Some(thread),
        }
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("banjo.sock")
    }

    /// Lets any user reach the socket (the server still checks who asks).
    fn open_to_everyone(&self) {
        std::fs::set_permissions(self.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(self.socket(), std::fs::Permissions::from_mode(0o666)).unwrap();
    }

    fn banjo(&self, args: &[&str]) -> Output {
        run(self.cmd(args))
    }

    fn banjo_as_nobody(&self, args: &[&str]) -> Output {
        let mut cmd = self.cmd(args);
        cmd.uid(NOBODY).gid(NOBODY);
        run(cmd)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_banjo"));
        cmd.arg("--socket").arg(self.socket()).args(args).env("TZ", "UTC");
        cmd
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(mut cmd: Command) -> Output {
    cmd.output().expect("run banjo")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

/// Succeeded, with stdout.
fn ok(o: Output) -> String {
    assert_eq!(code(&o), 0, "stdout: {}\nstderr: {}", stdout(&o), stderr(&o));
    stdout(&o)
}

fn json(o: Output) -> Value {
    let out = ok(o);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[test]
fn read_commands_print_tables() {
    let d = Daemon::start(Access::default());
    let out = ok(d.banjo(&["status"]));
    assert!(out.contains("is running") && out.contains("up 3h"), "{out}");
    assert!(
        out.contains("sshd") && out.contains("journal _SYSTEMD_UNIT=sshd.service"),
        "{out}"
    );
    let out = ok(d.banjo(&["status", "sshd"]));
    for want in [
        "currently failed:",
        "17",
        "192.0.2.1",
        "1h",
        "2001:db8::/64",
        "permanent",
        "input (inet)",
        "3 open, 1 evicted (cap reached), 40 expired",
    ] {
        assert!(out.contains(want), "{want} missing: {out}");
    }
    let out = ok(d.banjo(&["stats"]));
    assert!(
        out.starts_with("JAIL") && out.contains("dovecot") && out.contains("FOUND"),
        "{out}"
    );
    let out = ok(d.banjo(&["banned"]));
    assert_eq!(out.lines().count(), 4, "{out}");
    let out = ok(d.banjo(&["banned", "dovecot"]));
    assert!(
        out.contains("198.51.100.7") && !out.contains("192.0.2.1"),
        "{out}"
    );
    let out = ok(d.banjo(&["explain", "192.0.2.1"]));
    assert!(out.starts_with("192.0.2.1 is banned in sshd"), "{out}");
    assert!(
        out.contains("ignoreip lists 192.0.2.0/24") && out.contains("Failed password"),
        "{out}"
    );
    assert!(
        out.contains("1 of maxretry 5") && out.contains("next ban would last 2h"),
        "{out}"
    );
}

#[test]
fn every_command_answers_json() {
    let d = Daemon::start(Access::default());
    let v = json(d.banjo(&["status", "--json"]));
    assert_eq!(v["jails"].as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v["uptime"], 3 * 3600);
    let v = json(d.banjo(&["status", "sshd", "--json"]));
    assert_eq!(v["total_failed"], 17);
    assert_eq!(v["banned"][0]["until"], "2025-03-01T13:00:00Z");
    assert_eq!(v["banned"][0]["left"], 3600);
    assert!(v["banned"][1]["left"].is_null(), "permanent last: {v}");
    let v = json(d.banjo(&["stats", "--json"]));
    assert_eq!(v[1]["jail"], "sshd");
    assert_eq!(v[1]["banned"], 2);
    let v = json(d.banjo(&["banned", "--json"]));
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert_eq!(v[0]["jail"], "dovecot", "sorted by jail: {v}");
    let v = json(d.banjo(&["explain", "192.0.2.1", "--json"]));
    assert_eq!(v["addr"], "192.0.2.1");
    assert_eq!(v["jails"][1]["ban"]["jail"], "sshd");
    let v = json(d.banjo(&["ban", "sshd", "203.0.113.5", "--time", "1h30m", "--json"]));
    assert_eq!(v["left"], 5400);
    let v = json(d.banjo(&["unban", "sshd", "203.0.113.5", "--json"]));
    assert_eq!(v["jails"][0], "sshd");
    let v = json(d.banjo(&["reload", "sshd", "--json"]));
    assert!(v.is_null());
    let v = json(d.banjo(&["unban", "--all", "--json"]));
    assert_eq!(v["unbanned"], 3);
}

#[test]
fn ban_unban_and_reload_change_the_daemon() {
    let d = Daemon::start(Access::default());
    let out = ok(d.banjo(&["ban", "sshd", "203.0.113.5", "-t", "1h"]));
    assert_eq!(
        out,
        "banned 203.0.113.5 in sshd for 1h (until 2025-03-01 13:00:00)\n"
    );
    let out = ok(d.banjo(&["ban", "dovecot", "203.0.113.5", "--time", "permanent"]));
    assert_eq!(out, "banned 203.0.113.5 in dovecot permanently\n");
    let out = ok(d.banjo(&["unban", "203.0.113.5"]));
    assert_eq!(out, "unbanned 203.0.113.5 in sshd, dovecot\n");
    let o = d.banjo(&["unban", "sshd", "203.0.113.5"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("203.0.113.5 is not banned in sshd"),
        "{}",
        stderr(&o)
    );
    let out = ok(d.banjo(&["reload", "sshd"]));
    assert_eq!(out, "reloaded jail sshd\n");
    let o = d.banjo(&["reload"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("jails.sshd.maxretry: expected a number"),
        "{}",
        stderr(&o)
    );
    assert_eq!(*d.reloads.lock().unwrap(), [Some("sshd".to_string()), None]);
    let out = ok(d.banjo(&["unban", "--all"]));
    assert_eq!(out, "lifted 3 bans\n");
    let out = ok(d.banjo(&["banned"]));
    assert_eq!(out, "nothing is banned\n");
}

#[test]
fn errors_have_their_exit_codes() {
    let d = Daemon::start(Access::default());
    let o = d.banjo(&["status", "ssh"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("no jail `ssh`: the jails are dovecot, sshd"),
        "{}",
        stderr(&o)
    );
    assert_eq!(code(&d.banjo(&["ban", "sshd", "not-an-address"])), 2);
    assert_eq!(code(&d.banjo(&["ban", "sshd", "192.0.2.1", "--time", "0"])), 2);
    assert_eq!(code(&d.banjo(&["unban"])), 2);
    assert_eq!(code(&d.banjo(&["unban", "sshd", "nope"])), 2);
    assert_eq!(code(&d.banjo(&["unban", "--all", "192.0.2.1"])), 2);
}

#[test]
fn no_daemon_is_exit_3_with_how_to_start_it() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("banjo.sock");
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["ban", "sshd", "192.0.2.1"],
        &["stats"],
    ] {
        let o = run({
            let mut c = Command::new(env!("CARGO_BIN_EXE_banjo"));
            c.arg("--socket").arg(&socket).args(args);
            c
        });
        assert_eq!(code(&o), 3, "{args:?}");
        let want = format!("banjo is not running (no socket at {})", socket.display());
        assert!(stderr(&o).contains(&want), "{}", stderr(&o));
        assert!(stderr(&o).contains("systemctl start banjo"));
    }
}

/// Whether this process may run the client as another user; the tests that need it say so
/// and pass when it may not (`make test` runs as root).
fn can_switch_user() -> bool {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        eprintln!("not root: skipping a test that runs the client as nobody");
    }
    root
}

/// The name of group `gid` in /etc/group.
fn group_name(gid: u32) -> String {
    let groups = std::fs::read_to_string("/etc/group").unwrap();
    groups
        .lines()
        .find_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)? == gid.to_string()).then(|| name.to_string())
        })
        .unwrap_or_else(|| panic!("no group {gid} in /etc/group"))
}

#[test]
fn read_group_may_read_but_only_root_and_admins_change_state() {
    if !can_switch_user() {
        return;
    }
    let d = Daemon::start(Access {
        admin_group: None,
        read_group: Some(group_name(NOBODY)),
    });
    d.open_to_everyone();
    let out = ok(d.banjo_as_nobody(&["status"]));
    assert!(out.contains("is running"), "{out}");
    ok(d.banjo_as_nobody(&["banned", "--json"]));
    ok(d.banjo_as_nobody(&["explain", "192.0.2.1"]));
    // what banjo-metrics@.service does, as a member of the read group
    assert_eq!(ok(d.banjo_as_nobody(&["metrics"])), FAKE_METRICS);
    for args in [
        &["ban", "sshd", "192.0.2.9"][..],
        &["unban", "192.0.2.1"],
        &["unban", "--all"],
        &["reload"],
    ] {
        let o = d.banjo_as_nobody(args);
        assert_eq!(code(&o), 4, "{args:?}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("needs root") && stderr(&o).contains("uid 65534"),
            "{}",
            stderr(&o)
        );
    }
    assert!(d.reloads.lock().unwrap().is_empty());
    // Root still may.
    ok(d.banjo(&["ban", "sshd", "192.0.2.9"]));
    // As may the admin group.
    d.server.set_access(Access {
        admin_group: Some(group_name(NOBODY)),
        read_group: None,
    });
    ok(d.banjo_as_nobody(&["unban", "192.0.2.9"]));
}

#[test]
fn without_a_read_group_strangers_may_not_even_read() {
    if !can_switch_user() {
        return;
    }
    let d = Daemon::start(Access::default());
    d.open_to_everyone();
    let o = d.banjo_as_nobody(&["status"]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("read_group"), "{}", stderr(&o));
    let o = d.banjo_as_nobody(&["metrics"]);
    assert_eq!(code(&o), 4, "metrics is read access too: {}", stderr(&o));
}

#[test]
fn socket_file_permissions_deny_with_exit_4() {
    if !can_switch_user() {
        return;
    }
    let d = Daemon::start(Access::default());
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // The socket stays 0660 root:root.
    let o = d.banjo_as_nobody(&["status"]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("permission denied"), "{}", stderr(&o));
}

/// Holds `n` connections to `socket` that never send a byte, as uid nobody, opening a new one
/// whenever the server closes one, until killed. Prints "holding" once the first `n` are open.
const IDLE_HOLDER: &str = r#"
import socket, sys, time
path, n = sys.argv[1], int(sys.argv[2])
held, opened, said = [], 0, False
while True:
    alive = []
    for s in held:
        try:
            if s.recv(4096, socket.MSG_DONTWAIT) == b"":
                s.close()
            else:
                s.close()
        except BlockingIOError:
            alive.append(s)
        except OSError:
            s.close()
    held = alive
    while len(held) < n:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
        except OSError:
            s.close()
            break
        held.append(s)
        opened += 1
    if not said and opened >= n:
        print("holding", flush=True)
        said = True
    time.sleep(0.05)
"#;

/// 500 connections that say nothing, held by an unprivileged uid that is even in the admin
/// group (so it may ask anything), used to keep every slot and with it root out: root's
/// status, ban and unban are answered, each within a second, all along.
#[test]
fn five_hundred_idle_connections_of_another_uid_never_keep_root_out() {
    if !can_switch_user() {
        return;
    }
    let d = Daemon::start(Access {
        admin_group: Some(group_name(NOBODY)),
        read_group: Some(group_name(NOBODY)),
    });
    d.open_to_everyone();
    let mut holder = Killed(
        Command::new("python3")
            .args(["-c", IDLE_HOLDER])
            .arg(d.socket())
            .arg("500")
            .uid(NOBODY)
            .gid(NOBODY)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs the idle connections"),
    );
    let mut said = [0u8; 8];
    holder
        .0
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut said)
        .expect("the holder opened its 500 connections");
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut rounds = 0;
    while Instant::now() < deadline {
        for args in [
            &["status"][..],
            &["ban", "sshd", "192.0.2.77", "--time", "1h"],
            &["unban", "sshd", "192.0.2.77"],
        ] {
            let asked = Instant::now();
            let o = d.banjo(args);
            let took = asked.elapsed();
            assert_eq!(code(&o), 0, "{args:?}: {}{}", stdout(&o), stderr(&o));
            assert!(took < Duration::from_secs(1), "{args:?} took {took:?}");
        }
        rounds += 1;
    }
    assert!(rounds >= 3, "only {rounds} rounds in 4 s");
}

/// A child process killed (and reaped) when the test ends, passed or not.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends `bytes` on a fresh connection; returns the response and whether the server closed.
fn raw(socket: &Path, bytes: &[u8]) -> (Value, bool) {
    let mut s = UnixStream::connect(socket).unwrap();
    let _ = s.write_all(bytes);
    response(&mut s)
}

fn response(s: &mut UnixStream) -> (Value, bool) {
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let end = buf.iter().position(|&b| b == b'\n').expect("one whole line");
    (serde_json::from_slice(&buf[..end]).unwrap(), buf.len() == end + 1)
}

fn error(v: &Value) -> (&str, &str) {
    assert_eq!(v["version"], 1, "{v}");
    assert_eq!(v["ok"], false, "{v}");
    (
        v["error"]["kind"].as_str().unwrap(),
        v["error"]["message"].as_str().unwrap(),
    )
}

#[test]
fn bad_requests_get_an_error_line_and_a_closed_connection() {
    let d = Daemon::start(Access::default());
    let socket = d.socket();
    let cases: &[(&[u8], &str)] = &[
        (b"{\"version\":1,\"command\":\"status\"\n", "not JSON"),
        (b"status\n", "not JSON"),
        (
            b"{\"version\":2,\"command\":\"status\"}\n",
            "version 2 is not supported",
        ),
        (
            b"{\"version\":1,\"command\":\"stop\"}\n",
            "unknown command \"stop\"",
        ),
        (b"{\"version\":1,\"command\":\"ban\",\"jail\":\"sshd\"}\n", "addr"),
    ];
    for (bytes, want) in cases {
        let (v, closed) = raw(&socket, bytes);
        let (kind, message) = error(&v);
        assert_eq!(kind, "bad_request");
        assert!(message.contains(want), "{want}: {message}");
        assert!(closed);
    }
    let mut big = b"{\"version\":1,\"command\":\"status\",\"x\":\"".to_vec();
    big.resize(100 * 1024, b'x');
    big.push(b'\n');
    let (v, closed) = raw(&socket, &big);
    assert!(error(&v).1.contains("longer than 64 KiB"), "{v}");
    assert!(closed);
    // A good one still works, on the wire as documented.
    let (v, _) = raw(&socket, b"{\"version\":1,\"command\":\"stats\"}\n");
    assert_eq!(v["ok"], true);
    assert_eq!(v["data"][0]["jail"], "dovecot");
}

#[test]
fn slow_client_does_not_delay_another_clients_status() {
    let d = Daemon::start(Access::default());
    let mut silent = UnixStream::connect(d.socket()).unwrap();
    let mut half = UnixStream::connect(d.socket()).unwrap();
    half.write_all(b"{\"version\":1,\"comm").unwrap();
    let started = Instant::now();
    ok(d.banjo(&["status"]));
    let fast = started.elapsed();
    assert!(fast < Duration::from_millis(1500), "status took {fast:?}");
    for s in [&mut silent, &mut half] {
        let (v, closed) = response(s);
        assert!(error(&v).1.contains("no complete request line within 2 s"), "{v}");
        assert!(closed);
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[test]
fn generate_writes_man_pages_and_completions() {
    let dir = tempfile::tempdir().unwrap();
    let man = dir.path().join("man");
    let completions = dir.path().join("completions");
    let banjo = |args: &[&str]| {
        run({
            let mut c = Command::new(env!("CARGO_BIN_EXE_banjo"));
            c.args(args);
            c
        })
    };
    ok(banjo(&["generate", "man", man.to_str().unwrap()]));
    ok(banjo(&["generate", "completions", completions.to_str().unwrap()]));
    for page in [
        "banjo.8",
        "banjo-status.8",
        "banjo-ban.8",
        "banjo-unban.8",
        "banjo-explain.8",
        "banjo-run.8",
    ] {
        let text = std::fs::read_to_string(man.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page}: {text}");
    }
    let top = std::fs::read_to_string(man.join("banjo.8")).unwrap();
    assert!(top.contains("Exit status"), "exit codes documented: {top}");
    assert!(
        !man.join("banjo-generate.8").exists(),
        "the hidden command has no page"
    );
    for file in ["banjo.bash", "_banjo", "banjo.fish"] {
        let text = std::fs::read_to_string(completions.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(text.contains("unban"), "{file}");
    }
}
