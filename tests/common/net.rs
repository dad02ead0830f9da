//! Network namespaces for banjo to guard and for clients to attack from: named namespaces
//! (`ip netns`), veth links, a router and a bridge; TCP listeners and connection attempts made
//! from threads that entered a namespace; and reading banjo's nftables sets back as JSON.
//! Only addresses in 10.231.0.0/16 and 10.232.0.0/16, only inside the test's own namespaces.
use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use super::{POLL, PREFIX, next_serial, process_exists, run, unique_name, wait_until};

/// How long a connection attempt may take before it counts as blocked.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// `ip netns add` and `delete` are serialized: concurrent first uses race on making
/// /run/netns a shared bind mount of itself, and a namespace file created under the losing
/// mount becomes invisible.
static NETNS_LOCK: Mutex<()> = Mutex::new(());

/// A named network namespace with `lo` up; Drop deletes it (its veths go with it).
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates `bjt<pid>-<n><role>`.
    pub fn add(role: &str) -> Netns {
        sweep_stale_namespaces();
        let name = unique_name(role);
        {
            let _guard = NETNS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
            run(Command::new("ip").args(["netns", "add", &name]));
        }
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// /run/netns/NAME, for `nsenter --net=` and setns.
    pub fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// `ip -n NAME ARGS`, which must succeed.
    pub fn ip(&self, args: &[&str]) -> Output {
        run(Command::new("ip").args(["-n", &self.name]).args(args))
    }

    /// `ip netns exec NAME ARGS`; the caller checks the status.
    pub fn exec(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("ip netns exec {} {args:?}: {e}", self.name))
    }

    /// Sets a sysctl inside the namespace (e.g. net.ipv4.ip_forward=1).
    pub fn sysctl(&self, key: &str, value: &str) {
        let out = self.exec(&["sysctl", "-qw", &format!("{key}={value}")]);
        assert!(
            out.status.success(),
            "sysctl {key}={value} in {}: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `nft ARGS` in the namespace; the caller checks the status.
    pub fn nft(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .arg(format!("--net={}", self.path().display()))
            .args(["--", "nft"])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run nft")
    }

    /// `nft -j ARGS` parsed; None when nft fails (e.g. the table or set does not exist).
    pub fn nft_json(&self, args: &[&str]) -> Option<Value> {
        let mut all = vec!["-j"];
        all.extend_from_slice(args);
        let out = self.nft(&all);
        if !out.status.success() {
            return None;
        }
        Some(serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "nft -j {args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        }))
    }

    /// Whether table FAMILY TABLE exists here.
    pub fn has_table(&self, family: &str, table: &str) -> bool {
        self.nft(&["list", "table", family, table]).status.success()
    }

    /// The elements of set SET in `table inet banjo` (empty if the set does not exist).
    pub fn banned(&self, set: &str) -> Vec<SetElement> {
        self.banned_in("inet", "banjo", set)
    }

    /// The elements of set SET in table FAMILY TABLE (empty if it does not exist).
    pub fn banned_in(&self, family: &str, table: &str, set: &str) -> Vec<SetElement> {
        self.nft_json(&["list", "set", family, table, set])
            .map(|v| set_elements(&v))
            .unwrap_or_default()
    }

    /// ADDR's element in set SET of `table inet banjo`, if it is there.
    pub fn ban_of(&self, set: &str, addr: &str) -> Option<SetElement> {
        self.banned(set).into_iter().find(|e| e.addr == addr)
    }

    /// Polls until ADDR is in set SET of `table FAMILY banjo`; its element, or None after `timeout`.
    pub fn wait_banned_in(
        &self,
        family: &str,
        set: &str,
        addr: &str,
        timeout: Duration,
    ) -> Option<SetElement> {
        let mut found = None;
        wait_until(timeout, || {
            found = self
                .banned_in(family, "banjo", set)
                .into_iter()
                .find(|e| e.addr == addr);
            found.is_some()
        });
        found
    }

    /// Polls until ADDR is in set SET of `table inet banjo`.
    pub fn wait_banned(&self, set: &str, addr: &str, timeout: Duration) -> Option<SetElement> {
        self.wait_banned_in("inet", set, addr, timeout)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _guard = NETNS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .stdin(Stdio::null())
            .output();
    }
}

/// Deletes namespaces this harness left behind in an earlier run whose process is gone
/// (killed before its Drop guards ran): `bjt<pid>-…` with no /proc/<pid>.
fn sweep_stale_namespaces() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(dir) = std::fs::read_dir("/run/netns") else {
            return;
        };
        for entry in dir.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name
                .strip_prefix(PREFIX)
                .and_then(|rest| rest.split_once('-'))
                .and_then(|(pid, _)| pid.parse::<u32>().ok())
            else {
                continue;
            };
            if !process_exists(pid) {
                let _guard = NETNS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
                let _ = Command::new("ip").args(["netns", "delete", &name]).output();
            }
        }
    });
}

/// One element of an nftables set as `nft -j` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetElement {
    /// The address ("10.231.1.2"), prefix ("10.231.1.0/24") or range ("a-b").
    pub addr: String,
    /// The element's timeout in seconds, if it has one.
    pub timeout_s: Option<u64>,
    /// Seconds left before the kernel removes it, if it has a timeout.
    pub expires_s: Option<u64>,
}

/// The elements of the first set in an `nft -j list set …` answer.
pub fn set_elements(answer: &Value) -> Vec<SetElement> {
    let Some(set) = answer["nftables"]
        .as_array()
        .and_then(|items| items.iter().find_map(|i| i.get("set")))
    else {
        return Vec::new();
    };
    let Some(elems) = set.get("elem").and_then(Value::as_array) else {
        return Vec::new();
    };
    elems.iter().filter_map(set_element).collect()
}

fn set_element(e: &Value) -> Option<SetElement> {
    if let Some(inner) = e.get("elem") {
        return Some(SetElement {
            addr: element_value(inner.get("val")?)?,
            timeout_s: inner.get("timeout").and_then(Value::as_u64),
            expires_s: inner.get("expires").and_then(Value::as_u64),
        });
    }
    Some(SetElement {
        addr: element_value(e)?,
        timeout_s: None,
        expires_s: None,
    })
}

fn element_value(v: &Value) -> Option<String> {
    if let Some(s) = v.as_str() {
        return Some(s.to_string());
    }
    if let Some(p) = v.get("prefix") {
        return Some(format!("{}/{}", p["addr"].as_str()?, p["len"].as_u64()?));
    }
    if let Some(r) = v.get("range").and_then(Value::as_array) {
        return Some(format!("{}-{}", r.first()?.as_str()?, r.get(1)?.as_str()?));
    }
    None
}

/// A veth pair: A_IF in `a` with address A_CIDR (if any), B_IF in `b` with B_CIDR (if any), both up.
pub fn veth(a: &Netns, a_if: &str, a_cidr: Option<&str>, b: &Netns, b_if: &str, b_cidr: Option<&str>) {
    a.ip(&[
        "link",
        "add",
        a_if,
        "type",
        "veth",
        "peer",
        "name",
        b_if,
        "netns",
        b.name(),
    ]);
    for (ns, dev, cidr) in [(a, a_if, a_cidr), (b, b_if, b_cidr)] {
        if let Some(cidr) = cidr {
            ns.ip(&["addr", "add", cidr, "dev", dev]);
        }
        ns.ip(&["link", "set", dev, "up"]);
    }
}

/// A subnet index k in 1..=250, different for each lab of this process (the namespaces are
/// isolated anyway, so equal k in two processes do not clash).
fn next_k() -> u8 {
    u8::try_from(next_serial() % 250 + 1).expect("1..=250")
}

/// The input-hook lab: server S (where banjo runs) with two links,
/// attacker A 10.231.k.2 ↔ S 10.231.k.1 and good client G 10.232.k.2 ↔ S 10.232.k.1.
/// Fields drop in order: the clients first, the server last.
pub struct Lab {
    pub k: u8,
    pub attacker: Netns,
    pub good: Netns,
    pub server: Netns,
    /// A's address, which S sees as the source.
    pub attacker_ip: String,
    /// G's address.
    pub good_ip: String,
    /// S's address on the attacker link (what A connects to).
    pub server_ip_a: String,
    /// S's address on the good link (what G connects to).
    pub server_ip_g: String,
}

impl Lab {
    pub fn new() -> Lab {
        let k = next_k();
        let server = Netns::add("s");
        let attacker = Netns::add("a");
        let good = Netns::add("g");
        let lab = Lab {
            k,
            attacker,
            good,
            server,
            attacker_ip: format!("10.231.{k}.2"),
            good_ip: format!("10.232.{k}.2"),
            server_ip_a: format!("10.231.{k}.1"),
            server_ip_g: format!("10.232.{k}.1"),
        };
        veth(
            &lab.server,
            "to-a",
            Some(&format!("{}/24", lab.server_ip_a)),
            &lab.attacker,
            "eth0",
            Some(&format!("{}/24", lab.attacker_ip)),
        );
        veth(
            &lab.server,
            "to-g",
            Some(&format!("{}/24", lab.server_ip_g)),
            &lab.good,
            "eth0",
            Some(&format!("{}/24", lab.good_ip)),
        );
        lab
    }

    /// An address in the attacker's subnet that no interface has: for log lines only, never
    /// for traffic. n in 0..=200.
    pub fn spare_attacker_ip(&self, n: u8) -> String {
        format!("10.231.{}.{}", self.k, 50 + n)
    }
}

/// The forward-hook lab: client C 10.231.k.2 — router R (10.231.k.1 | 10.232.k.1, ip_forward
/// on; banjo runs here) — server S 10.232.k.2. C and S route via R.
pub struct ForwardLab {
    pub k: u8,
    pub client: Netns,
    pub server: Netns,
    pub router: Netns,
    pub client_ip: String,
    pub server_ip: String,
}

impl ForwardLab {
    pub fn new() -> ForwardLab {
        let k = next_k();
        let router = Netns::add("r");
        let client = Netns::add("c");
        let server = Netns::add("s");
        let lab = ForwardLab {
            k,
            client,
            server,
            router,
            client_ip: format!("10.231.{k}.2"),
            server_ip: format!("10.232.{k}.2"),
        };
        let (r_c, r_s) = (format!("10.231.{k}.1"), format!("10.232.{k}.1"));
        veth(
            &lab.router,
            "to-c",
            Some(&format!("{r_c}/24")),
            &lab.client,
            "eth0",
            Some(&format!("{}/24", lab.client_ip)),
        );
        veth(
            &lab.router,
            "to-s",
            Some(&format!("{r_s}/24")),
            &lab.server,
            "eth0",
            Some(&format!("{}/24", lab.server_ip)),
        );
        lab.client.ip(&["route", "add", "default", "via", &r_c]);
        lab.server.ip(&["route", "add", "default", "via", &r_s]);
        lab.router.sysctl("net.ipv4.ip_forward", "1");
        lab
    }
}

/// The bridge lab: switch W holds bridge br0 with two veth ports, to client C 10.231.k.2 and
/// server S 10.231.k.1 (one subnet, no routing); banjo runs in W and filters bridged frames.
pub struct BridgeLab {
    pub k: u8,
    pub client: Netns,
    pub server: Netns,
    pub switch: Netns,
    pub client_ip: String,
    pub server_ip: String,
}

impl BridgeLab {
    pub fn new() -> BridgeLab {
        let k = next_k();
        let switch = Netns::add("w");
        let client = Netns::add("c");
        let server = Netns::add("s");
        let lab = BridgeLab {
            k,
            client,
            server,
            switch,
            client_ip: format!("10.231.{k}.2"),
            server_ip: format!("10.231.{k}.1"),
        };
        lab.switch
            .ip(&["link", "add", "br0", "type", "bridge", "stp_state", "0"]);
        lab.switch.ip(&["link", "set", "br0", "up"]);
        for (port, peer, ip) in [
            ("port-c", &lab.client, &lab.client_ip),
            ("port-s", &lab.server, &lab.server_ip),
        ] {
            veth(&lab.switch, port, None, peer, "eth0", Some(&format!("{ip}/24")));
            lab.switch.ip(&["link", "set", port, "master", "br0"]);
        }
        lab
    }
}

/// Runs `f` on a thread that entered namespace NS (setns is per thread), and returns its
/// result. Sockets made there stay in NS wherever they are used later.
pub fn in_netns<T: Send>(ns: &Netns, f: impl FnOnce() -> T + Send) -> T {
    let path = ns.path();
    std::thread::scope(|s| {
        s.spawn(|| {
            enter_netns(&path);
            f()
        })
        .join()
        .unwrap_or_else(|e| std::panic::resume_unwind(e))
    })
}

/// Moves the calling thread into the network namespace at PATH.
fn enter_netns(path: &Path) {
    let file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    // SAFETY: setns on an fd we own; CLONE_NEWNET affects only this thread.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(
        rc,
        0,
        "setns {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

/// A TCP listener on 0.0.0.0:PORT in a namespace that accepts (and closes) connections on a
/// background thread; Drop stops it.
pub struct Listener {
    pub port: u16,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Listener {
    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Listens on 0.0.0.0:PORT inside NS.
pub fn listen(ns: &Netns, port: u16) -> Listener {
    let listener = in_netns(ns, || {
        TcpListener::bind(("0.0.0.0", port)).unwrap_or_else(|e| panic!("listen on :{port}: {e}"))
    });
    listener.set_nonblocking(true).expect("nonblocking listener");
    let accepted = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let (accepted, stop) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok(_) => {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
                    Err(_) => std::thread::sleep(POLL),
                }
            }
        })
    };
    Listener {
        port,
        accepted,
        stop,
        thread: Some(thread),
    }
}

/// Whether a TCP connection from namespace FROM to ADDR:PORT completes within `timeout`.
pub fn connects_within(from: &Netns, addr: &str, port: u16, timeout: Duration) -> bool {
    let target: SocketAddr = format!("{addr}:{port}").parse().expect("address:port");
    in_netns(from, || TcpStream::connect_timeout(&target, timeout).is_ok())
}

/// Whether a TCP connection from FROM to ADDR:PORT completes within 1 s (a dropped SYN
/// times out; a reject fails at once).
pub fn connects(from: &Netns, addr: &str, port: u16) -> bool {
    connects_within(from, addr, port, CONNECT_TIMEOUT)
}
