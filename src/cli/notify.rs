//! `banjo notify`: the mail and command service on banjo's ban records (see crate::notify),
//! its unit's start condition (`--is-configured`) and a test mail (`--send-test`).
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::exit;
use crate::config;
use crate::daemon::log::LogTarget;
use crate::notify::{self, jobs, outbox, record, whois};

#[derive(Debug, clap::Args)]
#[command(after_long_help = exit::TEXT)]
pub struct Args {
    /// Where log records go.
    #[arg(long, value_enum, default_value = "auto")]
    pub log: LogTarget,
    /// Read the journal files in this directory instead of the system journal (like journalctl -D).
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
    /// Only check the config: exit 0 when it has [notify.mail] or [[notify.exec]], 1 when
    /// not, 255 when it does not load (banjo-notify.service's ExecCondition).
    #[arg(long, conflicts_with = "send_test")]
    pub is_configured: bool,
    /// Send a sample ban mail (192.0.2.1, a documentation address) through [notify.mail]'s
    /// command now, and say what sendmail answered.
    #[arg(long)]
    pub send_test: bool,
}

/// Exit codes (exit.rs): 0 done, 1 failure, 78 (EX_CONFIG) a config that does not load — the
/// unit does not restart on it.
pub fn run(config: &Path, args: Args) -> ExitCode {
    if args.is_configured {
        return is_configured(config);
    }
    if args.send_test {
        return send_test(config);
    }
    let opts = notify::Options {
        log: args.log,
        journal_dir: args.journal_dir,
    };
    match notify::run(config, opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("banjo notify: {e:#}");
            ExitCode::from(exit::of_error(&e))
        }
    }
}

/// ExecCondition: 1–254 skip the unit, 255 fail it.
fn is_configured(config: &Path) -> ExitCode {
    match config::load(config) {
        Ok(cfg) if cfg.notify.is_configured() => ExitCode::SUCCESS,
        Ok(_) => {
            eprintln!(
                "{}: no [notify.mail] and no [[notify.exec]]: banjo-notify has nothing to do",
                config.display()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("banjo notify: {e}");
            ExitCode::from(exit::CONDITION_BROKEN)
        }
    }
}

fn send_test(config: &Path) -> ExitCode {
    let cfg = match config::load(config) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("banjo notify: {e}");
            return ExitCode::from(exit::CONFIG);
        }
    };
    let Some(mail) = &cfg.notify.mail else {
        eprintln!("banjo notify: {}: no [notify.mail] to test", config.display());
        return ExitCode::FAILURE;
    };
    let jail = cfg
        .jails
        .first()
        .map_or_else(|| "test".into(), |j| j.name.clone());
    let now = Timestamp::now();
    let event = record::Event {
        kind: record::Kind::Ban,
        id: format!("test.{}", now.as_millisecond()),
        time: now,
        host: hostname(),
        jail,
        target: "192.0.2.1".parse().expect("a valid address"),
        bantime: Some("1h".into()),
        until: Some(
            now.checked_add(jiff::SignedDuration::from_hours(1))
                .unwrap_or(now)
                .to_string(),
        ),
        failures: Some(5),
        bans_before: Some(0),
        lines: vec!["banjo notify --send-test: a sample line (192.0.2.1 is a documentation address)".into()],
        reason: None,
    };
    let job = outbox::MailJob {
        id: event.id.clone(),
        message: outbox::Message::Single(event),
        attempts: 0,
        not_before: None,
    };
    let whois = whois::WhoisCache::new("whois");
    let (run, subject) = jobs::send_mail(&job, mail, &whois, now, &TimeZone::system());
    let (stdout, stderr) = run.output();
    let why = run.describe(mail.timeout);
    for text in [stdout, stderr].iter().filter(|t| !t.is_empty()) {
        eprintln!("{text}");
    }
    if run.ok() {
        println!(
            "sent to {} via {}: {subject}",
            mail.dest.join(", "),
            mail.command.program()
        );
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "banjo notify: {} {why}: the mail was not sent",
            mail.command.program()
        );
        ExitCode::FAILURE
    }
}

/// This host's name, as journald writes _HOSTNAME.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
