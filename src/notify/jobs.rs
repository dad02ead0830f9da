//! Running one job off the main loop: a mail handed to sendmail (after its whois), or one run
//! of a `[[notify.exec]]` command with the event's values in its argv. Each job runs on a
//! thread of its own and reports a [`Done`] back; the main loop decides what happens next
//! (see `outbox`). Mails go one at a time, and each command's runs one at a time, so a hung
//! command delays only its own next runs, never a mail or another command.
use std::sync::Arc;
use std::sync::mpsc::Sender;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::child::{self, Finished};
use super::mail;
use super::outbox::{MailJob, Message};
use super::record::{Event, Kind};
use super::whois::{Whois, WhoisCache};
use crate::config::notify::{Exec, Mail as MailConfig, Placeholder};

/// Bytes of a program's stdout and of its stderr kept for the log.
pub const CAPTURE: usize = 4096;

/// Which queue a finished job came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    Mail,
    Exec(String),
}

/// A job's outcome, sent back to the main loop.
#[derive(Debug)]
pub struct Done {
    pub slot: Slot,
    /// The job's id (a mail's id, or the event's id for a command), to check it is still
    /// the first of its queue.
    pub id: String,
    pub run: Finished,
    /// For a mail: the subject, for the log.
    pub subject: String,
}

/// The value of a placeholder for `event`; empty when the record does not have it (an unban
/// has no bantime, failures or matches).
pub fn value(event: &Event, placeholder: Placeholder) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    match placeholder {
        Placeholder::Event => event.kind.as_str().to_string(),
        Placeholder::Ip => event.target.to_string(),
        Placeholder::Jail => event.jail.to_string(),
        Placeholder::Bantime => opt(&event.bantime),
        Placeholder::Until => opt(&event.until),
        Placeholder::Failures => event.failures.map(|n| n.to_string()).unwrap_or_default(),
        Placeholder::Matches => event.lines.join("\n"),
        Placeholder::Reason => opt(&event.reason),
        Placeholder::Host => event.host.clone(),
        Placeholder::Sender => String::new(),
    }
}

/// The argv of `exec` for `event`.
pub fn exec_argv(exec: &Exec, event: &Event) -> Vec<String> {
    exec.command.render(|p| value(event, p))
}

/// Runs `exec` for `event` (stdin empty) within its timeout.
pub fn run_exec(exec: &Exec, event: &Event) -> Finished {
    child::run(&exec_argv(exec, event), b"", exec.timeout, CAPTURE)
}

/// Looks up whois for a ban mail (when asked for), renders the mail and pipes it to sendmail.
/// Returns the run and the mail's subject.
pub fn send_mail(
    job: &MailJob,
    cfg: &MailConfig,
    whois: &WhoisCache,
    now: Timestamp,
    tz: &TimeZone,
) -> (Finished, String) {
    let answer = match &job.message {
        Message::Single(e) if cfg.whois && e.kind == Kind::Ban => {
            whois.lookup(e.address(), cfg.whois_timeout)
        }
        _ => Whois::Off,
    };
    let text = mail::render(job, cfg, &answer, now, tz);
    let subject = text
        .lines()
        .find_map(|l| l.strip_prefix("Subject: "))
        .unwrap_or("")
        .to_string();
    let argv = cfg.command.render(|p| match p {
        Placeholder::Sender => cfg.sender.clone(),
        _ => String::new(),
    });
    (child::run(&argv, text.as_bytes(), cfg.timeout, CAPTURE), subject)
}

/// Starts the first mail of the outbox on a thread; its [`Done`] comes back on `done`.
pub fn spawn_mail(
    job: MailJob,
    cfg: MailConfig,
    whois: Arc<WhoisCache>,
    tz: TimeZone,
    done: Sender<Done>,
    wake: impl FnOnce() + Send + 'static,
) {
    std::thread::spawn(move || {
        let (run, subject) = send_mail(&job, &cfg, &whois, Timestamp::now(), &tz);
        let _ = done.send(Done {
            slot: Slot::Mail,
            id: job.id,
            run,
            subject,
        });
        wake();
    });
}

/// Starts one run of `exec` for `event` on a thread.
pub fn spawn_exec(exec: Exec, event: Event, done: Sender<Done>, wake: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        let run = run_exec(&exec, &event);
        let _ = done.send(Done {
            slot: Slot::Exec(exec.name),
            id: event.id,
            run,
            subject: String::new(),
        });
        wake();
    });
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::config::NotifyEvent;
    use crate::config::notify::{Argv, Jails};
    use crate::notify::child::Ended;
    use crate::notify::record::tests::{ban_fields, t};

    fn ban() -> Event {
        Event::from_record(
            &ban_fields("vpopmail", "192.0.2.7"),
            "1a2b.6f2b".into(),
            t("2026-11-24T10:00:00Z"),
        )
        .unwrap()
    }

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    fn script(dir: &Path, name: &str, body: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    }

    fn exec(command: &[&str], timeout: Duration) -> Exec {
        Exec {
            name: "test".into(),
            command: Argv::parse(&words(command), Placeholder::EXEC).unwrap(),
            events: vec![NotifyEvent::Ban],
            jails: Jails::All,
            timeout,
            retries: 2,
            retry_delay: Duration::from_secs(1),
        }
    }

    /// A fake sendmail: writes its arguments and stdin to DIR/mail.
    fn mail_config(dir: &Path, body: &str) -> MailConfig {
        let sendmail = script(dir, "sendmail", body);
        MailConfig {
            dest: vec!["postmaster@example.org".into()],
            sender: "banjo@example.org".into(),
            sender_name: "banjo".into(),
            jails: Jails::All,
            events: vec![NotifyEvent::Ban],
            command: Argv::parse(
                &words(&[&sendmail, "-t", "-oi", "-f", "{sender}"]),
                Placeholder::MAIL,
            )
            .unwrap(),
            timeout: Duration::from_secs(5),
            retries: 2,
            retry_delay: Duration::from_secs(30),
            whois: true,
            whois_timeout: Duration::from_secs(5),
            digest_after: 5,
            digest_interval: Duration::from_secs(600),
        }
    }

    #[test]
    fn every_placeholder_gets_the_event_value() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("args");
        let show = script(
            dir.path(),
            "show",
            &format!(
                "for a in \"$@\"; do printf '%s|' \"$a\"; done > {}",
                out.display()
            ),
        );
        let e = exec(
            &[
                &show,
                "{event}",
                "{ip}",
                "{jail}",
                "{bantime}",
                "{until}",
                "{failures}",
                "{host}",
                "{reason}",
                "--lines={matches}",
            ],
            Duration::from_secs(5),
        );
        let run = run_exec(&e, &ban());
        assert!(run.ok(), "{run:?}");
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "ban|192.0.2.7|vpopmail|1d|2026-11-25T10:00:00Z|5|mail.example.org||\
             --lines=vchkpw-submission: password fail (pass: 'x') a@b.xy:192.0.2.7\nsecond line|"
        );
    }

    #[test]
    fn arguments_are_never_shell_words() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("args");
        let show = script(
            dir.path(),
            "show",
            &format!("printf '%s\\n' \"$#\" \"$1\" > {}", out.display()),
        );
        let mut event = ban();
        event.lines = vec!["$(touch /tmp/banjo-pwned) `id` ; rm -rf / && echo".into()];
        let run = run_exec(&exec(&[&show, "{matches}"], Duration::from_secs(5)), &event);
        assert!(run.ok());
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "1\n$(touch /tmp/banjo-pwned) `id` ; rm -rf / && echo\n"
        );
    }

    #[test]
    fn a_failing_command_reports_its_status_and_output() {
        let dir = tempfile::tempdir().unwrap();
        let fail = script(
            dir.path(),
            "fail",
            "echo 'reported'; echo 'HTTP 429 Too Many Requests' >&2; exit 22",
        );
        let run = run_exec(&exec(&[&fail, "{ip}"], Duration::from_secs(5)), &ban());
        assert!(!run.ok());
        assert_eq!(run.describe(Duration::from_secs(5)), "exit status 22");
        assert_eq!(
            run.output(),
            ("reported".into(), "HTTP 429 Too Many Requests".into())
        );
    }

    #[test]
    fn a_hanging_command_is_killed_at_its_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let hang = script(dir.path(), "hang", "sleep 60");
        let started = Instant::now();
        let run = run_exec(&exec(&[&hang], Duration::from_millis(500)), &ban());
        assert!(matches!(run.ended, Ended::TimedOut));
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_mail_goes_to_sendmail_with_the_sender_and_the_text() {
        let dir = tempfile::tempdir().unwrap();
        let mail_file = dir.path().join("mail");
        let cfg = mail_config(
            dir.path(),
            &format!("echo \"$@\" > {m}; cat >> {m}", m = mail_file.display()),
        );
        let whois = WhoisCache::new(&script(dir.path(), "whois", "echo 'netname: EXAMPLE'"));
        let job = MailJob {
            id: "1a2b.6f2b".into(),
            message: Message::Single(ban()),
            attempts: 0,
            not_before: None,
        };
        let (run, subject) = send_mail(&job, &cfg, &whois, t("2026-11-24T10:00:01Z"), &TimeZone::UTC);
        assert!(run.ok(), "{run:?}");
        assert_eq!(subject, "[banjo] vpopmail: banned 192.0.2.7 on mail.example.org");
        let written = std::fs::read_to_string(&mail_file).unwrap();
        assert!(written.starts_with("-t -oi -f banjo@example.org\nFrom: \"banjo\" <banjo@example.org>\nTo: postmaster@example.org\n"), "{written}");
        assert!(written.contains("\n  netname: EXAMPLE\n"), "{written}");
        assert!(
            written.contains("\n  vchkpw-submission: password fail"),
            "{written}"
        );
    }

    #[test]
    fn a_failing_or_hanging_sendmail_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let whois = WhoisCache::new("/nonexistent/whois");
        let job = MailJob {
            id: "1".into(),
            message: Message::Single(ban()),
            attempts: 0,
            not_before: None,
        };
        let now = t("2026-11-24T10:00:01Z");
        let cfg = mail_config(dir.path(), "cat > /dev/null; echo 'mail queue full' >&2; exit 75");
        let (run, _) = send_mail(&job, &cfg, &whois, now, &TimeZone::UTC);
        assert_eq!(run.describe(cfg.timeout), "exit status 75");
        assert_eq!(run.output().1, "mail queue full");
        let mut cfg = mail_config(dir.path(), "sleep 60");
        cfg.timeout = Duration::from_millis(300);
        let (run, _) = send_mail(&job, &cfg, &whois, now, &TimeZone::UTC);
        assert!(matches!(run.ended, Ended::TimedOut), "{run:?}");
    }
}
