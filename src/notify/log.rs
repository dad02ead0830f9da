//! banjo-notify's log: where it goes is the daemon's (`daemon/log.rs`), as `banjo-notify`;
//! here are its own records with fixed MESSAGE_IDs, so
//! `journalctl -u banjo-notify MESSAGE_ID=…` lists every mail sent or every command that
//! failed, with its exit status and output.
use super::child::Finished;
use super::outbox::Finish;
use super::record::Event;
pub use crate::daemon::log::LogTarget;

/// Where banjo-notify's records go (the daemon's, as `banjo-notify`).
pub fn init(target: LogTarget, level: &str) -> anyhow::Result<()> {
    crate::daemon::log::init(target, level, "banjo-notify")
}

/// A mail was handed to sendmail.
pub const MAIL_SENT_ID: &str = "dd823f762d14418b92396ff8cda556cd";
/// sendmail failed (will be retried, or was given up).
pub const MAIL_FAILED_ID: &str = "53158c53a1bd44629f1ae91f31c7ac0d";
/// A `[[notify.exec]]` command ran and exited 0.
pub const EXEC_DONE_ID: &str = "35d8d82f0ea7448bb34534e894725953";
/// A command failed (will be retried, or was given up).
pub const EXEC_FAILED_ID: &str = "2bc4c5b7f57b46a482e7094cd382e725";
/// Something banjo-notify should have done was dropped: a full queue, a command no longer
/// configured, a record it could not read.
pub const DROPPED_ID: &str = "b340345f668a41b8b9c91fa3f942891b";

/// Every MESSAGE_ID banjo-notify writes: each has an entry in catalog/banjo.catalog beside
/// the daemon's (a test checks).
pub const ALL_IDS: [&str; 5] = [
    MAIL_SENT_ID,
    MAIL_FAILED_ID,
    EXEC_DONE_ID,
    EXEC_FAILED_ID,
    DROPPED_ID,
];

/// The outcome of one sendmail run: sent, to be retried, or given up.
pub fn mail(subject: &str, to: &str, attempt: u32, why: &str, run: &Finished, finish: Finish) {
    let (stdout, stderr) = run.output();
    match finish {
        Finish::Done => tracing::info!(
            message_id = MAIL_SENT_ID,
            subject,
            dest = to,
            attempt,
            took_ms = run.took.as_millis() as u64,
            "Mail sent to {to}: {subject}"
        ),
        Finish::Retry { at, .. } => tracing::warn!(
            message_id = MAIL_FAILED_ID,
            subject,
            attempt,
            status = why,
            stdout,
            stderr,
            "Mail not sent (attempt {attempt}: {why}), trying again at {at}: {subject}{}",
            tail(&stderr)
        ),
        Finish::GaveUp { .. } => tracing::error!(
            message_id = MAIL_FAILED_ID,
            subject,
            attempt,
            status = why,
            stdout,
            stderr,
            "Mail given up after {attempt} attempts ({why}): {subject}{}",
            tail(&stderr)
        ),
    }
}

/// The outcome of one run of command `action` for `event`.
pub fn exec(action: &str, event: &Event, attempt: u32, why: &str, run: &Finished, finish: Finish) {
    let (stdout, stderr) = run.output();
    let (jail, ip, kind) = (event.jail.as_str(), event.target.to_string(), event.kind.as_str());
    match finish {
        Finish::Done => tracing::info!(
            message_id = EXEC_DONE_ID,
            action,
            jail,
            ip,
            event = kind,
            attempt,
            status = why,
            stdout,
            stderr,
            took_ms = run.took.as_millis() as u64,
            "{action} ran for the {kind} of {ip} in {jail}: {why}"
        ),
        Finish::Retry { at, .. } => tracing::warn!(
            message_id = EXEC_FAILED_ID,
            action,
            jail,
            ip,
            event = kind,
            attempt,
            status = why,
            stdout,
            stderr,
            "{action} failed for the {kind} of {ip} in {jail} (attempt {attempt}: {why}), \
             trying again at {at}{}",
            tail(&stderr)
        ),
        Finish::GaveUp { .. } => tracing::error!(
            message_id = EXEC_FAILED_ID,
            action,
            jail,
            ip,
            event = kind,
            attempt,
            status = why,
            stdout,
            stderr,
            "{action} given up for the {kind} of {ip} in {jail} after {attempt} attempts \
             ({why}){}",
            tail(&stderr)
        ),
    }
}

/// Something was dropped; `what` says what and why.
pub fn dropped(what: &str) {
    tracing::error!(message_id = DROPPED_ID, "{what}");
}

/// ": <last line of stderr>" for a message, or nothing.
fn tail(stderr: &str) -> String {
    stderr
        .lines()
        .last()
        .map(|l| format!(": {}", l.chars().take(200).collect::<String>()))
        .unwrap_or_default()
}
