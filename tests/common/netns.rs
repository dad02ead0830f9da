//! Network namespaces for firewall tests: each test makes its own (`ip netns add
//! banjo-t-<pid>-<n>`), joins veth pairs between them, and lets its thread enter one so that
//! banjo's netlink sockets live there. Everything is removed on drop, also when a test fails.
//! Nothing here touches the host's own namespace: links are created inside the test namespaces.
#![allow(dead_code)]

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// True when the test may create namespaces; prints why not otherwise.
pub fn root_or_skip(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let tools =
        Command::new("ip").arg("-V").output().is_ok() && Command::new("nft").arg("-v").output().is_ok();
    if !root {
        println!("SKIP {test}: needs root (network namespaces, nf_tables)");
    } else if !tools {
        println!("SKIP {test}: needs `ip` and `nft` to observe the namespaces");
    }
    root && tools
}

/// A named network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new() -> Netns {
        let name = format!(
            "banjo-t-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        ns.sh("ip link set lo up");
        ns
    }

    /// Runs a shell command inside; panics with its output when it fails.
    pub fn sh(&self, cmd: &str) -> String {
        sh_in(&self.name, cmd)
    }

    /// Runs a shell command inside and returns its output whatever the exit status.
    pub fn try_sh(&self, cmd: &str) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, "sh", "-c", cmd])
            .output()
            .expect("ip netns exec")
    }

    /// `nft -j list table FAMILY NAME` inside, parsed.
    pub fn nft_json(&self, what: &str) -> serde_json::Value {
        let text = self.sh(&format!("nft -j list {what}"));
        serde_json::from_str(&text).expect("nft -j output is JSON")
    }

    /// Moves the calling thread into the namespace until the guard drops.
    pub fn enter(&self) -> Entered {
        let orig = File::open("/proc/thread-self/ns/net").expect("own netns");
        let target = File::open(format!("/run/netns/{}", self.name)).expect("netns file");
        setns(&target);
        Entered { orig }
    }

    /// Creates a veth pair `here_if` (in self) — `there_if` (in `there`), both up.
    pub fn veth(&self, here_if: &str, there: &Netns, there_if: &str) {
        self.sh(&format!(
            "ip link add {here_if} type veth peer name {there_if} netns {} && ip link set {here_if} up",
            there.name
        ));
        there.sh(&format!("ip link set {there_if} up"));
    }

    /// Binds a listener inside (it stays in this namespace); the kernel completes handshakes
    /// into its backlog without accept().
    pub fn listen(&self, addr: &str) -> TcpListener {
        let _inside = self.enter();
        TcpListener::bind(addr).expect("listener")
    }

    /// Connects from inside, with a timeout: Ok, or the error kind (TimedOut for a drop,
    /// ConnectionRefused for a reset).
    pub fn connect(&self, addr: &str, timeout: Duration) -> Result<(), io::ErrorKind> {
        let addr: SocketAddr = addr.parse().expect("socket address");
        let name = self.name.clone();
        std::thread::spawn(move || {
            let target = File::open(format!("/run/netns/{name}")).expect("netns file");
            setns(&target);
            TcpStream::connect_timeout(&addr, timeout)
                .map(drop)
                .map_err(|e| e.kind())
        })
        .join()
        .expect("connect thread")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

/// While alive, the thread is in another network namespace.
pub struct Entered {
    orig: File,
}

impl Drop for Entered {
    fn drop(&mut self) {
        setns(&self.orig);
    }
}

fn setns(ns: &File) {
    // SAFETY: setns takes a valid open fd (borrowed from a live File) and a namespace type;
    // it changes only the calling thread's network namespace.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns: {}", io::Error::last_os_error());
}

/// `Netns::sh` by the namespace's name, for what holds the name but not the namespace (a
/// backend handed to the daemon).
pub fn sh_in(name: &str, cmd: &str) -> String {
    let out = run(Command::new("ip").args(["netns", "exec", name, "sh", "-c", cmd]));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
