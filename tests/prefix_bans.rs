//! IPv6-aware banning with real packets (issue 14): failures counted by /64, the /64 banned
//! in the jail's interval set, escalation to the /56, an ignoreip address (from a `file:`
//! list) never caught by a prefix, and `[blocklist]` files dropped after start and reload,
//! on a router's forward hook and a switch's bridge table too, per jail with `scope = "jails"`.
//! The lab's attacker namespace holds many addresses of fd31:K::/48 on one veth (nodad), and
//! each connection is made from a chosen source address. All need root; they skip without.
mod common;

use std::net::{Ipv6Addr, SocketAddrV6, TcpListener};
use std::os::fd::AsRawFd;
use std::time::Duration;

use common::daemon::Banjo;
use common::journal::Journal;
use common::net::{BridgeLab, ForwardLab, Lab, Netns, connects, in_netns, listen};
use common::{fixture, read, wait_until};

const READY: Duration = Duration::from_secs(10);
const BAN: Duration = Duration::from_secs(5);

/// The lab with IPv6 on the attacker's link: S has fd31:K::1/48; A gets addresses on demand.
struct Scene {
    banjo: Banjo,
    _listener: TcpListener,
    lab: Lab,
    journal: Journal,
    /// The lab's /48, "fd31:K", without the trailing colons.
    net: String,
}

impl Scene {
    /// banjo with the daemon tests' vpopmail config, its `maxretry = 3` line replaced by
    /// `settings`, and `extra` appended.
    fn start(settings: &str, extra: &str) -> Scene {
        let journal = Journal::start();
        let lab = Lab::new();
        let net = format!("fd31:{}", lab.k);
        lab.server.ip(&[
            "-6",
            "addr",
            "add",
            &format!("{net}::1/48"),
            "dev",
            "to-a",
            "nodad",
        ]);
        // A pins S's link-layer address: its neighbour probes for S take any source address A
        // has, a banned one too, and S's input hook drops those; the entry would then fail
        // (seen under load, once the entry went stale) and a connection that should complete
        // would not, whatever the bans.
        let mac = lab.server.exec(&["cat", "/sys/class/net/to-a/address"]);
        let mac = String::from_utf8_lossy(&mac.stdout).trim().to_string();
        lab.attacker.ip(&[
            "-6",
            "neigh",
            "replace",
            &format!("{net}::1"),
            "lladdr",
            &mac,
            "dev",
            "eth0",
            "nud",
            "permanent",
        ]);
        let listener = in_netns(&lab.server, || {
            TcpListener::bind("[::]:25").expect("listen on [::]:25")
        });
        let cfg = read(&fixture("daemon/vpopmail.toml")).replace("maxretry = 3", settings) + extra;
        let mut banjo = Banjo::start(&lab.server, &journal, &cfg);
        banjo.wait_ready(READY);
        Scene {
            banjo,
            _listener: listener,
            lab,
            journal,
            net,
        }
    }

    /// The address `fd31:K:0:SUBNET::HOST`.
    fn addr(&self, subnet: u16, host: u16) -> String {
        format!("{}:0:{subnet:x}::{host:x}", self.net)
    }

    fn fail(&self, addr: &str) {
        let message = format!("vchkpw-submission: password fail (pass: 'x') postmaster@example.org:{addr}");
        self.journal
            .send(&[("SYSLOG_IDENTIFIER", "vpopmail"), ("MESSAGE", &message)]);
    }

    /// Whether A reaches S:25 from `src` (added to A's link first).
    /// A connection from `src` completes: tried up to 5 times, a second each, because on a
    /// loaded machine one SYN round trip over veth can take longer than the connect timeout.
    fn connects_from(&self, src: &str) -> bool {
        (0..5).any(|_| connects_from(&self.lab.attacker, src, &format!("{}::1", self.net), 25))
    }

    /// A connection from `src` does not complete within a second (a dropped SYN).
    fn dropped_from(&self, src: &str) -> bool {
        !connects_from(&self.lab.attacker, src, &format!("{}::1", self.net), 25)
    }

    fn expect_in(&mut self, set: &str, element: &str) {
        if self.lab.server.wait_banned(set, element, BAN).is_none() {
            panic!(
                "{element} not in {set} within {BAN:?}; set: {:?}\n{}",
                self.lab.server.banned(set),
                self.banjo.diagnostics()
            );
        }
    }

    fn set(&self, set: &str) -> Vec<String> {
        self.lab.server.banned(set).into_iter().map(|e| e.addr).collect()
    }
}

/// `banjo --socket <the daemon's socket> ARGS…`: its output.
fn ctl(banjo: &Banjo, args: &[&str]) -> String {
    let out = std::process::Command::new(common::daemon::banjo_bin())
        .arg("--socket")
        .arg(banjo.runtime_dir().join("banjo.sock"))
        .args(args)
        .output()
        .expect("run the banjo CLI");
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// A TCP connection from SRC to [DST]:PORT in NS completes within a second. SRC is added to
/// the namespace's eth0 (nodad, so it is usable at once) when it is not there yet.
fn connects_from(ns: &Netns, src: &str, dst: &str, port: u16) -> bool {
    ns.ip(&[
        "-6",
        "addr",
        "replace",
        &format!("{src}/48"),
        "dev",
        "eth0",
        "nodad",
    ]);
    let src: Ipv6Addr = src.parse().expect("source address");
    let dst: Ipv6Addr = dst.parse().expect("destination address");
    in_netns(ns, || {
        use nix::sys::socket::{
            AddressFamily, SockFlag, SockType, SockaddrIn6, bind, connect, setsockopt, socket, sockopt,
        };
        use nix::sys::time::{TimeVal, TimeValLike};
        let fd = socket(
            AddressFamily::Inet6,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .expect("socket");
        bind(
            fd.as_raw_fd(),
            &SockaddrIn6::from(SocketAddrV6::new(src, 0, 0, 0)),
        )
        .expect("bind the source");
        // a dropped SYN makes connect() give up after SO_SNDTIMEO
        setsockopt(&fd, sockopt::SendTimeout, &TimeVal::seconds(1)).expect("SO_SNDTIMEO");
        connect(
            fd.as_raw_fd(),
            &SockaddrIn6::from(SocketAddrV6::new(dst, port, 0, 0)),
        )
        .is_ok()
    })
}

#[test]
fn five_addresses_of_one_64_ban_the_64_and_another_64_still_connects() {
    skip_unless_capable!();
    let mut s = Scene::start("maxretry = 5", "");
    assert!(s.connects_from(&s.addr(1, 2)), "before the ban");
    for host in 2..=6 {
        s.fail(&s.addr(1, host));
    }
    s.expect_in("vpopmail-net6", &format!("{}:0:1::/64", s.net));
    assert!(s.set("vpopmail-v6").is_empty(), "single addresses banned too");
    assert!(
        s.dropped_from(&s.addr(1, 7)),
        "a sixth address of the /64 is dropped"
    );
    assert!(
        s.connects_from(&s.addr(2, 2)),
        "an address of another /64 still connects"
    );
    let log = s.banjo.journal_log();
    let record = log
        .lines()
        .find(|l| l.contains(&format!("Ban {}:0:1::/64", s.net)));
    let record = record.unwrap_or_else(|| panic!("no ban record:\n{log}"));
    for host in 2..=6 {
        assert!(
            record.contains(&s.addr(1, host)),
            "the record names the addresses seen: {record}"
        );
    }
    let explain = ctl(&s.banjo, &["explain", &s.addr(1, 7)]);
    assert!(
        explain.contains(&format!("counted under {}:0:1::/64", s.net))
            && explain.contains(&format!("by the ban of {}:0:1::/64", s.net))
            && explain.contains(&format!("seen in it: {}", s.addr(1, 2))),
        "{explain}"
    );
}

#[test]
fn bans_of_three_64s_of_one_56_escalate_to_the_56() {
    skip_unless_capable!();
    let mut s = Scene::start("maxretry = 2", "");
    for subnet in 1..=3 {
        s.fail(&s.addr(subnet, 2));
        s.fail(&s.addr(subnet, 3));
        if subnet < 3 {
            s.expect_in("vpopmail-net6", &format!("{}:0:{subnet}::/64", s.net));
        }
    }
    s.expect_in("vpopmail-net6", &format!("{}::/56", s.net));
    assert!(
        wait_until(BAN, || s.set("vpopmail-net6") == [format!("{}::/56", s.net)]),
        "the /64s are folded into the /56: {:?}",
        s.set("vpopmail-net6")
    );
    assert!(
        s.dropped_from(&s.addr(0x40, 2)),
        "a /64 of the /56 that never failed is dropped"
    );
    assert!(s.connects_from(&s.addr(0x100, 2)), "another /56 still connects");
}

#[test]
fn an_ignoreip_address_from_a_file_is_never_caught_by_a_prefix() {
    skip_unless_capable!();
    let lists = tempfile::tempdir().expect("temp dir");
    let partners = lists.path().join("partners.txt");
    // the lab's addresses are known once it exists: the list goes in with a reload
    let ignore = format!("ignoreip = [\"10.232.0.0/16\", \"file:{}\"]", partners.display());
    let mut s = Scene::start("maxretry = 3", "");
    let cfg = read(&s.banjo.config_path()).replace("ignoreip = [\"10.232.0.0/16\"]", &ignore);
    std::fs::write(&partners, format!("# partners\n{} ; monitoring\n", s.addr(1, 9)))
        .expect("write the list");
    s.banjo.write_config(&cfg);
    assert!(s.banjo.reload(READY), "reload\n{}", s.banjo.diagnostics());
    for host in 2..=4 {
        s.fail(&s.addr(1, host));
    }
    s.expect_in("vpopmail-net6", &format!("{}:0:1::/125", s.net));
    assert!(
        s.connects_from(&s.addr(1, 9)),
        "the partner's address still connects"
    );
    assert!(
        s.dropped_from(&s.addr(1, 7)),
        "an address of the narrower ban is dropped"
    );
    assert!(
        !s.set("vpopmail-net6").contains(&format!("{}:0:1::/64", s.net)),
        "the /64 holds the partner"
    );
    let log = s.banjo.journal_log();
    assert!(log.contains("never bans"), "the record says why:\n{log}");
    // a list that cannot be read on reload keeps what it had: the partner stays ignored
    std::fs::remove_file(&partners).expect("remove the list");
    assert!(s.banjo.reload(READY), "reload\n{}", s.banjo.diagnostics());
    let explain = ctl(&s.banjo, &["explain", &s.addr(1, 9)]);
    assert!(explain.contains("ignored:"), "{explain}");
}

#[test]
fn blocklist_files_are_dropped_after_start_and_after_reload() {
    skip_unless_capable!();
    let lists = tempfile::tempdir().expect("temp dir");
    let drop = lists.path().join("drop.txt");
    // written again once the lab's addresses are known (below), before the reload
    std::fs::write(
        &drop,
        "; Spamhaus DROP-style\n198.51.100.0/24 ; SBL1\nnot an address\n",
    )
    .expect("write");
    let extra = format!("\n[blocklist]\nfiles = [\"{}\"]\n", drop.display());
    let mut s = Scene::start("maxretry = 3", &extra);
    s.expect_in("_blocklist-net4", "198.51.100.0/24");
    let log = s.banjo.journal_log();
    assert!(
        log.contains(&format!("{}:3:", drop.display())) && log.contains("not an address"),
        "the bad line is reported with file and line:\n{log}"
    );
    assert!(s.connects_from(&s.addr(3, 2)), "not listed yet");
    let text = format!(
        "; Spamhaus DROP-style\n{}:0:3::/64 ; SBL2\nbroken/99\n{} ; SBL3\n",
        s.net,
        s.addr(5, 5)
    );
    std::fs::write(&drop, text).expect("write");
    assert!(s.banjo.reload(READY), "reload\n{}", s.banjo.diagnostics());
    s.expect_in("_blocklist-net6", &format!("{}:0:3::/64", s.net));
    s.expect_in("_blocklist-v6", &s.addr(5, 5));
    assert!(
        wait_until(BAN, || s.set("_blocklist-net4").is_empty()),
        "an entry no longer listed is lifted"
    );
    assert!(s.dropped_from(&s.addr(3, 2)), "a listed network is dropped");
    assert!(s.connects_from(&s.addr(1, 2)), "an unlisted address connects");
    // a file that cannot be read keeps what it had
    std::fs::remove_file(&drop).expect("remove the list");
    assert!(s.banjo.reload(READY), "reload\n{}", s.banjo.diagnostics());
    assert!(s.dropped_from(&s.addr(3, 2)), "still dropped after a failed read");
    let out = ctl(&s.banjo, &["status"]);
    assert!(out.contains("blocklist: 2 networks and addresses"), "{out}");
    assert!(out.contains("NOT read again"), "{out}");
    // without [blocklist] its sets go, and what they held connects again
    let cfg = std::fs::read_to_string(s.banjo.config_path()).expect("config");
    s.banjo.write_config(&cfg.replace(&extra, ""));
    assert!(s.banjo.reload(READY), "reload\n{}", s.banjo.diagnostics());
    assert!(
        wait_until(BAN, || s
            .lab
            .server
            .nft_json(&["list", "set", "inet", "banjo", "_blocklist-net6"])
            .is_none()),
        "the blocklist's sets are gone"
    );
    assert!(
        s.connects_from(&s.addr(3, 2)),
        "a network no longer listed connects"
    );
}

/// The daemon tests' config FIXTURE with a `[blocklist]` of the file LIST and scope SCOPE.
fn with_blocklist(fixture_name: &str, list: &std::path::Path, scope: &str) -> String {
    read(&fixture(fixture_name))
        + &format!(
            "\n[blocklist]\nfiles = [\"{}\"]\nscope = \"{scope}\"\n",
            list.display()
        )
}

/// A list file holding ADDR, in a directory that lives as long as the returned guard.
fn list_of(addr: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("drop.txt");
    std::fs::write(&path, format!("{addr} ; listed\n")).expect("write the list");
    (dir, path)
}

/// Whether a connection from FROM to ADDR:PORT is refused at once (a reject), as opposed to
/// completing or timing out (a drop).
fn refused(from: &Netns, addr: &str, port: u16) -> bool {
    let target: std::net::SocketAddr = format!("{addr}:{port}").parse().expect("address:port");
    in_netns(from, || {
        std::net::TcpStream::connect_timeout(&target, Duration::from_secs(3))
            .is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused)
    })
}

#[test]
fn blocklist_holds_in_the_forward_hook_of_a_router() {
    skip_unless_capable!();
    let journal = Journal::start();
    let lab = ForwardLab::new();
    let router_ip = format!("10.231.{}.1", lab.k);
    let (_dir, list) = list_of(&lab.client_ip);
    let (_smtp, _other, _own) = (
        listen(&lab.server, 25),
        listen(&lab.server, 8025),
        listen(&lab.router, 8026),
    );
    assert!(
        wait_until(BAN, || connects(&lab.client, &lab.server_ip, 25)),
        "C → S:25 before banjo"
    );
    // forward.toml's one jail guards port 25 of the servers behind the router
    let mut banjo = Banjo::start(
        &lab.router,
        &journal,
        &with_blocklist("daemon/forward.toml", &list, "jails"),
    );
    banjo.wait_ready(READY);
    if lab
        .router
        .wait_banned("_blocklist-v4", &lab.client_ip, BAN)
        .is_none()
    {
        panic!(
            "the listed address is not in _blocklist-v4\n{}",
            banjo.diagnostics()
        );
    }
    assert!(
        !connects(&lab.client, &lab.server_ip, 25),
        "scope jails: routed to the jail's port, dropped in the forward hook"
    );
    assert!(
        connects(&lab.client, &lab.server_ip, 8025),
        "scope jails: a port the jail does not guard"
    );
    assert!(
        connects(&lab.client, &router_ip, 8026),
        "scope jails: the router itself, which no jail guards"
    );
    banjo.write_config(&with_blocklist("daemon/forward.toml", &list, "all"));
    assert!(banjo.reload(READY), "reload\n{}", banjo.diagnostics());
    assert!(
        wait_until(BAN, || !connects(&lab.client, &lab.server_ip, 8025)),
        "scope all: every routed port\n{}",
        lab.router
            .nft(&["list", "table", "inet", "banjo"])
            .stdout
            .escape_ascii()
    );
    assert!(
        !connects(&lab.client, &router_ip, 8026),
        "scope all: the router's own ports too (the input hook)"
    );
    assert!(!connects(&lab.client, &lab.server_ip, 25));
}

#[test]
fn blocklist_holds_in_the_bridge_table_of_a_switch() {
    skip_unless_capable!();
    let journal = Journal::start();
    let lab = BridgeLab::new();
    let (_dir, list) = list_of(&lab.client_ip);
    let (_smtp, _other) = (listen(&lab.server, 25), listen(&lab.server, 8025));
    assert!(
        wait_until(BAN, || connects(&lab.client, &lab.server_ip, 25)),
        "C → S:25 before banjo (bridge ports take a moment)"
    );
    // bridge.toml's one jail guards port 25 of the frames bridged between the ports
    let mut banjo = Banjo::start(
        &lab.switch,
        &journal,
        &with_blocklist("daemon/bridge.toml", &list, "jails"),
    );
    banjo.wait_ready(READY);
    if lab
        .switch
        .wait_banned_in("bridge", "_blocklist-v4", &lab.client_ip, BAN)
        .is_none()
    {
        panic!(
            "the listed address is not in `table bridge banjo` set _blocklist-v4\n{}",
            banjo.diagnostics()
        );
    }
    assert!(
        !connects(&lab.client, &lab.server_ip, 25),
        "scope jails: bridged to the jail's port, dropped in the bridge table"
    );
    assert!(
        connects(&lab.client, &lab.server_ip, 8025),
        "scope jails: a port the jail does not guard"
    );
    banjo.write_config(&with_blocklist("daemon/bridge.toml", &list, "all"));
    assert!(banjo.reload(READY), "reload\n{}", banjo.diagnostics());
    assert!(
        wait_until(BAN, || !connects(&lab.client, &lab.server_ip, 8025)),
        "scope all: every bridged port"
    );
    assert!(
        lab.switch
            .wait_banned_in("inet", "_blocklist-v4", &lab.client_ip, BAN)
            .is_some(),
        "scope all: the switch's own input hook holds the list too"
    );
}

#[test]
fn blocklist_scope_jails_drops_or_rejects_as_each_jail_does() {
    skip_unless_capable!();
    let journal = Journal::start();
    let lab = Lab::new();
    let (_dir, list) = list_of(&lab.attacker_ip);
    let listeners: Vec<_> = [25, 8080, 9090].iter().map(|p| listen(&lab.server, *p)).collect();
    // vpopmail drops on 25, 465, 587; app (8080) rejects
    let cfg = with_blocklist("daemon/vpopmail-and-app.toml", &list, "jails")
        .replace("ports = [8080]", "ports = [8080]\nblocktype = \"reject\"");
    let mut banjo = Banjo::start(&lab.server, &journal, &cfg);
    banjo.wait_ready(READY);
    if lab
        .server
        .wait_banned("_blocklist-v4", &lab.attacker_ip, BAN)
        .is_none()
    {
        panic!(
            "the listed address is not in _blocklist-v4\n{}",
            banjo.diagnostics()
        );
    }
    let a = &lab.server_ip_a;
    assert!(!connects(&lab.attacker, a, 25), "vpopmail's port");
    assert!(!refused(&lab.attacker, a, 25), "vpopmail drops");
    assert!(
        refused(&lab.attacker, a, 8080),
        "app's port, rejected as app does"
    );
    assert!(connects(&lab.attacker, a, 9090), "a port no jail guards");
    assert!(connects(&lab.good, &lab.server_ip_g, 25), "an unlisted client");
    assert!(
        wait_until(BAN, || listeners[0].accepted() == 1),
        "only the good client reached port 25"
    );
}

/// The measure for list files: `cargo test --test prefix_bans -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn blocklist_measure_100k_entries() {
    skip_unless_capable!();
    let lists = tempfile::tempdir().expect("temp dir");
    let drop = lists.path().join("drop.txt");
    let mut text = String::from("; 50k IPv4 /24s and 50k IPv6 /32s\n");
    let half: u32 = std::env::var("BANJO_MEASURE_HALF")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    for i in 0..half {
        text += &format!("11.{}.{}.0/24 ; SBL{i}\n", i >> 8, i & 0xff);
        text += &format!("fd00:{i:x}::/32\n");
    }
    std::fs::write(&drop, text).expect("write");
    let extra = format!("\n[blocklist]\nfiles = [\"{}\"]\n", drop.display());
    let journal = Journal::start();
    let lab = Lab::new();
    let cfg = read(&fixture("daemon/vpopmail.toml")) + &extra;
    let started = std::time::Instant::now();
    let mut banjo = Banjo::start(&lab.server, &journal, &cfg);
    banjo.wait_ready(Duration::from_secs(300));
    let ready = started.elapsed();
    let s = (banjo, lab);
    let log = s.0.journal_log();
    let read = log.lines().find(|l| l.contains("blocklist:")).unwrap_or("");
    let v4 = s.1.server.banned("_blocklist-net4").len();
    let v6 = s.1.server.banned("_blocklist-net6").len();
    println!(
        "100k entries: READY {:.3}s after start (tables, sets, elements); {read}; sets hold {v4} + {v6}",
        ready.as_secs_f64()
    );
    assert_eq!((v4, v6), (half as usize, half as usize));
}

/// The flood measure through the daemon: N failures from distinct addresses of one
/// /64 written into a FIFO banjo reads, by /64 and by address; intake (until an IPv4
/// address's failures written last are banned) and banjo's peak RSS.
/// `BANJO_MEASURE_FLOOD=1000000 cargo test --release --test prefix_bans flood -- --ignored --nocapture`
#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn flood_measure_through_the_daemon() {
    skip_unless_capable!();
    let n: u32 = std::env::var("BANJO_MEASURE_FLOOD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let mut text = String::with_capacity(n as usize * 48);
    for i in 0..n {
        text += &format!(
            "auth failed from 2001:db8:0:1:{:x}:{:x}::1\n",
            i >> 16,
            i & 0xffff
        );
    }
    // the end marker: an IPv4 address's ban says every line before it was taken in
    text += &"auth failed from 192.0.2.77\n".repeat(5);
    for prefix in [64, 128] {
        let journal = Journal::start();
        let lab = Lab::new();
        let dir = tempfile::tempdir().expect("temp dir");
        let fifo = dir.path().join("flood.fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
        let cfg = format!(
            "[defaults]\nignoreself = false\n[filters.flood]\nfailregex = [\"auth failed from <HOST>\"]\n\
             [jails.flood]\nfilter = \"flood\"\nmultilog = \"{}\"\nmaxretry = 5\nfindtime = \"1h\"\n\
             maxtracked = 2000000\nipv6_prefix = {prefix}\n",
            fifo.display()
        );
        let mut banjo = Banjo::start(&lab.server, &journal, &cfg);
        banjo.wait_ready(READY);
        let started = std::time::Instant::now();
        std::fs::write(&fifo, &text).expect("write the flood");
        let marker = lab
            .server
            .wait_banned("flood-v4", "192.0.2.77", Duration::from_secs(600));
        let took = started.elapsed();
        assert!(
            marker.is_some(),
            "the end marker was not banned\n{}",
            banjo.diagnostics()
        );
        let banned = |lab: &Lab| lab.server.banned("flood-net6").len() + lab.server.banned("flood-v6").len();
        let status = std::fs::read_to_string(format!("/proc/{}/status", banjo.pid())).unwrap_or_default();
        let hwm = status
            .lines()
            .find(|l| l.starts_with("VmHWM"))
            .unwrap_or("VmHWM: ?")
            .to_string();
        let bans = banned(&lab);
        println!(
            "ipv6_prefix = {prefix}: {n} failures of one /64 in {:.2}s ({:.0}/s); {hwm}; {bans} element(s) banned",
            took.as_secs_f64(),
            f64::from(n) / took.as_secs_f64()
        );
        if std::env::var_os("BANJO_MEASURE_LOG").is_some() {
            println!("{}", banjo.journal_log());
        }
    }
}
