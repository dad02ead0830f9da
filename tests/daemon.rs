//! `banjo run` against real parts: a private systemd-journald it reads failures from and logs
//! to, network namespaces it guards with its nftables table, TCP clients that get dropped or
//! not, and sd_notify, signals, kill -9 and restarts as systemd would drive them.
//! The harness_* tests prove the harness itself (with a stand-in daemon where one is needed);
//! the others encode the daemon's contract. All need root; they skip, saying why, without it.
//! Each test has its own journal, namespaces and subnet, so they run in parallel.
mod common;

use std::time::{Duration, Instant};

use common::daemon::{Banjo, NotifySocket, parse_notification};
use common::journal::{Journal, field, native_datagram};
use common::net::{BridgeLab, ForwardLab, Lab, connects, listen, set_elements};
use common::{fixture, holds_for, read, wait_until};

/// banjo must be READY=1 within this.
const READY: Duration = Duration::from_secs(10);
/// A ban must be in the set this long after the failure that triggers it was logged.
const BAN: Duration = Duration::from_secs(5);

fn config(name: &str) -> String {
    read(&fixture(&format!("daemon/{name}")))
}

/// Logs one vpopmail password failure from ADDR, as vchkpw writes it.
fn fail(journal: &Journal, addr: &str) {
    let message = format!("vchkpw-submission: password fail (pass: 'x') postmaster@example.org:{addr}");
    journal.send(&[("SYSLOG_IDENTIFIER", "vpopmail"), ("MESSAGE", &message)]);
}

fn fails(journal: &Journal, addr: &str, n: usize) {
    for _ in 0..n {
        fail(journal, addr);
    }
}

/// A journal, the input-hook lab and banjo running in its server with a fixture config, READY.
/// Fields drop in order: banjo first, then the namespaces, then the journal.
struct Scene {
    banjo: Banjo,
    lab: Lab,
    journal: Journal,
}

impl Scene {
    fn start(config_name: &str) -> Scene {
        let journal = Journal::start();
        let lab = Lab::new();
        let mut banjo = Banjo::start(&lab.server, &journal, &config(config_name));
        banjo.wait_ready(READY);
        Scene { banjo, lab, journal }
    }

    /// Waits until ADDR is in SET; panics with banjo's diagnostics if it is not within 5 s.
    fn expect_banned(&mut self, set: &str, addr: &str) -> common::net::SetElement {
        match self.lab.server.wait_banned(set, addr, BAN) {
            Some(ban) => ban,
            None => panic!(
                "{addr} not in {set} within {BAN:?}; set: {:?}\n{}",
                self.lab.server.banned(set),
                self.banjo.diagnostics()
            ),
        }
    }

    fn is_banned(&self, set: &str, addr: &str) -> bool {
        self.lab.server.ban_of(set, addr).is_some()
    }
}

// ---------------------------------------------------------------------------------------
// The harness itself: these pass without the daemon.
// ---------------------------------------------------------------------------------------

#[test]
fn harness_native_datagram_uses_binary_form_only_for_newlines_and_nul() {
    let d = native_datagram(&[("MESSAGE", "one line\r"), ("MULTI", "a\nb"), ("NUL", "a\0b")]);
    let mut want = b"MESSAGE=one line\r\nMULTI\n".to_vec();
    want.extend_from_slice(&3u64.to_le_bytes());
    want.extend_from_slice(b"a\nb\nNUL\n");
    want.extend_from_slice(&3u64.to_le_bytes());
    want.extend_from_slice(b"a\0b\n");
    assert_eq!(d, want);
}

#[test]
fn harness_parses_nft_set_json() {
    let answer = serde_json::json!({"nftables": [
        {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
        {"set": {"family": "inet", "name": "vpopmail-v4", "table": "banjo", "type": "ipv4_addr",
                 "flags": ["timeout"], "elem": [
            {"elem": {"val": "10.231.1.2", "timeout": 30, "expires": 29}},
            "10.231.1.3",
            {"prefix": {"addr": "10.231.2.0", "len": 24}}
        ]}}
    ]});
    let e = set_elements(&answer);
    assert_eq!(e.len(), 3);
    assert_eq!(
        (e[0].addr.as_str(), e[0].timeout_s, e[0].expires_s),
        ("10.231.1.2", Some(30), Some(29))
    );
    assert_eq!((e[1].addr.as_str(), e[1].timeout_s), ("10.231.1.3", None));
    assert_eq!(e[2].addr, "10.231.2.0/24");
}

#[test]
fn harness_notify_socket_parses_datagrams_from_a_fake_sender() {
    assert_eq!(
        parse_notification(b"READY=1\nSTATUS=a = b\n\nnonsense\n"),
        vec![
            ("READY".to_string(), "1".to_string()),
            ("STATUS".to_string(), "a = b".to_string())
        ]
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let notify = NotifySocket::bind(&dir.path().join("notify.sock"));
    let sender = std::os::unix::net::UnixDatagram::unbound().expect("socket");
    for datagram in [
        "READY=1\nSTATUS=Up\n",
        "WATCHDOG=1",
        "RELOADING=1\nMONOTONIC_USEC=12",
    ] {
        sender.send_to(datagram.as_bytes(), notify.path()).expect("send");
    }
    assert!(wait_until(Duration::from_secs(2), || notify.len() == 3));
    let all = notify.all();
    assert!(all[0].says("READY", "1"));
    assert_eq!(all[0].get("STATUS"), Some("Up"));
    assert!(all[1].says("WATCHDOG", "1"));
    assert_eq!(all[2].get("MONOTONIC_USEC"), Some("12"));
    assert_eq!(notify.find(0, "RELOADING", "1"), Some(2));
    assert_eq!(notify.find(1, "READY", "1"), None);
}

#[test]
fn harness_journal_stores_entries_and_survives_a_journald_restart() {
    skip_unless_capable!();
    let mut journal = Journal::start();
    let other = Journal::start();
    journal.send(&[
        ("SYSLOG_IDENTIFIER", "vpopmail"),
        (
            "MESSAGE",
            "vchkpw-submission: password fail (pass: 'x') a@b.xy:10.231.1.2",
        ),
        ("MULTI", "line one\nline two"),
    ]);
    let entries = journal
        .wait_for_entries(&["SYSLOG_IDENTIFIER=vpopmail"], 1, Duration::from_secs(5))
        .expect("the entry is read back");
    assert_eq!(
        field(&entries[0], "MESSAGE").as_deref(),
        Some("vchkpw-submission: password fail (pass: 'x') a@b.xy:10.231.1.2")
    );
    assert_eq!(field(&entries[0], "MULTI").as_deref(), Some("line one\nline two"));
    assert!(
        other.entries(&["SYSLOG_IDENTIFIER=vpopmail"]).is_empty(),
        "journals of two tests must not share entries"
    );

    let old_pid = journal.journald_pid();
    journal.restart();
    assert_ne!(journal.journald_pid(), old_pid);
    journal.send(&[("SYSLOG_IDENTIFIER", "vpopmail"), ("MESSAGE", "after restart")]);
    let entries = journal
        .wait_for_entries(&["SYSLOG_IDENTIFIER=vpopmail"], 2, Duration::from_secs(5))
        .expect("both entries after a journald restart");
    assert_eq!(field(&entries[1], "MESSAGE").as_deref(), Some("after restart"));
}

#[test]
fn harness_lab_connects_attacker_and_good_client_to_server() {
    skip_unless_capable!();
    let lab = Lab::new();
    let smtp = listen(&lab.server, 25);
    assert!(connects(&lab.attacker, &lab.server_ip_a, 25), "A → S:25");
    assert!(connects(&lab.good, &lab.server_ip_g, 25), "G → S:25");
    assert!(
        !connects(&lab.attacker, &lab.server_ip_a, 26),
        "nothing listens on S:26"
    );
    assert!(wait_until(Duration::from_secs(2), || smtp.accepted() >= 2));
    assert!(!lab.server.has_table("inet", "banjo"));
}

#[test]
fn harness_forward_lab_routes_client_to_server() {
    skip_unless_capable!();
    let lab = ForwardLab::new();
    let _smtp = listen(&lab.server, 25);
    assert!(connects(&lab.client, &lab.server_ip, 25), "C → R → S:25");
}

#[test]
fn harness_bridge_lab_bridges_client_to_server() {
    skip_unless_capable!();
    let lab = BridgeLab::new();
    let _smtp = listen(&lab.server, 25);
    assert!(
        wait_until(Duration::from_secs(3), || connects(
            &lab.client,
            &lab.server_ip,
            25
        )),
        "C → br0 → S:25"
    );
}

#[test]
fn harness_reads_set_elements_with_timeouts_from_a_namespace() {
    skip_unless_capable!();
    let lab = Lab::new();
    let nft = |args: &[&str]| {
        let out = lab.server.nft(args);
        assert!(
            out.status.success(),
            "nft {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    nft(&["add", "table", "inet", "banjo"]);
    nft(&["add set inet banjo vpopmail-v4 { type ipv4_addr; flags timeout; }"]);
    nft(&["add element inet banjo vpopmail-v4 { 10.231.1.2 timeout 30s }"]);
    nft(&["add", "table", "bridge", "banjo"]);
    nft(&["add set bridge banjo vpopmail-v4 { type ipv4_addr; }"]);
    nft(&["add element bridge banjo vpopmail-v4 { 10.231.1.3 }"]);

    let ban = lab.server.ban_of("vpopmail-v4", "10.231.1.2").expect("element");
    assert_eq!(ban.timeout_s, Some(30));
    assert!(ban.expires_s.is_some_and(|e| (27..=30).contains(&e)), "{ban:?}");
    let bridged = lab.server.banned_in("bridge", "banjo", "vpopmail-v4");
    assert_eq!(bridged.len(), 1);
    assert_eq!(bridged[0].addr, "10.231.1.3");
    assert!(lab.server.banned("nosuchset").is_empty());
    // The host's ruleset is never involved: the table exists only in the lab's server.
    assert!(lab.server.has_table("inet", "banjo"));
    assert!(!lab.attacker.has_table("inet", "banjo"));
}

/// Adds the kind of table the daemon is meant to build, by hand: table FAMILY banjo, set
/// vpopmail-v4 with timeouts holding ADDR for 30 s, and a chain on HOOK that drops tcp to
/// port 25 from the set.
fn hand_written_ban(ns: &common::net::Netns, family: &str, hook: &str, addr: &str) {
    let script = format!(
        "add table {family} banjo\n\
         add set {family} banjo vpopmail-v4 {{ type ipv4_addr; flags timeout; }}\n\
         add chain {family} banjo {hook} {{ type filter hook {hook} priority -10; policy accept; }}\n\
         add rule {family} banjo {hook} ip saddr @vpopmail-v4 tcp dport 25 drop\n\
         add element {family} banjo vpopmail-v4 {{ {addr} timeout 30s }}\n"
    );
    let file = tempfile::NamedTempFile::new().expect("nft script file");
    std::fs::write(file.path(), script).expect("nft script");
    let out = ns.nft(&["-f", file.path().to_str().expect("utf-8 path")]);
    assert!(
        out.status.success(),
        "nft -f: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn harness_hand_written_bans_drop_traffic_in_each_lab() {
    skip_unless_capable!();
    // Input hook on the server: A is dropped on 25 only; G is not.
    let lab = Lab::new();
    let _smtp = listen(&lab.server, 25);
    let _other = listen(&lab.server, 8025);
    hand_written_ban(&lab.server, "inet", "input", &lab.attacker_ip);
    assert!(!connects(&lab.attacker, &lab.server_ip_a, 25), "input: A → S:25");
    assert!(
        connects(&lab.attacker, &lab.server_ip_a, 8025),
        "input: A → S:8025"
    );
    assert!(connects(&lab.good, &lab.server_ip_g, 25), "input: G → S:25");

    // Forward hook on the router.
    let fwd = ForwardLab::new();
    let _smtp = listen(&fwd.server, 25);
    let _other = listen(&fwd.server, 8025);
    assert!(connects(&fwd.client, &fwd.server_ip, 25));
    hand_written_ban(&fwd.router, "inet", "forward", &fwd.client_ip);
    assert!(!connects(&fwd.client, &fwd.server_ip, 25), "forward: C → S:25");
    assert!(connects(&fwd.client, &fwd.server_ip, 8025), "forward: C → S:8025");

    // Bridge family, forward hook, on the switch.
    let br = BridgeLab::new();
    let _smtp = listen(&br.server, 25);
    let _other = listen(&br.server, 8025);
    assert!(wait_until(Duration::from_secs(3), || connects(
        &br.client,
        &br.server_ip,
        25
    )));
    hand_written_ban(&br.switch, "bridge", "forward", &br.client_ip);
    assert!(!connects(&br.client, &br.server_ip, 25), "bridge: C → S:25");
    assert!(connects(&br.client, &br.server_ip, 8025), "bridge: C → S:8025");
    assert!(
        br.switch
            .wait_banned_in("bridge", "vpopmail-v4", &br.client_ip, BAN)
            .is_some()
    );
}

#[test]
fn harness_fake_daemon_runs_in_the_lab_and_the_journal() {
    skip_unless_capable!();
    let journal = Journal::start();
    let lab = Lab::new();
    let script = fixture("daemon/fake-banjo.py");
    let script = script.to_str().expect("utf-8 path");
    let mut fake = Banjo::start_with(&lab.server, &journal, "# unused\n", &["python3", script], &[]);
    fake.wait_ready(READY);

    let up = journal
        .wait_for_entries(&["SYSLOG_IDENTIFIER=fake-banjo"], 1, Duration::from_secs(5))
        .expect("the stand-in logs to the private journal at /run/systemd/journal/socket");
    assert_eq!(
        field(&up[0], "IFACES").as_deref(),
        Some("lo,to-a,to-g"),
        "it runs in the lab's server namespace"
    );
    assert_eq!(field(&up[0], "STARTS").as_deref(), Some("1"));
    let message = field(&up[0], "MESSAGE").unwrap_or_default();
    assert!(message.ends_with("--log journal"), "{message}");
    assert!(message.contains(&fake.config_path().display().to_string()));

    assert!(fake.reload(Duration::from_secs(5)), "RELOADING=1 then READY=1");
    let mark = fake.notify_mark();
    let status = fake.term().expect("exits on SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(
        fake.notifications()[mark..]
            .iter()
            .any(|n| n.says("STOPPING", "1"))
    );

    fake.restart();
    fake.wait_ready(READY);
    let again = journal
        .wait_for_entries(&["SYSLOG_IDENTIFIER=fake-banjo"], 2, Duration::from_secs(5))
        .expect("second start logged");
    assert_eq!(
        field(&again[1], "STARTS").as_deref(),
        Some("2"),
        "STATE_DIRECTORY is kept across a restart"
    );
    fake.kill9();
    assert!(!fake.is_running());
}

// ---------------------------------------------------------------------------------------
// The daemon's contract.
// ---------------------------------------------------------------------------------------

#[test]
fn bans_after_maxretry_within_findtime_and_not_before() {
    skip_unless_capable!();
    let mut s = Scene::start("vpopmail.toml");
    let addr = s.lab.attacker_ip.clone();
    fails(&s.journal, &addr, 2);
    s.journal
        .wait_for_entries(&["SYSLOG_IDENTIFIER=vpopmail"], 2, Duration::from_secs(5))
        .expect("two failures in the journal");
    assert!(
        holds_for(Duration::from_secs(1), || !s.is_banned("vpopmail-v4", &addr)),
        "banned after 2 of maxretry 3 failures\n{}",
        s.banjo.diagnostics()
    );
    fail(&s.journal, &addr);
    let ban = s.expect_banned("vpopmail-v4", &addr);
    let timeout = ban.timeout_s.expect("the element has a kernel timeout");
    assert!((27..=33).contains(&timeout), "timeout {timeout} s, bantime 30s");
}

#[test]
fn ipv6_failures_ban_their_64_into_the_net6_set() {
    skip_unless_capable!();
    let mut s = Scene::start("vpopmail.toml");
    // Documentation addresses: they only appear in log lines, no traffic goes to them.
    for host in 1..=3 {
        fails(&s.journal, &format!("2001:db8:231:{}::{host}", s.lab.k), 1);
    }
    s.expect_banned("vpopmail-net6", &format!("2001:db8:231:{}::/64", s.lab.k));
    assert!(
        s.lab.server.banned("vpopmail-v4").is_empty() && s.lab.server.banned("vpopmail-v6").is_empty(),
        "a /64 ban in an address set"
    );
}

#[test]
fn ipv6_prefix_128_bans_single_addresses_into_the_v6_set() {
    skip_unless_capable!();
    let journal = Journal::start();
    let lab = Lab::new();
    let cfg = config("vpopmail.toml").replace("maxretry = 3", "maxretry = 3\nipv6_prefix = 128");
    let mut banjo = Banjo::start(&lab.server, &journal, &cfg);
    banjo.wait_ready(READY);
    let mut s = Scene { banjo, lab, journal };
    let addr = format!("2001:db8:231:{}::2", s.lab.k);
    fails(&s.journal, &format!("2001:db8:231:{}::3", s.lab.k), 2);
    fails(&s.journal, &addr, 3);
    s.expect_banned("vpopmail-v6", &addr);
    assert!(
        s.lab.server.banned("vpopmail-net6").is_empty(),
        "a network banned"
    );
    assert!(!s.is_banned("vpopmail-v6", &format!("2001:db8:231:{}::3", s.lab.k)));
}

#[test]
fn banned_address_is_dropped_other_still_connects() {
    skip_unless_capable!();
    let mut s = Scene::start("vpopmail.toml");
    let _smtp = listen(&s.lab.server, 25);
    let _other = listen(&s.lab.server, 8025);
    assert!(
        connects(&s.lab.attacker, &s.lab.server_ip_a, 25),
        "A → S:25 before the ban"
    );
    let addr = s.lab.attacker_ip.clone();
    fails(&s.journal, &addr, 3);
    s.expect_banned("vpopmail-v4", &addr);
    assert!(
        !connects(&s.lab.attacker, &s.lab.server_ip_a, 25),
        "A → S:25 after the ban\n{}",
        s.banjo.diagnostics()
    );
    assert!(connects(&s.lab.good, &s.lab.server_ip_g, 25), "G → S:25");
    assert!(
        connects(&s.lab.attacker, &s.lab.server_ip_a, 8025),
        "A → S:8025, a port the jail does not guard"
    );
}

#[test]
fn ban_lifts_after_bantime() {
    skip_unless_capable!();
    let mut s = Scene::start("vpopmail-short-ban.toml");
    let _smtp = listen(&s.lab.server, 25);
    let addr = s.lab.attacker_ip.clone();
    fails(&s.journal, &addr, 3);
    s.expect_banned("vpopmail-v4", &addr);
    assert!(
        !connects(&s.lab.attacker, &s.lab.server_ip_a, 25),
        "dropped while banned"
    );
    assert!(
        wait_until(Duration::from_secs(8), || !s.is_banned("vpopmail-v4", &addr)),
        "element still there 8 s after a 3 s ban\n{}",
        s.banjo.diagnostics()
    );
    assert!(
        connects(&s.lab.attacker, &s.lab.server_ip_a, 25),
        "A → S:25 after the ban"
    );
    let ip = format!("IP={addr}");
    let unban = wait_until(Duration::from_secs(3), || {
        s.journal.entries(&["JAIL=vpopmail", &ip]).iter().any(|e| {
            field(e, "MESSAGE").is_some_and(|m| m.starts_with(&format!("Unban {addr} jail=vpopmail")))
        })
    });
    assert!(
        unban,
        "no `Unban {addr} jail=vpopmail` record\n{}",
        s.banjo.diagnostics()
    );
}

#[test]
fn ignoreip_is_honoured() {
    skip_unless_capable!();
    let mut s = Scene::start("vpopmail.toml");
    let good = s.lab.good_ip.clone();
    let marker = s.lab.spare_attacker_ip(0);
    fails(&s.journal, &good, 5);
    // Logged after the good client's: once the marker is banned, those lines were read.
    fails(&s.journal, &marker, 3);
    s.expect_banned("vpopmail-v4", &marker);
    assert!(
        !s.is_banned("vpopmail-v4", &good),
        "{good} is in ignoreip 10.232.0.0/16 but was banned"
    );
    let _smtp = listen(&s.lab.server, 25);
    assert!(connects(&s.lab.good, &s.lab.server_ip_g, 25), "G → S:25");
}

#[test]
fn audit_record_has_structured_fields() {
    skip_unless_capable!();
    let mut s = Scene::start("vpopmail.toml");
    let addr = s.lab.attacker_ip.clone();
    fails(&s.journal, &addr, 3);
    s.expect_banned("vpopmail-v4", &addr);
    let ip = format!("IP={addr}");
    let prefix = format!("Ban {addr} jail=vpopmail bantime=");
    let mut record = None;
    wait_until(BAN, || {
        record = s
            .journal
            .entries(&["JAIL=vpopmail", &ip])
            .into_iter()
            .find(|e| field(e, "MESSAGE").is_some_and(|m| m.starts_with(&prefix)));
        record.is_some()
    });
    let Some(record) = record else {
        panic!(
            "no `{prefix}…` record with JAIL and IP fields\n{}",
            s.banjo.diagnostics()
        );
    };
    let message = field(&record, "MESSAGE").unwrap_or_default();
    assert!(message.contains("failures=3"), "{message}");
    let id = field(&record, "MESSAGE_ID").unwrap_or_default();
    assert!(
        id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()),
        "MESSAGE_ID {id:?} is not a 128-bit id"
    );
    assert_eq!(field(&record, "JAIL").as_deref(), Some("vpopmail"));
    assert_eq!(field(&record, "IP").as_deref(), Some(addr.as_str()));
    assert!(
        field(&record, "BANTIME").is_some_and(|b| !b.is_empty()),
        "BANTIME: {record}"
    );
    assert_eq!(field(&record, "FAILURES").as_deref(), Some("3"));
}

#[test]
fn kill9_restart_keeps_ban_and_does_not_double_count() {
    skip_unless_capable!();
    let mut s = Scene::start("vpopmail.toml");
    let banned = s.lab.attacker_ip.clone();
    let resumed = s.lab.spare_attacker_ip(1); // 2 failures before the crash, 1 after
    let before_only = s.lab.spare_attacker_ip(2); // 2 failures before the crash, none after
    let marker = s.lab.spare_attacker_ip(3);

    fails(&s.journal, &banned, 3);
    let first = s.expect_banned("vpopmail-v4", &banned);
    let banned_at = Instant::now();
    let expires_first = first.expires_s.expect("the ban expires");
    fails(&s.journal, &resumed, 2);
    fails(&s.journal, &before_only, 2);
    fails(&s.journal, &marker, 3);
    s.expect_banned("vpopmail-v4", &marker); // the lines before it were read

    // Let the ban's clock run 4 s, so a ban re-added with a full bantime would show
    // (the check below allows 2 s for nft's whole-second rounding).
    let ran = wait_until(Duration::from_secs(7), || {
        s.lab
            .server
            .ban_of("vpopmail-v4", &banned)
            .and_then(|b| b.expires_s)
            .is_some_and(|e| e + 4 <= expires_first)
    });
    assert!(
        ran,
        "the ban's expiry did not count down 4 s: {:?}\n{}",
        s.lab.server.ban_of("vpopmail-v4", &banned),
        s.banjo.diagnostics()
    );
    s.banjo.kill9();
    s.banjo.restart();
    s.banjo.wait_ready(READY);

    fail(&s.journal, &resumed);
    if s.lab.server.wait_banned("vpopmail-v4", &resumed, BAN).is_none() {
        panic!(
            "{resumed}: 2 failures before kill -9 and 1 after must ban (the earlier two counted \
             once, e.g. failure windows saved with the cursor); set: {:?}\n{}",
            s.lab.server.banned("vpopmail-v4"),
            s.banjo.diagnostics()
        );
    }
    assert!(
        !s.is_banned("vpopmail-v4", &before_only),
        "{before_only} had 2 failures, read again after the restart and counted twice\n{}",
        s.banjo.diagnostics()
    );
    let kept = s
        .lab
        .server
        .ban_of("vpopmail-v4", &banned)
        .expect("the ban survives kill -9 and restart");
    let expires = kept.expires_s.expect("still expires");
    let elapsed = banned_at.elapsed().as_secs();
    assert!(
        expires + elapsed <= expires_first + 2,
        "remaining time reset: {expires} s left, {expires_first} s {elapsed} s ago"
    );
}

/// A password with CR, LF or NUL in it, sent by the client and logged by vchkpw inside its
/// one journal entry (a LF used to make the line go uncounted). The MESSAGE is one record:
/// each such failure counts, and the address is the one vchkpw wrote at the end, also when
/// the password imitates the end of a line with another address.
#[test]
fn a_password_with_cr_lf_or_nul_is_still_counted() {
    skip_unless_capable!();
    let mut s = Scene::start("vpopmail.toml");
    let send = |journal: &Journal, password: &str, addr: &str| {
        let message =
            format!("vchkpw-submission: password fail (pass: '{password}') postmaster@example.org:{addr}");
        journal.send(&[("SYSLOG_IDENTIFIER", "vpopmail"), ("MESSAGE", &message)]);
    };
    let fake = s.lab.spare_attacker_ip(9);
    for (n, byte) in ["\n", "\r", "\0", "\r\n"].iter().enumerate() {
        let addr = s.lab.spare_attacker_ip(n as u8 + 1);
        for _ in 0..3 {
            send(&s.journal, &format!("x{byte}y"), &addr);
        }
        s.expect_banned("vpopmail-v4", &addr);
    }
    // a password ending like a whole vchkpw line: the real address, the last one, is taken
    let addr = s.lab.attacker_ip.clone();
    for byte in ["\n", "\0", "\r"] {
        send(
            &s.journal,
            &format!("x') postmaster@example.org:{fake}{byte}"),
            &addr,
        );
    }
    s.expect_banned("vpopmail-v4", &addr);
    assert!(!s.is_banned("vpopmail-v4", &fake), "{}", s.banjo.diagnostics());
}

/// The built-in sshd filter through journald: "Disconnecting: Too many authentication
/// failures" counts for the address of its connection's (its pid's) "Connection from" line;
/// an address with only context lines ("Connection from", "Connection closed") is not banned.
#[test]
fn sshd_multi_line_failures_ban_the_connections_address() {
    skip_unless_capable!();
    let mut s = Scene::start("sshd-multiline.toml");
    let send = |journal: &Journal, pid: u32, message: &str| {
        let pid = pid.to_string();
        journal.send(&[
            ("SYSLOG_IDENTIFIER", "sshd"),
            ("SYSLOG_PID", &pid),
            ("MESSAGE", message),
        ]);
    };
    let (bad, quiet) = (s.lab.attacker_ip.clone(), s.lab.spare_attacker_ip(3));
    let from = |addr: &str| format!("Connection from {addr} port 40022 on 10.0.0.1 port 22");
    for pid in [4100, 4102, 4104] {
        send(&s.journal, pid + 1, &from(&quiet));
        send(&s.journal, pid, &from(&bad));
        send(
            &s.journal,
            pid + 1,
            &format!("Connection closed by {quiet} port 40022 [preauth]"),
        );
    }
    s.journal
        .wait_for_entries(&["SYSLOG_IDENTIFIER=sshd"], 9, Duration::from_secs(5))
        .expect("the context lines are in the journal");
    assert!(
        holds_for(Duration::from_secs(1), || !s.is_banned("sshd-v4", &bad)
            && !s.is_banned("sshd-v4", &quiet)),
        "context lines banned\n{}",
        s.banjo.diagnostics()
    );
    for pid in [4100, 4102] {
        send(
            &s.journal,
            pid,
            "Disconnecting: Too many authentication failures [preauth]",
        );
    }
    s.expect_banned("sshd-v4", &bad);
    assert!(!s.is_banned("sshd-v4", &quiet), "{}", s.banjo.diagnostics());
}

#[test]
fn failures_logged_while_down_are_counted() {
    skip_unless_capable!();
    let mut s = Scene::start("vpopmail.toml");
    let marker = s.lab.spare_attacker_ip(0);
    fails(&s.journal, &marker, 3);
    s.expect_banned("vpopmail-v4", &marker); // banjo has read the journal up to here
    let status = s.banjo.term().expect("banjo exits on SIGTERM");
    assert!(status.success(), "{status}\n{}", s.banjo.diagnostics());

    let addr = s.lab.attacker_ip.clone();
    fails(&s.journal, &addr, 3);
    s.journal
        .wait_for_entries(&["SYSLOG_IDENTIFIER=vpopmail"], 6, Duration::from_secs(5))
        .expect("the failures are in the journal before banjo starts");
    s.banjo.restart();
    s.banjo.wait_ready(READY);
    s.expect_banned("vpopmail-v4", &addr);
}

#[test]
fn term_exits_zero_and_leaves_bans_in_the_kernel() {
    skip_unless_capable!();
    let mut s = Scene::start("vpopmail.toml");
    let addr = s.lab.attacker_ip.clone();
    fails(&s.journal, &addr, 3);
    s.expect_banned("vpopmail-v4", &addr);
    let mark = s.banjo.notify_mark();
    let status = s.banjo.term().expect("banjo exits within 5 s of SIGTERM");
    assert_eq!(status.code(), Some(0), "{}", s.banjo.diagnostics());
    assert!(
        s.banjo.notifications()[mark..]
            .iter()
            .any(|n| n.says("STOPPING", "1")),
        "no STOPPING=1\n{}",
        s.banjo.diagnostics()
    );
    assert!(
        s.is_banned("vpopmail-v4", &addr),
        "without flush_on_stop the ban stays until its timeout"
    );
}

#[test]
fn keeps_reading_after_a_journald_restart() {
    skip_unless_capable!();
    let mut s = Scene::start("vpopmail.toml");
    let addr = s.lab.attacker_ip.clone();
    fails(&s.journal, &addr, 2);
    s.journal
        .wait_for_entries(&["SYSLOG_IDENTIFIER=vpopmail"], 2, Duration::from_secs(5))
        .expect("two failures in the journal");
    // As `systemctl restart systemd-journald` on a package upgrade: same files, new process.
    s.journal.restart();
    fail(&s.journal, &addr);
    s.expect_banned("vpopmail-v4", &addr);
    assert!(s.banjo.is_running(), "{}", s.banjo.diagnostics());
}

#[test]
fn flushed_ruleset_comes_back() {
    skip_unless_capable!();
    let mut s = Scene::start("vpopmail.toml");
    let _smtp = listen(&s.lab.server, 25);
    let addr = s.lab.attacker_ip.clone();
    fails(&s.journal, &addr, 3);
    s.expect_banned("vpopmail-v4", &addr);
    let out = s.lab.server.nft(&["flush", "ruleset"]);
    assert!(out.status.success(), "nft flush ruleset in the lab's server");
    assert!(
        wait_until(Duration::from_secs(3), || s.is_banned("vpopmail-v4", &addr)),
        "table and ban not back within 3 s of `nft flush ruleset`\n{}",
        s.banjo.diagnostics()
    );
    assert!(
        !connects(&s.lab.attacker, &s.lab.server_ip_a, 25),
        "dropped again: the rule came back with the set"
    );
}

#[test]
fn forward_hook_drops_routed_traffic() {
    skip_unless_capable!();
    let journal = Journal::start();
    let lab = ForwardLab::new();
    let mut banjo = Banjo::start(&lab.router, &journal, &config("forward.toml"));
    banjo.wait_ready(READY);
    let _smtp = listen(&lab.server, 25);
    let _other = listen(&lab.server, 8025);
    assert!(
        connects(&lab.client, &lab.server_ip, 25),
        "C → S:25 before the ban"
    );
    fails(&journal, &lab.client_ip, 3);
    if lab
        .router
        .wait_banned("vpopmail-v4", &lab.client_ip, BAN)
        .is_none()
    {
        panic!("not banned on the router\n{}", banjo.diagnostics());
    }
    assert!(
        !connects(&lab.client, &lab.server_ip, 25),
        "routed C → S:25 after the ban"
    );
    assert!(
        connects(&lab.client, &lab.server_ip, 8025),
        "C → S:8025, a port the jail does not guard"
    );
}

#[test]
fn bridge_family_drops_bridged_traffic() {
    skip_unless_capable!();
    let journal = Journal::start();
    let lab = BridgeLab::new();
    let mut banjo = Banjo::start(&lab.switch, &journal, &config("bridge.toml"));
    banjo.wait_ready(READY);
    let _smtp = listen(&lab.server, 25);
    let _other = listen(&lab.server, 8025);
    assert!(
        wait_until(Duration::from_secs(3), || connects(
            &lab.client,
            &lab.server_ip,
            25
        )),
        "C → S:25 before the ban"
    );
    fails(&journal, &lab.client_ip, 3);
    if lab
        .switch
        .wait_banned_in("bridge", "vpopmail-v4", &lab.client_ip, BAN)
        .is_none()
    {
        panic!(
            "not in `table bridge banjo` set vpopmail-v4\n{}",
            banjo.diagnostics()
        );
    }
    assert!(
        !connects(&lab.client, &lab.server_ip, 25),
        "bridged C → S:25 after the ban"
    );
    assert!(
        connects(&lab.client, &lab.server_ip, 8025),
        "C → S:8025, a port the jail does not guard"
    );
}

#[test]
fn bad_config_on_sighup_keeps_old_one() {
    skip_unless_capable!();
    let mut s = Scene::start("vpopmail.toml");
    s.banjo.write_config(&config("vpopmail-bad-bantime.toml"));
    // Only what banjo says after the SIGHUP counts: its start-up lines may name bantime too.
    let (stderr_before, journal_before) = (s.banjo.stderr().len(), s.banjo.journal_log().len());
    s.banjo.sighup();
    let named = wait_until(BAN, || {
        s.banjo
            .stderr()
            .get(stderr_before..)
            .is_some_and(|t| t.contains("bantime"))
            || s.banjo
                .journal_log()
                .get(journal_before..)
                .is_some_and(|t| t.contains("bantime"))
    });
    assert!(
        named,
        "the refused reload names the bad key\n{}",
        s.banjo.diagnostics()
    );
    assert!(
        s.banjo.is_running(),
        "a bad config must not stop banjo\n{}",
        s.banjo.diagnostics()
    );

    let addr = s.lab.attacker_ip.clone();
    fails(&s.journal, &addr, 3);
    let ban = s.expect_banned("vpopmail-v4", &addr);
    let timeout = ban.timeout_s.unwrap_or_default();
    assert!(
        (27..=33).contains(&timeout),
        "the old bantime 30s still applies, got {timeout} s"
    );
}

#[test]
fn sighup_adds_a_jail_and_keeps_bans() {
    skip_unless_capable!();
    let mut s = Scene::start("vpopmail.toml");
    let addr = s.lab.attacker_ip.clone();
    fails(&s.journal, &addr, 3);
    s.expect_banned("vpopmail-v4", &addr);

    s.banjo.write_config(&config("vpopmail-and-app.toml"));
    assert!(
        s.banjo.reload(Duration::from_secs(5)),
        "RELOADING=1 then READY=1 after SIGHUP\n{}",
        s.banjo.diagnostics()
    );
    assert!(
        s.is_banned("vpopmail-v4", &addr),
        "the reload dropped vpopmail's ban"
    );
    let app_attacker = s.lab.spare_attacker_ip(4);
    for _ in 0..3 {
        s.journal.send(&[
            ("SYSLOG_IDENTIFIER", "app"),
            ("MESSAGE", &format!("auth failed from {app_attacker}")),
        ]);
    }
    s.expect_banned("app-v4", &app_attacker);
}

/// `banjo CMD --socket <the daemon's socket> ARGS…`: the admin's commands, run as root.
fn ctl(banjo: &Banjo, args: &[&str]) -> std::process::Output {
    let socket = banjo.runtime_dir().join("banjo.sock");
    std::process::Command::new(common::daemon::banjo_bin())
        .arg("--socket")
        .arg(&socket)
        .args(args)
        .output()
        .expect("run the banjo CLI")
}

fn ctl_json(banjo: &Banjo, args: &[&str]) -> serde_json::Value {
    let out = ctl(banjo, args);
    assert!(
        out.status.success(),
        "banjo {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("banjo {args:?}: not JSON ({e})"))
}

#[test]
fn control_commands_work_against_the_running_daemon() {
    skip_unless_capable!();
    let mut s = Scene::start("vpopmail.toml");
    let attacker = s.lab.attacker_ip.clone();
    let other = s.lab.spare_attacker_ip(7);

    let status = ctl_json(&s.banjo, &["status", "--json"]);
    assert!(status.to_string().contains("vpopmail"), "{status}");

    // a failure is visible in explain before any ban
    fail(&s.journal, &attacker);
    let seen = wait_until(BAN, || {
        ctl_json(&s.banjo, &["explain", &attacker, "--json"])
            .to_string()
            .contains("vchkpw-submission")
    });
    assert!(seen, "explain shows the failure line\n{}", s.banjo.diagnostics());

    // ban by hand: in the kernel set, in `banned`, in `status JAIL`
    ctl_json(&s.banjo, &["ban", "vpopmail", &other, "--time", "1h", "--json"]);
    let ban = s.expect_banned("vpopmail-v4", &other);
    assert!(
        ban.timeout_s.is_some_and(|t| (3590..=3600).contains(&t)),
        "{ban:?}"
    );
    let banned = ctl_json(&s.banjo, &["banned", "vpopmail", "--json"]);
    assert!(banned.to_string().contains(&other), "{banned}");
    let jail = ctl_json(&s.banjo, &["status", "vpopmail", "--json"]);
    assert!(jail.to_string().contains(&other), "{jail}");
    let stats = ctl_json(&s.banjo, &["stats", "--json"]);
    assert!(stats.to_string().contains("vpopmail"), "{stats}");

    // unban: gone from the kernel
    ctl_json(&s.banjo, &["unban", "vpopmail", &other, "--json"]);
    assert!(
        wait_until(BAN, || !s.is_banned("vpopmail-v4", &other)),
        "unbanned address still in the set\n{}",
        s.banjo.diagnostics()
    );

    // a reload through the socket, and a refused one (unknown jail) with a clear error
    ctl_json(&s.banjo, &["reload", "--json"]);
    let out = ctl(&s.banjo, &["status", "no-such-jail"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-jail"));
    assert!(s.banjo.is_running(), "the daemon survives the refused request");
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `banjo ban --time 1000y` used to answer success while the kernel refused the element
/// (ERANGE), and that one element then kept every other ban out of every batch: refused at the
/// door now, and an element the kernel refuses for any other reason (here a set someone gave a
/// size limit of two) is marked NOT blocked in the ledger, shown by ban, status and explain,
/// while every other ban goes in; after an external flush the table comes back with all of them.
#[test]
fn a_ban_the_kernel_refuses_never_keeps_the_others_out() {
    skip_unless_capable!();
    let journal = Journal::start();
    let lab = Lab::new();
    // a set banjo adopts (same name, type and flags) but that holds two addresses at most
    let made = lab.server.nft(&["add", "table", "inet", "banjo"]);
    assert!(made.status.success());
    let made = lab.server.nft(&[
        "add",
        "set",
        "inet",
        "banjo",
        "vpopmail-v4",
        "{ type ipv4_addr; flags timeout; size 2; }",
    ]);
    assert!(made.status.success(), "{}", stderr_of(&made));
    let banjo = Banjo::start(&lab.server, &journal, &config("vpopmail.toml"));
    let mut s = Scene { banjo, lab, journal };
    s.banjo.wait_ready(READY);

    // a time the kernel cannot hold is refused before anything is recorded
    let too_long = s.lab.spare_attacker_ip(9);
    let out = ctl(&s.banjo, &["ban", "vpopmail", &too_long, "--time", "1000y"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("longest ban nftables can time") && stderr_of(&out).contains("584 years"),
        "{}",
        stderr_of(&out)
    );
    let banned = ctl_json(&s.banjo, &["banned", "--json"]);
    assert!(!banned.to_string().contains(&too_long), "{banned}");

    // two fit; the third is refused by the kernel (set full), recorded, and said so
    let (a, b, c) = (
        s.lab.spare_attacker_ip(1),
        s.lab.spare_attacker_ip(2),
        s.lab.spare_attacker_ip(3),
    );
    ctl_json(&s.banjo, &["ban", "vpopmail", &a, "--time", "1h", "--json"]);
    ctl_json(&s.banjo, &["ban", "vpopmail", &b, "--time", "1h", "--json"]);
    let out = ctl(&s.banjo, &["ban", "vpopmail", &c, "--time", "1h"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout_of(&out),
        stderr_of(&out)
    );
    assert!(
        stderr_of(&out).contains("NOT blocked") && stderr_of(&out).contains("the set is full"),
        "{}",
        stderr_of(&out)
    );
    s.expect_banned("vpopmail-v4", &a);
    s.expect_banned("vpopmail-v4", &b);
    assert!(!s.is_banned("vpopmail-v4", &c));
    let out = stdout_of(&ctl(&s.banjo, &["status", "vpopmail"]));
    assert!(out.contains(&format!("{c} in vpopmail is NOT blocked")), "{out}");
    let out = stdout_of(&ctl(&s.banjo, &["status"]));
    assert!(out.contains("3 (1 NOT blocked)"), "{out}");
    let out = stdout_of(&ctl(&s.banjo, &["explain", &c]));
    assert!(out.contains("NOT blocked: nftables refused it"), "{out}");
    let jail = ctl_json(&s.banjo, &["status", "vpopmail", "--json"]);
    let refused: Vec<&serde_json::Value> = jail["banned"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| !b["refused"].is_null())
        .collect();
    assert_eq!(refused.len(), 1, "{jail}");
    assert_eq!(refused[0]["addr"], c.as_str());

    // a flush of the set is seen and every ban put back: two fit again, one is refused again
    let out = s
        .lab
        .server
        .nft(&["flush", "set", "inet", "banjo", "vpopmail-v4"]);
    assert!(out.status.success());
    let in_set = |s: &Scene| {
        [&a, &b, &c]
            .iter()
            .filter(|x| s.is_banned("vpopmail-v4", x))
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(3), || in_set(&s) == 2),
        "two bans back after a flush of the set\n{}",
        s.banjo.diagnostics()
    );

    // an external flush of the whole table: banjo makes its own set, and all three go in
    let out = s.lab.server.nft(&["delete", "table", "inet", "banjo"]);
    assert!(out.status.success());
    for addr in [&a, &b, &c] {
        s.expect_banned("vpopmail-v4", addr);
    }
    let refused_gone = wait_until(Duration::from_secs(3), || {
        !ctl_json(&s.banjo, &["status", "vpopmail", "--json"])
            .to_string()
            .contains("refused\":\"")
    });
    assert!(
        refused_gone,
        "the mark goes once the kernel takes the ban\n{}",
        s.banjo.diagnostics()
    );
    fails(&s.journal, &s.lab.attacker_ip.clone(), 3);
    let attacker = s.lab.attacker_ip.clone();
    s.expect_banned("vpopmail-v4", &attacker);
}

/// A state file written before banjo knew the kernel's limit (or edited by hand) holds a ban
/// of 1000 years: banjo used to fail to start (every restore batch refused). It starts, every
/// ban is back in a flushed table, the long one with the longest timeout the kernel takes.
#[test]
fn a_restart_with_a_thousand_year_ban_in_the_state_file_restores_everything() {
    skip_unless_capable!();
    let mut s = Scene::start("vpopmail.toml");
    let (short, long) = (s.lab.spare_attacker_ip(1), s.lab.spare_attacker_ip(2));
    ctl_json(&s.banjo, &["ban", "vpopmail", &short, "--time", "1h", "--json"]);
    ctl_json(&s.banjo, &["ban", "vpopmail", &long, "--time", "1h", "--json"]);
    s.expect_banned("vpopmail-v4", &long);
    let status = s.banjo.term().expect("banjo exits on SIGTERM");
    assert!(status.success(), "{}", s.banjo.diagnostics());

    let path = s.banjo.state_dir().join("bans.json");
    let mut state: serde_json::Value = serde_json::from_str(&read(&path)).unwrap();
    for ban in state["bans"].as_array_mut().unwrap() {
        if ban["target"] == long.as_str() {
            ban["until"] = "3025-01-01T00:00:00Z".into();
        }
    }
    std::fs::write(&path, state.to_string()).unwrap();
    let out = s.lab.server.nft(&["delete", "table", "inet", "banjo"]);
    assert!(out.status.success());

    s.banjo.restart();
    s.banjo.wait_ready(READY);
    s.expect_banned("vpopmail-v4", &short);
    let ban = s.expect_banned("vpopmail-v4", &long);
    let longest = 18_446_744_073u64; // banjo::time::LONGEST_BAN
    assert!(
        ban.timeout_s.is_some_and(|t| t + 5 >= longest && t <= longest),
        "{ban:?}"
    );
    let out = stdout_of(&ctl(&s.banjo, &["status"]));
    assert!(!out.contains("NOT blocked"), "{out}");
}

/// The state file holds bans of a jail the config no longer has (removed while banjo was
/// stopped): one such ban used to make every restore fail, so banjo did not start. They go
/// as on a reload ("jail removed from the configuration"); the other bans come back.
#[test]
fn a_restart_without_a_jail_that_still_has_bans_starts_and_restores_the_others() {
    skip_unless_capable!();
    let journal = Journal::start();
    let lab = Lab::new();
    let mut banjo = Banjo::start(&lab.server, &journal, &config("vpopmail-and-app.toml"));
    banjo.wait_ready(READY);
    let mut s = Scene { banjo, lab, journal };
    let (kept, gone) = (s.lab.spare_attacker_ip(1), s.lab.spare_attacker_ip(2));
    ctl_json(&s.banjo, &["ban", "vpopmail", &kept, "--time", "1h", "--json"]);
    ctl_json(&s.banjo, &["ban", "app", &gone, "--time", "1h", "--json"]);
    s.expect_banned("app-v4", &gone);
    let status = s.banjo.term().expect("banjo exits on SIGTERM");
    assert!(status.success(), "{}", s.banjo.diagnostics());
    let out = s.lab.server.nft(&["delete", "table", "inet", "banjo"]);
    assert!(out.status.success());

    s.banjo.write_config(&config("vpopmail.toml"));
    s.banjo.restart();
    s.banjo.wait_ready(READY);
    s.expect_banned("vpopmail-v4", &kept);
    let banned = ctl_json(&s.banjo, &["banned", "--json"]);
    assert!(!banned.to_string().contains(&gone), "{banned}");
}

/// A FIFO like banjo-qmail-smtpd.socket's. The test holds it open as systemd does, so lines
/// written while banjo is down wait in the pipe and writers never see a reader-less FIFO.
struct QmailFifo {
    path: std::path::PathBuf,
    _held: std::fs::File,
    _dir: tempfile::TempDir,
}

impl QmailFifo {
    fn new() -> QmailFifo {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qmail-smtpd.fifo");
        let made = std::process::Command::new("mkfifo").arg(&path).status().unwrap();
        assert!(made.success());
        let held = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        QmailFifo {
            path,
            _held: held,
            _dir: dir,
        }
    }

    /// Starts banjo with the FIFO as listen fd 3 named qmail-smtpd, as ListenFIFO= +
    /// FileDescriptorName= would (the sh wrapper keeps banjo's pid for LISTEN_PID).
    fn start_banjo(&self, lab: &Lab, journal: &Journal, env: &[(&str, &str)]) -> Banjo {
        let wrapper = "exec 3<>\"$BANJO_TEST_FIFO\"; \
                       LISTEN_FDS=1 LISTEN_FDNAMES=qmail-smtpd LISTEN_PID=$$ exec \"$@\"";
        let bin = common::daemon::banjo_bin();
        let mut env = env.to_vec();
        env.push(("BANJO_TEST_FIFO", self.path.to_str().unwrap()));
        let program = ["sh", "-c", wrapper, "sh", &bin];
        Banjo::start_with(&lab.server, journal, &config("qmail-fifo.toml"), &program, &env)
    }
}

/// Writes LINES through `tai64n` into the FIFO, as qmail's log/run pipeline does, then exits.
fn multilog_writes(fifo: &std::path::Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg("tai64n > \"$0\"")
        .arg(fifo)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("tai64n");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
}

fn greetdelay(addr: &str) -> String {
    format!("GREETDELAY from {addr}: client sent data before greeting")
}

#[test]
fn multilog_fifo_bans_and_survives_writer_restarts_garbage_and_banjo_restart() {
    skip_unless_capable!();
    if std::process::Command::new("tai64n")
        .arg("--help")
        .output()
        .is_err()
    {
        eprintln!("SKIP: tai64n (daemontools) is not installed; make deps installs it");
        return;
    }
    let journal = Journal::start();
    let lab = Lab::new();
    let q = QmailFifo::new();
    let fifo = q.path.clone();
    let mut banjo = q.start_banjo(&lab, &journal, &[]);
    banjo.wait_ready(READY);
    let banned = |addr: &str| lab.server.wait_banned("qmail-smtp-v4", addr, BAN).is_some();

    // a writer sends two failures and exits (end of file for it, not for banjo)
    let a1 = lab.spare_attacker_ip(11);
    multilog_writes(&fifo, &[greetdelay(&a1), greetdelay(&a1)]);
    assert!(banned(&a1), "{}", banjo.diagnostics());

    // the writer restarts: garbage, invalid UTF-8 and an overlong line first, then failures
    let a2 = lab.spare_attacker_ip(12);
    let garbage = vec![
        "@4000zzzz not a stamp".to_string(),
        String::from_utf8_lossy(b"\xff\xfe binary \x01 junk").into_owned(),
        "x".repeat(200_000),
        format!("qmail-smtpd: reject (auth not available): (null) from {a2}"),
        greetdelay(&a2),
    ];
    multilog_writes(&fifo, &garbage);
    assert!(banned(&a2), "{}", banjo.diagnostics());
    assert!(banjo.is_running());

    // banjo stops; lines written meanwhile are read after the restart
    assert_eq!(banjo.term().and_then(|s| s.code()), Some(0));
    let a3 = lab.spare_attacker_ip(13);
    multilog_writes(&fifo, &[greetdelay(&a3), greetdelay(&a3)]);
    let mut banjo = q.start_banjo(&lab, &journal, &[]);
    banjo.wait_ready(READY);
    assert!(
        banned(&a3),
        "lines written while banjo was down\n{}",
        banjo.diagnostics()
    );
    assert!(banned(&a1) && banned(&a2), "earlier bans survive the restart");
}

#[test]
fn a_slow_service_manager_never_stalls_bans() {
    // sd_notify's send blocks while the manager's socket is full: a burst of bans must not
    // become a burst of STATUS= datagrams (found with a notify socket nobody read).
    skip_unless_capable!();
    let journal = Journal::start();
    let lab = Lab::new();
    let q = QmailFifo::new();
    let fifo = q.path.clone();
    let unread = q.path.with_file_name("unread-notify.sock");
    let _manager = std::os::unix::net::UnixDatagram::bind(&unread).unwrap();
    let mut banjo = q.start_banjo(&lab, &journal, &[("NOTIFY_SOCKET", unread.to_str().unwrap())]);
    assert!(
        wait_until(READY, || lab.server.has_table("inet", "banjo")),
        "{}",
        banjo.diagnostics()
    );
    let addrs: Vec<String> = (0..40).map(|i| lab.spare_attacker_ip(100 + i)).collect();
    let lines: Vec<String> = addrs
        .iter()
        .flat_map(|a| [greetdelay(a), greetdelay(a)])
        .collect();
    multilog_writes(&fifo, &lines);
    for a in &addrs {
        assert!(
            lab.server.wait_banned("qmail-smtp-v4", a, BAN).is_some(),
            "{a} not banned: the loop stalled?\n{}",
            banjo.diagnostics()
        );
    }
}

#[test]
fn socket_activation_starts_banjo_on_the_first_query() {
    // systemd-socket-activate plays banjo.socket: it listens, and the first connection starts
    // banjo with the listening fd named "control"
    skip_unless_capable!();
    if std::process::Command::new("systemd-socket-activate")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIP: systemd-socket-activate is not installed");
        return;
    }
    let journal = Journal::start();
    let lab = Lab::new();
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("banjo.sock");
    let bin = common::daemon::banjo_bin();
    let sock_s = sock.to_str().unwrap();
    let mut banjo = Banjo::start_with(
        &lab.server,
        &journal,
        &config("vpopmail.toml"),
        &[
            "systemd-socket-activate",
            "-l",
            sock_s,
            "--fdname=control",
            "-E",
            "STATE_DIRECTORY",
            "-E",
            "RUNTIME_DIRECTORY",
            "-E",
            "NOTIFY_SOCKET",
            "-E",
            "TZ",
            &bin,
        ],
        &[],
    );
    assert!(
        wait_until(READY, || sock.exists()),
        "the activator listens\n{}",
        banjo.diagnostics()
    );
    assert!(
        holds_for(Duration::from_millis(300), || !lab
            .server
            .has_table("inet", "banjo")),
        "banjo started before anyone asked"
    );
    let out = std::process::Command::new(&bin)
        .args(["--socket", sock_s, "status", "--json"])
        .output()
        .expect("banjo status");
    assert!(
        out.status.success(),
        "status through the activated socket: {}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        banjo.diagnostics()
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("vpopmail"));
    assert!(
        lab.server.has_table("inet", "banjo"),
        "the first query started banjo"
    );
}

#[test]
fn journal_rotation_and_vacuum_lose_nothing_and_reread_nothing() {
    skip_unless_capable!();
    let mut s = Scene::start("vpopmail.toml");
    let a = s.lab.attacker_ip.clone();
    let b = s.lab.spare_attacker_ip(21);
    fails(&s.journal, &a, 2);
    fails(&s.journal, &b, 2);
    s.journal
        .wait_for_entries(&["SYSLOG_IDENTIFIER=vpopmail"], 4, Duration::from_secs(5))
        .expect("four failures in the journal");
    // SIGUSR2: journald rotates its files; then the archived ones are vacuumed away
    let pid = s.journal.journald_pid().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-USR2", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(300));
    let _ = s.journal.journalctl(&["--vacuum-files=1"]);
    // nothing read twice: re-reading b's two failures would make four, and a ban
    assert!(
        holds_for(Duration::from_secs(1), || !s.is_banned("vpopmail-v4", &b)),
        "failures re-read after the rotation\n{}",
        s.banjo.diagnostics()
    );
    // b's two failures were counted before the rotation: one more bans it; a gets one too
    fail(&s.journal, &b);
    let ban = s.expect_banned("vpopmail-v4", &b);
    assert!(ban.timeout_s.is_some());
    fail(&s.journal, &a);
    s.expect_banned("vpopmail-v4", &a);
    assert!(s.banjo.is_running());
}

#[test]
fn a_backlog_longer_than_one_turn_is_read_to_the_end() {
    // banjo reads the journal in turns of 20000 entries; the journal fd stays quiet for a
    // backlog written before banjo started, so the loop itself must come back for the rest
    skip_unless_capable!();
    let mut s = Scene::start("vpopmail.toml");
    assert_eq!(s.banjo.term().and_then(|st| st.code()), Some(0));
    for i in 0..25_000 {
        let msg = format!("vchkpw-pop3: (PLAIN) login success user{i}@example.org:10.232.9.9");
        s.journal
            .send(&[("SYSLOG_IDENTIFIER", "vpopmail"), ("MESSAGE", &msg)]);
    }
    let addr = s.lab.attacker_ip.clone();
    fails(&s.journal, &addr, 3);
    s.journal
        .wait_for_entries(
            &["SYSLOG_IDENTIFIER=vpopmail", "-n", "3"],
            3,
            Duration::from_secs(20),
        )
        .expect("the backlog is in the journal");
    s.banjo.restart();
    s.banjo.wait_ready(READY);
    let found = s
        .lab
        .server
        .wait_banned("vpopmail-v4", &addr, Duration::from_secs(20));
    assert!(
        found.is_some(),
        "failures after a 25000-entry backlog\n{}",
        s.banjo.diagnostics()
    );
}
