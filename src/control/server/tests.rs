use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use jiff::Timestamp;
use serde_json::Value;

use super::*;
use crate::control::client::Client;
use crate::control::protocol::ErrorKind;

/// Answers from a fixed list of bans in jail "sshd".
#[derive(Default)]
struct Fake {
    bans: Vec<Target>,
}

fn now() -> Timestamp {
    "2025-03-01T12:00:00Z".parse().unwrap()
}

fn banned(jail: &str, addr: Target) -> BannedAddr {
    BannedAddr {
        jail: jail.into(),
        addr,
        since: now(),
        until: None,
        left: None,
        count: 0,
        failures: 0,
        refused: None,
        seen: vec![],
        note: None,
    }
}

impl Handler for Fake {
    fn status(&self) -> Status {
        Status::new(now(), now(), vec![])
    }
    fn jail_status(&self, jail: &str) -> Result<JailStatus, ControlError> {
        Err(ControlError::no_jail(jail, ["sshd"]))
    }
    fn stats(&self) -> Vec<JailStats> {
        vec![]
    }
    fn banned(&self, _: Option<&str>) -> Result<Vec<BannedAddr>, ControlError> {
        Ok(self.bans.iter().map(|&a| banned("sshd", a)).collect())
    }
    fn ban(&mut self, jail: &str, target: Target, _: Option<BanTime>) -> Result<BannedAddr, ControlError> {
        self.bans.push(target);
        Ok(banned(jail, target))
    }
    fn unban(&mut self, _: Option<&str>, target: Target) -> Result<Vec<String>, ControlError> {
        let before = self.bans.len();
        self.bans.retain(|&t| t != target);
        Ok(if self.bans.len() < before {
            vec!["sshd".into()]
        } else {
            vec![]
        })
    }
    fn unban_all(&mut self) -> Result<usize, ControlError> {
        Ok(std::mem::take(&mut self.bans).len())
    }
    fn reload(&mut self, _: Option<&str>) -> Result<(), ControlError> {
        Err(ControlError::refused(
            "config.toml: jails.sshd.maxretry: not a number",
        ))
    }
    fn explain(&self, addr: Target) -> Explain {
        Explain {
            addr,
            jails: vec![],
            blocklist: vec![],
        }
    }
    fn metrics(&self) -> String {
        "banjo_build_info{version=\"test\"} 1\n".to_string()
    }
}

/// A server on a temporary socket and a thread playing the daemon's poll loop.
struct Harness {
    _dir: tempfile::TempDir,
    path: PathBuf,
    server: Arc<Server>,
    stop: Arc<AtomicBool>,
    daemon: Option<JoinHandle<()>>,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("banjo.sock");
        let server = Arc::new(Server::bind(&path, Access::default()).unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let daemon = {
            let (server, stop) = (server.clone(), stop.clone());
            thread::spawn(move || {
                let mut fake = Fake::default();
                while !stop.load(Ordering::SeqCst) {
                    sys::readable(server.wake_fd(), Duration::from_millis(20)).unwrap();
                    server.handle_pending(&mut fake);
                }
            })
        };
        Harness {
            _dir: dir,
            path,
            server,
            stop,
            daemon: Some(daemon),
        }
    }

    fn client(&self) -> Client {
        Client::new(&self.path)
    }

    /// Sends raw bytes, returns the one response line and whether the server closed after it.
    fn raw(&self, bytes: &[u8]) -> (Value, bool) {
        let mut s = UnixStream::connect(&self.path).unwrap();
        let _ = s.write_all(bytes);
        read_response(&mut s)
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(d) = self.daemon.take() {
            d.join().unwrap();
        }
    }
}

fn read_response(s: &mut UnixStream) -> (Value, bool) {
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let end = buf.iter().position(|&b| b == b'\n').expect("a whole line");
    let v = serde_json::from_slice(&buf[..end]).unwrap();
    (v, buf.len() == end + 1)
}

fn error_kind(v: &Value) -> &str {
    assert_eq!(v["ok"], false, "{v}");
    v["error"]["kind"].as_str().unwrap()
}

#[test]
fn client_round_trips_every_kind_of_answer() {
    let h = Harness::new();
    let c = h.client();
    let status: Status = c.call_as(Command::Status {}).unwrap();
    assert_eq!(status.version, env!("CARGO_PKG_VERSION"));
    let addr: Target = "192.0.2.1".parse().unwrap();
    let b: BannedAddr = c
        .call_as(Command::Ban {
            jail: "sshd".into(),
            addr,
            time: None,
        })
        .unwrap();
    assert_eq!(b.addr, addr);
    let list: Vec<BannedAddr> = c.call_as(Command::Banned { jail: None }).unwrap();
    assert_eq!(list.len(), 1);
    let u: Unbanned = c.call_as(Command::Unban { jail: None, addr }).unwrap();
    assert_eq!(u.jails, ["sshd"]);
    let e = c.call(Command::Unban { jail: None, addr }).unwrap_err();
    assert!(
        matches!(&e, crate::control::ClientError::Daemon(e) if e.kind == ErrorKind::NotFound),
        "{e:?}"
    );
    assert!(e.to_string().contains("192.0.2.1 is not banned"), "{e}");
    let e = c.call(Command::Reload { jail: None }).unwrap_err();
    assert!(e.to_string().contains("maxretry"), "{e}");
    let e = c.call(Command::JailStatus { jail: "ssh".into() }).unwrap_err();
    assert!(e.to_string().contains("the jails are sshd"), "{e}");
}

#[test]
fn malformed_request_gets_an_error_and_a_closed_connection() {
    let h = Harness::new();
    let (v, closed) = h.raw(b"{\"version\":1,\"command\":\n");
    assert_eq!(error_kind(&v), "bad_request");
    assert!(closed);
    let (v, _) = h.raw(b"{\"version\":3,\"command\":\"status\"}\n");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("version 3"),
        "{v}"
    );
    let (v, _) = h.raw(b"{\"version\":1,\"command\":\"shutdown\"}\n");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown command"),
        "{v}"
    );
    // The server still answers.
    h.client().call(Command::Status {}).unwrap();
}

#[test]
fn request_without_newline_ends_at_end_of_input() {
    let h = Harness::new();
    let mut s = UnixStream::connect(&h.path).unwrap();
    s.write_all(br#"{"version":1,"command":"stats"}"#).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let (v, _) = read_response(&mut s);
    assert_eq!(v["ok"], true, "{v}");
}

#[test]
fn oversized_request_is_cut_off() {
    let h = Harness::new();
    let mut big = br#"{"version":1,"command":"status","x":""#.to_vec();
    big.resize(MAX_REQUEST + 4096, b'x');
    let (v, closed) = h.raw(&big);
    assert_eq!(error_kind(&v), "bad_request");
    assert!(v["error"]["message"].as_str().unwrap().contains("64 KiB"), "{v}");
    assert!(closed);
}

/// Connections that say nothing hold every slot this uid may use: once they have idled past
/// the grace, a client that asks is served and the longest idle one is closed.
#[test]
fn idle_connections_make_room_for_a_client_that_asks() {
    let h = Harness::new();
    let mut idle: Vec<UnixStream> = (0..MAX_CONNECTIONS)
        .map(|_| UnixStream::connect(&h.path).unwrap())
        .collect();
    // Wait until the server has taken them in (or refused the ones beyond this uid's slots).
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut last = usize::MAX;
    while Instant::now() < deadline {
        let now = h.server.connections();
        if now == last && now > 0 {
            break;
        }
        last = now;
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(crate::control::slots::IDLE_GRACE);
    h.client().call(Command::Status {}).unwrap();
    let closed = idle
        .iter_mut()
        .filter(|s| {
            s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
            let mut buf = [0u8; 256];
            let mut reader: &UnixStream = s;
            reader.read(&mut buf).is_ok()
        })
        .count();
    assert!(
        closed >= 1,
        "an idle connection was closed (or refused) to make room"
    );
}

#[test]
fn bind_replaces_a_stale_socket_but_not_a_live_one_or_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run/banjo.sock");
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    drop(UnixListener::bind(&path).unwrap());
    let first = Server::bind(&path, Access::default()).unwrap();
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let e = Server::bind(&path, Access::default()).err().unwrap();
    assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
    assert!(e.to_string().contains("another banjo"), "{e}");
    drop(first);
    assert!(!path.exists(), "the server removes its socket file");
    fs::write(&path, "not a socket").unwrap();
    let e = Server::bind(&path, Access::default()).err().unwrap();
    assert!(e.to_string().contains("not a socket"), "{e}");
}

#[test]
fn from_fd_serves_a_passed_listener_and_leaves_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("banjo.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = Server::from_fd(OwnedFd::from(listener), Access::default()).unwrap();
    assert_eq!(server.path(), None);
    let mut s = UnixStream::connect(&path).unwrap();
    s.write_all(b"nonsense\n").unwrap();
    let (v, _) = read_response(&mut s);
    assert_eq!(error_kind(&v), "bad_request");
    drop(server);
    assert!(path.exists());
    let not_a_socket = fs::File::open("/dev/null").unwrap();
    assert!(Server::from_fd(OwnedFd::from(not_a_socket), Access::default()).is_err());
}

#[test]
fn unanswered_request_wakes_the_daemon_fd() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("banjo.sock");
    let server = Server::bind(&path, Access::default()).unwrap();
    let wake = server.wake_fd();
    let quick = Duration::ZERO;
    assert!(!sys::readable(wake, quick).unwrap());
    let client = thread::spawn({
        let path = path.clone();
        move || Client::new(path).call(Command::Stats {})
    });
    assert!(sys::readable(wake, Duration::from_secs(5)).unwrap());
    server.handle_pending(&mut Fake::default());
    assert!(!sys::readable(wake, quick).unwrap());
    assert_eq!(client.join().unwrap().unwrap(), Value::Array(vec![]));
}
