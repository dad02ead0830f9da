//! `banjo notify` against a private systemd-journald: banjo's ban records in, mails out
//! through a fake sendmail (a script storing each mail as a file), commands run with their
//! placeholders. Restarts, kill -9 and a sendmail killed mid-mail lose no mail and repeat
//! none; bursts become digests; forged records from other users are ignored; one test reads
//! the records of a real `banjo run`. Need root; they skip, saying why, without it.
mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::daemon::Banjo;
use common::journal::{Journal, field};
use common::net::Netns;
use common::notify::{Notifier, log_ban, log_unban, write_script};
use common::{fixture, holds_for, read, signal, wait_until};

/// banjo notify must be READY=1 within this.
const READY: Duration = Duration::from_secs(10);
/// A mail must be there this long after its record was logged (journald wakes readers in
/// batches of about 250 ms).
const MAIL: Duration = Duration::from_secs(10);
/// How long "no further mail" is watched for.
const SETTLE: Duration = Duration::from_millis(1500);

/// [notify.mail] through the fake sendmail, whois off (no network in tests), plus EXTRA.
fn config(extra: &str) -> String {
    format!(
        "[notify.mail]\n\
         dest = \"postmaster@example.org\"\n\
         sender = \"banjo@example.org\"\n\
         command = [\"@DIR@/sendmail\", \"-t\", \"-oi\", \"-f\", \"{{sender}}\"]\n\
         whois = false\n\
         {extra}\n"
    )
}

fn subject(mail: &str) -> &str {
    mail.lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or_else(|| panic!("no Subject in {mail}"))
}

fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    let prefix = format!("{name}: ");
    mail.split("\n\n")
        .next()?
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
}

fn subjects(n: &Notifier) -> Vec<String> {
    n.mails().iter().map(|m| subject(m).to_string()).collect()
}

fn banned(jail: &str, ip: &str) -> String {
    format!("[banjo] {jail}: banned {ip} on {}", hostname())
}

/// The host name journald stamps as _HOSTNAME (the namespace shares the UTS namespace).
fn hostname() -> String {
    read(std::path::Path::new("/proc/sys/kernel/hostname"))
        .trim()
        .to_string()
}

/// The state file's outbox is empty: every mail handed off and saved as such.
fn outbox_empty(n: &Notifier) -> bool {
    let text = std::fs::read_to_string(n.state_dir().join("notify.json")).unwrap_or_default();
    let Ok(state) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    let empty = |key: &str| {
        state["outbox"][key].as_array().is_none_or(|a| a.is_empty())
            && state["outbox"][key].as_object().is_none_or(|o| o.is_empty())
    };
    empty("mails") && empty("execs")
}

fn started(journal: &Journal, config: &str) -> Notifier {
    let mut n = Notifier::start(journal, config);
    n.wait_ready(READY);
    n
}

#[test]
fn a_ban_record_becomes_a_mail_with_its_lines_and_the_commands() {
    skip_unless_capable!();
    let journal = Journal::start();
    let n = started(&journal, &config(""));
    log_ban(
        &journal,
        "vpopmail",
        "192.0.2.7",
        &[
            "vchkpw-submission: password fail (pass: 'x') postmaster@example.org:192.0.2.7",
            ".",
            "second line",
        ],
    );
    let mails = n.wait_mails(1, MAIL);
    let mail = &mails[0];
    assert_eq!(header(mail, "X-Args"), Some("-t -oi -f banjo@example.org"));
    assert_eq!(header(mail, "To"), Some("postmaster@example.org"));
    assert_eq!(header(mail, "From"), Some("\"banjo\" <banjo@example.org>"));
    assert_eq!(subject(mail), banned("vpopmail", "192.0.2.7"));
    assert!(
        mail.contains(
            "\n\n  vchkpw-submission: password fail (pass: 'x') postmaster@example.org:192.0.2.7\n  .\n  second line\n"
        ),
        "{mail}"
    );
    assert!(mail.contains("after 3 failures, for 1d"), "{mail}");
    assert!(mail.contains("banjo explain 192.0.2.7\n"), "{mail}");
    assert!(mail.contains("banjo unban vpopmail 192.0.2.7\n"), "{mail}");
    let sent = journal
        .wait_for_entries(&["MESSAGE_ID=dd823f762d14418b92396ff8cda556cd"], 1, MAIL)
        .expect("banjo-notify logs the mail it sent");
    assert_eq!(
        field(&sent[0], "SYSLOG_IDENTIFIER").as_deref(),
        Some("banjo-notify")
    );
    assert_eq!(
        field(&sent[0], "SUBJECT").as_deref(),
        Some(banned("vpopmail", "192.0.2.7").as_str())
    );
}

#[test]
fn restarts_and_kill_9_between_bans_send_every_mail_once() {
    skip_unless_capable!();
    let journal = Journal::start();
    let mut n = started(&journal, &config(""));
    log_ban(&journal, "sshd", "192.0.2.1", &["one"]);
    n.wait_mails(1, MAIL);
    assert_eq!(n.term(), Some(0), "a clean stop\n{}", n.diagnostics());

    // logged while banjo-notify is down: mailed after the start, once
    log_ban(&journal, "sshd", "192.0.2.2", &["two"]);
    n.restart();
    n.wait_ready(READY);
    n.wait_mails(2, MAIL);
    log_ban(&journal, "sshd", "192.0.2.3", &["three"]);
    n.wait_mails(3, MAIL);
    assert!(wait_until(MAIL, || outbox_empty(&n)), "{}", n.diagnostics());

    n.kill9();
    log_ban(&journal, "sshd", "192.0.2.4", &["four"]);
    n.restart();
    n.wait_ready(READY);
    n.wait_mails(4, MAIL);
    assert!(holds_for(SETTLE, || n.mails().len() == 4), "{:#?}", subjects(&n));
    assert_eq!(
        subjects(&n),
        (1..=4)
            .map(|i| banned("sshd", &format!("192.0.2.{i}")))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_mail_cut_off_by_a_crash_is_sent_after_the_restart() {
    skip_unless_capable!();
    let journal = Journal::start();
    let mut n = started(&journal, &config(""));
    std::fs::write(n.dir().join("hang-next"), "").unwrap();
    log_ban(&journal, "sshd", "192.0.2.5", &["five"]);
    let hung = n.dir().join("hung.pid");
    assert!(
        wait_until(MAIL, || hung.exists()),
        "sendmail was not started\n{}",
        n.diagnostics()
    );
    // a crash: systemd then kills what is left in the unit's cgroup, the hung sendmail too
    n.kill9();
    let pid: u32 = read(&hung).trim().parse().expect("pid");
    signal(pid, libc::SIGKILL);
    assert!(n.mails().is_empty());
    n.restart();
    n.wait_ready(READY);
    n.wait_mails(1, MAIL);
    assert!(holds_for(SETTLE, || n.mails().len() == 1));
    assert_eq!(subjects(&n), [banned("sshd", "192.0.2.5")]);
}

#[test]
fn a_ban_while_down_is_mailed_even_before_the_first_record_was_read() {
    skip_unless_capable!();
    let journal = Journal::start();
    // no banjo record in the journal yet: nothing to take a cursor from
    let mut n = started(&journal, &config(""));
    assert_eq!(n.term(), Some(0));
    log_ban(&journal, "sshd", "192.0.2.12", &["while down"]);
    n.restart();
    n.wait_ready(READY);
    n.wait_mails(1, MAIL);
    assert_eq!(subjects(&n), [banned("sshd", "192.0.2.12")]);
}

#[test]
fn a_first_start_mails_nothing_from_before_it() {
    skip_unless_capable!();
    let journal = Journal::start();
    log_ban(&journal, "sshd", "192.0.2.10", &["old"]);
    assert!(journal.wait_for_entries(&["JAIL=sshd"], 1, MAIL).is_some());
    let n = started(&journal, &config(""));
    log_ban(&journal, "sshd", "192.0.2.11", &["new"]);
    n.wait_mails(1, MAIL);
    assert!(holds_for(SETTLE, || n.mails().len() == 1));
    assert_eq!(subjects(&n), [banned("sshd", "192.0.2.11")]);
}

#[test]
fn records_from_other_users_are_not_trusted() {
    skip_unless_capable!();
    let journal = Journal::start();
    let n = started(&journal, &config(""));
    // user nobody logs a perfect copy of a ban record; _UID (stamped by journald) betrays it
    let forged = "MESSAGE=Ban 192.0.2.66 jail=sshd bantime=1d failures=5\n\
                  SYSLOG_IDENTIFIER=banjo\nMESSAGE_ID=12dddcb6204944748f53bc07146ad80a\n\
                  JAIL=sshd\nIP=192.0.2.66\nBANTIME=1d\nFAILURES=5\n";
    let mut logger = Command::new("nsenter")
        .arg(format!("--mount={}", journal.mount_ns().display()))
        .args([
            "--",
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ])
        .args(["logger", "--journald"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("logger");
    use std::io::Write;
    logger
        .stdin
        .take()
        .expect("stdin")
        .write_all(forged.as_bytes())
        .expect("write");
    assert!(logger.wait().expect("logger").success());
    let stored = journal
        .wait_for_entries(&["IP=192.0.2.66"], 1, MAIL)
        .expect("the forged record is in the journal");
    assert_eq!(field(&stored[0], "_UID").as_deref(), Some("65534"));
    log_ban(&journal, "sshd", "192.0.2.67", &["real"]);
    n.wait_mails(1, MAIL);
    assert!(holds_for(SETTLE, || n.mails().len() == 1));
    assert_eq!(subjects(&n), [banned("sshd", "192.0.2.67")]);
}

#[test]
fn a_burst_of_bans_becomes_a_few_mails_and_digests_that_count_them_all() {
    skip_unless_capable!();
    let journal = Journal::start();
    let n = started(&journal, &config("digest_after = 3\ndigest_interval = \"2s\""));
    for i in 0..200 {
        log_ban(&journal, "dovecot", &format!("198.51.100.{}", i + 1), &["line"]);
    }
    let count = |mails: &[String]| -> u64 {
        mails
            .iter()
            .map(|m| match header(m, "X-Banjo-Event") {
                Some("digest") => header(m, "X-Banjo-Count")
                    .and_then(|c| c.parse().ok())
                    .expect("a digest has X-Banjo-Count"),
                _ => 1,
            })
            .sum()
    };
    assert!(
        wait_until(Duration::from_secs(20), || count(&n.mails()) >= 200),
        "{:#?}\n{}",
        subjects(&n),
        n.diagnostics()
    );
    let mails = n.mails();
    assert_eq!(count(&mails), 200, "{:#?}", subjects(&n));
    let singles = mails
        .iter()
        .filter(|m| header(m, "X-Banjo-Event") == Some("ban"))
        .count();
    assert_eq!(singles, 3, "{:#?}", subjects(&n));
    assert!(
        mails.len() <= 6,
        "200 bans, {} mails: {:#?}",
        mails.len(),
        subjects(&n)
    );
    let digest = mails
        .iter()
        .find(|m| header(m, "X-Banjo-Event") == Some("digest"))
        .expect("a digest");
    assert!(
        subject(digest).starts_with("[banjo] dovecot: digest of "),
        "{digest}"
    );
    assert!(
        digest.contains("198.51.100.4 "),
        "the first address beyond the rate is listed: {digest}"
    );
}

#[test]
fn commands_get_their_placeholders_and_a_hanging_one_holds_up_nothing_else() {
    skip_unless_capable!();
    let journal = Journal::start();
    let extra = "\n[[notify.exec]]\n\
                 name = \"hang\"\n\
                 command = [\"/bin/sleep\", \"60\"]\n\
                 timeout = \"8s\"\n\
                 retries = 0\n\
                 \n[[notify.exec]]\n\
                 name = \"record\"\n\
                 command = [\"@DIR@/record\", \"{event}\", \"{ip}\", \"{jail}\", \"{bantime}\", \"{failures}\", \"{reason}\", \"{matches}\"]\n\
                 events = [\"ban\", \"unban\"]\n";
    let n = Notifier::start(&journal, &config(extra));
    let runs = n.dir().join("runs");
    write_script(
        &n.dir().join("record"),
        &format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s|' \"$a\"; done >> {r}\necho >> {r}\necho recorded\n",
            r = runs.display()
        ),
    );
    let mut n = n;
    n.wait_ready(READY);
    log_ban(&journal, "sshd", "192.0.2.20", &["$(reboot) `id`", "second"]);
    // the mail and the other command come while "hang" still runs
    n.wait_mails(1, MAIL);
    assert!(wait_until(MAIL, || runs.exists()), "{}", n.diagnostics());
    log_unban(&journal, "sshd", "192.0.2.20", "bantime over");
    assert!(
        wait_until(MAIL, || read(&runs).contains("unban|")),
        "{}",
        n.diagnostics()
    );
    // one argument per placeholder, never split or interpreted; empty where the record has
    // no value (an unban has no bantime, failures or lines; a ban no reason)
    assert_eq!(
        read(&runs),
        "ban|192.0.2.20|sshd|1d|2||$(reboot) `id`\nsecond|\n\
         unban|192.0.2.20|sshd|||bantime over||\n"
    );
    let failed = journal
        .wait_for_entries(
            &["MESSAGE_ID=2bc4c5b7f57b46a482e7094cd382e725", "ACTION=hang"],
            1,
            Duration::from_secs(20),
        )
        .expect("the hanging command is reported");
    let message = field(&failed[0], "MESSAGE").unwrap_or_default();
    assert!(message.contains("timed out after 8s"), "{message}");
    let done = journal.entries(&["MESSAGE_ID=35d8d82f0ea7448bb34534e894725953", "ACTION=record"]);
    assert_eq!(done.len(), 2);
    assert_eq!(field(&done[0], "STDOUT").as_deref(), Some("recorded"));
    assert!(n.mails().len() == 1, "unbans are not mailed by default");
}

#[test]
fn a_failing_sendmail_is_tried_again() {
    skip_unless_capable!();
    let journal = Journal::start();
    let n = started(&journal, &config("retry_delay = \"1s\""));
    std::fs::write(n.dir().join("fail-next"), "").unwrap();
    log_ban(&journal, "sshd", "192.0.2.30", &["x"]);
    n.wait_mails(1, MAIL);
    assert!(holds_for(SETTLE, || n.mails().len() == 1));
    let failed = journal.entries(&["MESSAGE_ID=53158c53a1bd44629f1ae91f31c7ac0d"]);
    assert_eq!(failed.len(), 1, "one failed attempt logged");
    let message = field(&failed[0], "MESSAGE").unwrap_or_default();
    assert!(
        message.contains("attempt 1: exit status 75") && message.ends_with(": queue full"),
        "{message}"
    );
}

#[test]
fn sighup_reloads_the_config() {
    skip_unless_capable!();
    let journal = Journal::start();
    let n = started(&journal, &config(""));
    n.write_config(&config("").replace("postmaster@example.org", "admin@example.org"));
    let mark = n.notify_mark();
    n.sighup();
    assert!(n.wait_notify(mark, "RELOADING", "1", READY));
    assert!(n.wait_notify(mark, "READY", "1", READY));
    log_ban(&journal, "sshd", "192.0.2.40", &["x"]);
    let mails = n.wait_mails(1, MAIL);
    assert_eq!(header(&mails[0], "To"), Some("admin@example.org"));
}

#[test]
fn the_daemons_own_ban_records_are_mailed() {
    skip_unless_capable!();
    let journal = Journal::start();
    let ns = Netns::add("s");
    let mut banjo = Banjo::start(&ns, &journal, &read(&fixture("daemon/vpopmail.toml")));
    banjo.wait_ready(READY);
    let n = started(&journal, &config(""));
    for _ in 0..3 {
        journal.send(&[
            ("SYSLOG_IDENTIFIER", "vpopmail"),
            (
                "MESSAGE",
                "vchkpw-submission: password fail (pass: 'x') postmaster@example.org:192.0.2.9",
            ),
        ]);
    }
    let mails = n.wait_mails(1, MAIL);
    let mail = &mails[0];
    assert_eq!(subject(mail), banned("vpopmail", "192.0.2.9"), "{mail}");
    assert!(mail.contains("after 3 failures, for 30s"), "{mail}");
    assert_eq!(
        mail.matches("vchkpw-submission: password fail (pass: 'x') postmaster@example.org:192.0.2.9")
            .count(),
        3,
        "{mail}"
    );
    assert!(mail.contains("banjo unban vpopmail 192.0.2.9"), "{mail}");
    drop(banjo);
}

/// The unit's ExecCondition and the exit code systemd must not restart on.
#[test]
fn is_configured_and_a_bad_config_have_their_exit_codes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let banjo = common::daemon::banjo_bin();
    let run = |config: &str, args: &[&str]| {
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config).expect("config");
        Command::new(&banjo)
            .arg("--config")
            .arg(&path)
            .arg("notify")
            .args(args)
            .env("STATE_DIRECTORY", dir.path().join("state"))
            .output()
            .expect("banjo notify")
    };
    let configured = config("").replace("@DIR@", "/nonexistent");
    assert_eq!(run(&configured, &["--is-configured"]).status.code(), Some(0));
    let nothing = run("[defaults]\nmaxretry = 3\n", &["--is-configured"]);
    assert_eq!(nothing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("banjo-notify has nothing to do"));
    let bad = "[notify.mail]\ndest = \"a b\"\n";
    let out = run(bad, &["--is-configured"]);
    assert_eq!(out.status.code(), Some(255), "ExecCondition: fail, do not skip");
    let out = run(bad, &["--log", "stderr"]);
    assert_eq!(
        out.status.code(),
        Some(78),
        "EX_CONFIG: systemd does not restart on it"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("notify.mail.dest = \"a b\": expected a mail address"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run("[defaults]\nmaxretry = 3\n", &["--log", "stderr"]);
    assert_eq!(out.status.code(), Some(0), "nothing configured: nothing to do");
}

#[test]
fn send_test_mails_a_sample_ban() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_file = dir.path().join("mail");
    let sendmail = dir.path().join("sendmail");
    write_script(&sendmail, &format!("#!/bin/sh\ncat > {}\n", out_file.display()));
    let config = config("").replace("@DIR@", &dir.path().display().to_string());
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).expect("config");
    let out = Command::new(common::daemon::banjo_bin())
        .arg("--config")
        .arg(&path)
        .args(["notify", "--send-test"])
        .output()
        .expect("banjo notify --send-test");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("sent to postmaster@example.org via "),
        "{stdout}"
    );
    let mail = read(&out_file);
    assert!(subject(&mail).contains(": banned 192.0.2.1 on "), "{mail}");
}
