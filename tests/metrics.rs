//! `banjo metrics` against the real daemon (a private journald, a network namespace with its
//! nftables table): the counters move with a ban, an external flush, a refused reload and an
//! unban; `promtool check metrics` (Debian's prometheus package; `make deps` puts its promtool
//! in target/tools and `make unit` passes it as $PROMTOOL) accepts the text; `--http` answers
//! one scrape read from stdin. Needs root; skips, saying why, without it.
mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::daemon::{Banjo, banjo_bin};
use common::journal::Journal;
use common::net::Lab;
use common::{fixture, read, wait_until};

const READY: Duration = Duration::from_secs(10);
const WAIT: Duration = Duration::from_secs(5);

/// `banjo --socket <the daemon's socket> ARGS…`, as root.
fn ctl(banjo: &Banjo, args: &[&str]) -> Output {
    Command::new(banjo_bin())
        .arg("--socket")
        .arg(banjo.runtime_dir().join("banjo.sock"))
        .args(args)
        .output()
        .expect("run the banjo CLI")
}

/// The daemon's metrics text.
fn metrics(banjo: &Banjo) -> String {
    let out = ctl(banjo, &["metrics"]);
    assert!(
        out.status.success(),
        "banjo metrics: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// The value of one series (`name{labels}` exactly as written), if the text has it.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

/// promtool: $PROMTOOL when set (it must then work), else one on PATH; `None`: skip its check.
fn promtool() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PROMTOOL") {
        let p = PathBuf::from(p);
        assert!(
            p.exists(),
            "PROMTOOL={} does not exist: run make deps",
            p.display()
        );
        return Some(p);
    }
    let found = Command::new("promtool").arg("--version").output().is_ok();
    if !found {
        eprintln!("SKIP promtool check: no promtool (make deps fetches it into target/tools)");
    }
    found.then(|| PathBuf::from("promtool"))
}

/// `promtool check metrics` accepts `text`: the format and Prometheus' naming lints.
fn promtool_accepts(text: &str) {
    let Some(promtool) = promtool() else { return };
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write to promtool");
    let out = child.wait_with_output().expect("promtool");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}\n{}{}\n--- the text:\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn fail(journal: &Journal, addr: &str) {
    let message = format!("vchkpw-submission: password fail (pass: 'x') postmaster@example.org:{addr}");
    journal.send(&[("SYSLOG_IDENTIFIER", "vpopmail"), ("MESSAGE", &message)]);
}

#[test]
fn metrics_move_with_bans_flushes_reloads_and_unbans() {
    skip_unless_capable!();
    let journal = Journal::start();
    let lab = Lab::new();
    let good = read(&fixture("daemon/vpopmail.toml"));
    let mut banjo = Banjo::start(&lab.server, &journal, &good);
    banjo.wait_ready(READY);

    let before = metrics(&banjo);
    promtool_accepts(&before);
    let series = |jail_and: &str| format!("{{jail=\"vpopmail\"{jail_and}}}");
    assert_eq!(
        value(
            &before,
            &format!("banjo_bans_total{}", series(",cause=\"failures\""))
        ),
        Some(0.0),
        "a configured jail's series are there from the start\n{before}"
    );
    assert!(before.contains(&format!(
        "banjo_build_info{{version=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION")
    )));
    assert_eq!(value(&before, "banjo_journal_lag_seconds"), Some(0.0), "{before}");

    // three failures ban the attacker
    let addr = lab.attacker_ip.clone();
    for _ in 0..3 {
        fail(&journal, &addr);
    }
    assert!(
        lab.server.wait_banned("vpopmail-v4", &addr, WAIT).is_some(),
        "{}",
        banjo.diagnostics()
    );
    let banned = metrics(&banjo);
    let at = |text: &str, name: &str, labels: &str| value(text, &format!("{name}{}", series(labels)));
    assert_eq!(
        at(&banned, "banjo_bans_total", ",cause=\"failures\""),
        Some(1.0),
        "{banned}"
    );
    assert_eq!(at(&banned, "banjo_bans_active", ",family=\"ipv4\""), Some(1.0));
    assert_eq!(at(&banned, "banjo_bans_active", ",family=\"ipv6\""), Some(0.0));
    assert_eq!(at(&banned, "banjo_failures_total", ""), Some(3.0));
    assert_eq!(at(&banned, "banjo_ban_latency_seconds_count", ""), Some(1.0));
    let within_5s = at(&banned, "banjo_ban_latency_seconds_bucket", ",le=\"5\"");
    assert_eq!(
        within_5s,
        Some(1.0),
        "the ban took less than 5 s from its failure\n{banned}"
    );
    assert!(value(&banned, "banjo_source_entries_total{source=\"journal\"}").is_some_and(|n| n >= 3.0));

    // someone flushes the ruleset: banjo puts it back and counts it
    assert!(lab.server.nft(&["flush", "ruleset"]).status.success());
    let reapplied = "banjo_firewall_reapplies_total{cause=\"changed_by_others\"}";
    assert!(
        wait_until(WAIT, || value(&metrics(&banjo), reapplied)
            .is_some_and(|n| n >= 1.0)),
        "no re-apply counted after `nft flush ruleset`\n{}",
        metrics(&banjo)
    );

    // a config that does not validate: the reload is refused and counted
    banjo.write_config("[jails.vpopmail]\nmaxretry = \"many\"\n");
    assert!(
        !ctl(&banjo, &["reload"]).status.success(),
        "the bad config was taken"
    );
    let refused = metrics(&banjo);
    assert_eq!(
        value(&refused, "banjo_reloads_total{result=\"refused\"}"),
        Some(1.0),
        "{refused}"
    );
    assert_eq!(value(&refused, "banjo_config_last_reload_successful"), Some(0.0));
    banjo.write_config(&good);
    assert!(ctl(&banjo, &["reload"]).status.success());
    let reloaded = metrics(&banjo);
    assert_eq!(value(&reloaded, "banjo_reloads_total{result=\"ok\"}"), Some(1.0));
    assert_eq!(value(&reloaded, "banjo_config_last_reload_successful"), Some(1.0));

    // the admin lifts the ban
    assert!(ctl(&banjo, &["unban", &addr]).status.success());
    let unbanned = metrics(&banjo);
    assert_eq!(
        at(&unbanned, "banjo_unbans_total", ",cause=\"command\""),
        Some(1.0),
        "{unbanned}"
    );
    assert_eq!(at(&unbanned, "banjo_bans_active", ",family=\"ipv4\""), Some(0.0));
    promtool_accepts(&unbanned);
}

#[test]
fn http_mode_answers_one_scrape_from_stdin() {
    skip_unless_capable!();
    let journal = Journal::start();
    let lab = Lab::new();
    let mut banjo = Banjo::start(&lab.server, &journal, &read(&fixture("daemon/vpopmail.toml")));
    banjo.wait_ready(READY);
    let socket = banjo.runtime_dir().join("banjo.sock");
    let scrape = |request: &[u8]| {
        let mut child = Command::new(banjo_bin())
            .arg("--socket")
            .arg(&socket)
            .args(["metrics", "--http"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("banjo metrics --http");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(request)
            .expect("request");
        let out = child.wait_with_output().expect("banjo metrics --http");
        (out.status, String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (status, answer) = scrape(
        b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9110\r\nUser-Agent: Prometheus/2.42.0\r\n\
          Accept: text/plain;version=0.0.4\r\nAccept-Encoding: gzip\r\n\r\n",
    );
    assert!(status.success(), "{status}: {answer}");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    assert!(
        head.contains(&format!("Content-Length: {}\r\n", body.len())),
        "{head}"
    );
    assert!(
        body.contains("banjo_bans_total{jail=\"vpopmail\",cause=\"failures\"} 0\n"),
        "{body}"
    );
    promtool_accepts(body);

    let (_, answer) = scrape(b"POST /metrics HTTP/1.1\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 405 "), "{answer}");
    let (_, answer) = scrape(b"GET /secret HTTP/1.1\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");

    // the daemon gone: the scrape fails with 503, so Prometheus' `up` says so
    banjo.term();
    let (status, answer) = scrape(b"GET /metrics HTTP/1.0\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert_eq!(status.code(), Some(3), "exit code: banjo is not running");
}

/// The alert rules the README suggests are rules Prometheus loads: `promtool check rules`.
#[test]
fn the_readmes_alert_rules_pass_promtool() {
    let Some(promtool) = promtool() else { return };
    let readme = read(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md"));
    let start = readme.find("\n    groups:\n").expect("the README's alert rules") + 1;
    let rules: String = readme[start..]
        .lines()
        .take_while(|l| l.starts_with("    "))
        .map(|l| format!("{}\n", &l[4..]))
        .collect();
    assert!(rules.contains("banjo_journal_lag_seconds"), "{rules}");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("banjo.rules.yml");
    std::fs::write(&file, &rules).expect("write the rules");
    let out = Command::new(&promtool)
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .expect("run promtool");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("SUCCESS: 5 rules found"),
        "promtool check rules: {}{}\n--- the rules:\n{rules}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
