//! What banjo-notify still has to send, and the policy that fills it: each ban or unban
//! becomes a mail (or a row of its jail's digest) and a job per matching command. Pure
//! functions of (outbox, event or outcome, time); the service saves the outbox with the
//! journal cursor, so whatever was read is either done or still here after a crash.
//!
//! The rate rule, per jail, on the events' own times: an event gets a mail of its own while
//! fewer than `digest_after` were mailed within the last `digest_interval` and no digest went
//! out in it; otherwise it opens the jail's digest (or joins the open one), which is queued
//! `digest_interval` after its first event. So an attack costs `digest_after` mails, then one
//! digest per interval saying how many bans it holds, until a whole interval stays quiet.
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::record::{Event, Kind};
use crate::config::notify::{Exec, Mail as MailConfig, Notify};
use crate::name::JailName;
use crate::time::{after, before};

/// Rows a digest keeps in full; beyond them it only counts.
pub const DIGEST_ROWS: usize = 500;
/// Jobs one queue holds at most (mails, or one command's runs); beyond, new ones are dropped
/// and logged, so a command that hangs during a flood cannot grow the state file (rewritten
/// after every job) without bound: 1000 runs with their lines are a few MB.
pub const QUEUE_LIMIT: usize = 1_000;
/// The longest wait between two attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outbox {
    /// Mails to hand to sendmail, oldest first; the first may be in flight.
    #[serde(default)]
    pub mails: VecDeque<MailJob>,
    /// Per command (by name), its runs to do, oldest first; each first may be in flight.
    #[serde(default)]
    pub execs: BTreeMap<String, VecDeque<ExecJob>>,
    /// Per jail, the mail rate and the open digest.
    #[serde(default)]
    pub rates: BTreeMap<JailName, Rate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailJob {
    /// Unique and stable: the Message-ID is made of it.
    pub id: String,
    pub message: Message,
    /// Attempts that failed so far.
    pub attempts: u32,
    #[serde(with = "crate::time::opt_ts")]
    pub not_before: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Message {
    /// One ban or unban.
    Single(Event),
    Digest(Digest),
}

/// Events of one jail beyond its mail rate, sent together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Digest {
    pub jail: JailName,
    /// When it is sent: `digest_interval` after its first event.
    #[serde(with = "crate::time::ts")]
    pub due: Timestamp,
    /// The bans and unbans it holds (`events` keeps the first [`DIGEST_ROWS`] of them).
    pub bans: u64,
    pub unbans: u64,
    pub events: Vec<Event>,
}

/// One jail's recent mails and its open digest.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// The event times of the mails queued within the last `digest_interval`.
    #[serde(default, with = "timestamps")]
    pub recent: VecDeque<Timestamp>,
    #[serde(default)]
    pub digest: Option<Digest>,
    /// When the last digest went out: until an interval has passed, events join a digest.
    #[serde(default, with = "crate::time::opt_ts")]
    pub last_digest: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecJob {
    pub event: Event,
    pub attempts: u32,
    #[serde(with = "crate::time::opt_ts")]
    pub not_before: Option<Timestamp>,
}

/// What became of one event.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Taken {
    pub mail: Option<MailFate>,
    /// Commands it queued a run of.
    pub execs: Vec<String>,
    /// Queues that were full, so the event was dropped from them.
    pub full: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailFate {
    Queued,
    /// Added to the jail's digest, which now holds this many.
    InDigest(u64),
}

/// After an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Done,
    /// Tried again at this time (attempt number `n` failed).
    Retry {
        at: Timestamp,
        failed: u32,
    },
    /// The last allowed attempt failed: the job is dropped.
    GaveUp {
        failed: u32,
    },
}

impl Outbox {
    /// Queues what `event` calls for under `cfg`.
    pub fn take(&mut self, event: &Event, cfg: &Notify) -> Taken {
        let mut taken = Taken::default();
        if let Some(mail) = cfg
            .mail
            .as_ref()
            .filter(|m| wants(m.jails.contains(&event.jail), &m.events, event))
        {
            taken.mail = self.mail(event, mail);
            if taken.mail.is_none() {
                taken.full.push("mail".into());
            }
        }
        for exec in &cfg.exec {
            if !wants(exec.jails.contains(&event.jail), &exec.events, event) {
                continue;
            }
            let queue = self.execs.entry(exec.name.clone()).or_default();
            if queue.len() >= QUEUE_LIMIT {
                taken.full.push(exec.name.clone());
                continue;
            }
            queue.push_back(ExecJob {
                event: event.clone(),
                attempts: 0,
                not_before: None,
            });
            taken.execs.push(exec.name.clone());
        }
        taken
    }

    fn mail(&mut self, event: &Event, cfg: &MailConfig) -> Option<MailFate> {
        self.flush_jail(&event.jail, event.time);
        let rate = self.rates.entry(event.jail.clone()).or_default();
        let since = before(event.time, cfg.digest_interval);
        while rate.recent.front().is_some_and(|t| *t <= since) {
            rate.recent.pop_front();
        }
        let calm = rate.last_digest.is_none_or(|t| t <= since);
        if rate.digest.is_none() && calm && rate.recent.len() < cfg.digest_after as usize {
            if self.mails.len() >= QUEUE_LIMIT {
                return None;
            }
            rate.recent.push_back(event.time);
            self.mails.push_back(MailJob {
                id: event.id.clone(),
                message: Message::Single(event.clone()),
                attempts: 0,
                not_before: None,
            });
            return Some(MailFate::Queued);
        }
        let digest = rate.digest.get_or_insert_with(|| Digest {
            jail: event.jail.clone(),
            due: after(event.time, cfg.digest_interval),
            bans: 0,
            unbans: 0,
            events: Vec::new(),
        });
        match event.kind {
            Kind::Ban => digest.bans += 1,
            Kind::Unban => digest.unbans += 1,
        }
        if digest.events.len() < DIGEST_ROWS {
            let mut row = event.clone();
            // a digest row shows one line; the state file stays small during a flood
            row.lines.truncate(1);
            digest.events.push(row);
        }
        Some(MailFate::InDigest(digest.bans + digest.unbans))
    }

    /// Queues the digests that are due at `now`; returns how many.
    pub fn flush_due(&mut self, now: Timestamp) -> usize {
        let jails: Vec<JailName> = self.rates.keys().cloned().collect();
        jails.iter().filter(|j| self.flush_jail(j, now)).count()
    }

    fn flush_jail(&mut self, jail: &str, now: Timestamp) -> bool {
        let Some(rate) = self.rates.get_mut(jail) else {
            return false;
        };
        let Some(digest) = rate.digest.take_if(|d| d.due <= now) else {
            return false;
        };
        rate.last_digest = Some(digest.due);
        let id = format!("{}.digest", digest.events.first().map_or("0", |e| e.id.as_str()));
        self.mails.push_back(MailJob {
            id,
            message: Message::Digest(digest),
            attempts: 0,
            not_before: None,
        });
        true
    }

    /// The earliest time something becomes due: a digest, or a job waiting to be retried
    /// (not counting the queues `busy` says have a job running: they wake the loop when done).
    pub fn next_due(&self, busy: impl Fn(Option<&str>) -> bool) -> Option<Timestamp> {
        let digests = self
            .rates
            .values()
            .filter_map(|r| r.digest.as_ref().map(|d| d.due));
        let mail = self
            .mails
            .front()
            .filter(|_| !busy(None))
            .and_then(|j| j.not_before);
        let execs = self
            .execs
            .iter()
            .filter(|(name, _)| !busy(Some(name.as_str())))
            .filter_map(|(_, q)| q.front().and_then(|j| j.not_before));
        digests.chain(mail).chain(execs).min()
    }

    /// The mail to send now, if the first one is not waiting for a retry.
    pub fn mail_ready(&self, now: Timestamp) -> Option<&MailJob> {
        self.mails
            .front()
            .filter(|j| j.not_before.is_none_or(|t| t <= now))
    }

    /// The next run of command `name`, if there is one and it is not waiting for a retry.
    pub fn exec_ready(&self, name: &str, now: Timestamp) -> Option<&ExecJob> {
        self.execs
            .get(name)?
            .front()
            .filter(|j| j.not_before.is_none_or(|t| t <= now))
    }

    /// Records the outcome of the first mail's attempt.
    pub fn mail_finished(&mut self, ok: bool, now: Timestamp, cfg: Option<&MailConfig>) -> Finish {
        let (retries, delay) = cfg.map_or((0, Duration::ZERO), |c| (c.retries, c.retry_delay));
        let Some(job) = self.mails.front_mut() else {
            return Finish::Done;
        };
        let finish = finish(&mut job.attempts, &mut job.not_before, ok, now, retries, delay);
        if !matches!(finish, Finish::Retry { .. }) {
            self.mails.pop_front();
        }
        finish
    }

    /// Records the outcome of command `name`'s first run.
    pub fn exec_finished(&mut self, name: &str, ok: bool, now: Timestamp, cfg: Option<&Exec>) -> Finish {
        let (retries, delay) = cfg.map_or((0, Duration::ZERO), |c| (c.retries, c.retry_delay));
        let Some(queue) = self.execs.get_mut(name) else {
            return Finish::Done;
        };
        let Some(job) = queue.front_mut() else {
            return Finish::Done;
        };
        let finish = finish(&mut job.attempts, &mut job.not_before, ok, now, retries, delay);
        if !matches!(finish, Finish::Retry { .. }) {
            queue.pop_front();
        }
        if queue.is_empty() {
            self.execs.remove(name);
        }
        finish
    }

    /// Drops what the config no longer asks for (after a restart or reload with another
    /// config): mails when `[notify.mail]` is gone, runs of commands no longer configured.
    /// Returns (queue, jobs dropped) for the log.
    pub fn forget_unconfigured(&mut self, cfg: &Notify) -> Vec<(String, usize)> {
        let mut dropped = Vec::new();
        if cfg.mail.is_none() {
            let digests = self.rates.values().filter(|r| r.digest.is_some()).count();
            if !self.mails.is_empty() || digests > 0 {
                dropped.push(("mail".to_string(), self.mails.len() + digests));
            }
            self.mails.clear();
            self.rates.clear();
        }
        self.execs.retain(|name, queue| {
            let keep = cfg.exec.iter().any(|e| &e.name == name);
            if !keep {
                dropped.push((name.clone(), queue.len()));
            }
            keep
        });
        dropped
    }

    /// Jobs waiting, for STATUS=: (mails, digests open, command runs).
    pub fn sizes(&self) -> (usize, usize, usize) {
        let digests = self.rates.values().filter(|r| r.digest.is_some()).count();
        let runs = self.execs.values().map(VecDeque::len).sum();
        (self.mails.len(), digests, runs)
    }
}

fn wants(jail_matches: bool, events: &[crate::config::NotifyEvent], event: &Event) -> bool {
    jail_matches && events.contains(&event.kind.event())
}

fn finish(
    attempts: &mut u32,
    not_before: &mut Option<Timestamp>,
    ok: bool,
    now: Timestamp,
    retries: u32,
    delay: Duration,
) -> Finish {
    if ok {
        return Finish::Done;
    }
    *attempts += 1;
    if *attempts > retries {
        return Finish::GaveUp { failed: *attempts };
    }
    let at = after(now, retry_delay(delay, *attempts));
    *not_before = Some(at);
    Finish::Retry {
        at,
        failed: *attempts,
    }
}

/// `delay` before the first retry, doubled for each further one, at most an hour.
pub fn retry_delay(delay: Duration, failed: u32) -> Duration {
    let factor = 1u32.checked_shl(failed.saturating_sub(1)).unwrap_or(u32::MAX);
    delay.saturating_mul(factor).min(MAX_RETRY_DELAY)
}

/// `#[serde(with)]` for a queue of timestamps (RFC 3339 strings).
mod timestamps {
    use std::collections::VecDeque;

    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(times: &VecDeque<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        let texts: Vec<String> = times.iter().map(ToString::to_string).collect();
        texts.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<VecDeque<Timestamp>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts
            .iter()
            .map(|t| t.parse().map_err(serde::de::Error::custom))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::config::NotifyEvent;
    use crate::config::notify::{Argv, Jails, Placeholder};
    use crate::notify::record::tests::t;

    fn mail_config(digest_after: u32) -> MailConfig {
        MailConfig {
            dest: vec!["postmaster@example.org".into()],
            sender: "banjo".into(),
            sender_name: "banjo".into(),
            jails: Jails::All,
            events: vec![NotifyEvent::Ban],
            command: Argv::parse(&["sendmail".to_string()], Placeholder::MAIL).unwrap(),
            timeout: Duration::from_secs(60),
            retries: 2,
            retry_delay: Duration::from_secs(30),
            whois: false,
            whois_timeout: Duration::from_secs(10),
            digest_after,
            digest_interval: Duration::from_secs(600),
        }
    }

    fn exec_config(name: &str, events: Vec<NotifyEvent>) -> Exec {
        Exec {
            name: name.into(),
            command: Argv::parse(&["report".to_string()], Placeholder::EXEC).unwrap(),
            events,
            jails: Jails::Only(BTreeSet::from(["sshd".into()])),
            timeout: Duration::from_secs(30),
            retries: 1,
            retry_delay: Duration::from_secs(10),
        }
    }

    fn notify(digest_after: u32) -> Notify {
        Notify {
            state_dir: None,
            mail: Some(mail_config(digest_after)),
            exec: vec![],
        }
    }

    fn event(n: u32, jail: &str, kind: Kind, at: Timestamp) -> Event {
        Event {
            kind,
            id: format!("{n:x}.ab"),
            time: at,
            host: "mail.example.org".into(),
            jail: jail.into(),
            target: format!("192.0.2.{}", n % 250 + 1).parse().unwrap(),
            bantime: Some("1d".into()),
            until: None,
            failures: Some(5),
            bans_before: Some(0),
            lines: vec!["first".into(), "second".into()],
            reason: None,
        }
    }

    fn ban(n: u32, jail: &str, at: Timestamp) -> Event {
        event(n, jail, Kind::Ban, at)
    }

    fn secs(n: i64) -> jiff::SignedDuration {
        jiff::SignedDuration::from_secs(n)
    }

    #[test]
    fn bans_within_the_rate_get_a_mail_each() {
        let cfg = notify(3);
        let mut o = Outbox::default();
        let t0 = t("2026-11-24T10:00:00Z");
        for n in 0..3 {
            let taken = o.take(&ban(n, "sshd", t0 + secs(n as i64)), &cfg);
            assert_eq!(taken.mail, Some(MailFate::Queued));
        }
        assert_eq!(o.mails.len(), 3);
        assert_eq!(o.mails[0].id, "0.ab");
    }

    #[test]
    fn bans_beyond_the_rate_go_into_one_digest_that_counts_them() {
        let cfg = notify(2);
        let mut o = Outbox::default();
        let t0 = t("2026-11-24T10:00:00Z");
        for n in 0..200 {
            o.take(&ban(n, "sshd", t0 + secs(n as i64)), &cfg);
        }
        assert_eq!(o.mails.len(), 2, "two single mails");
        let digest = o.rates["sshd"].digest.as_ref().unwrap();
        assert_eq!((digest.bans, digest.unbans), (198, 0));
        assert_eq!(digest.due, t0 + secs(2) + secs(600));
        assert_eq!(digest.events[0].lines, ["first"], "one line per row");
        assert_eq!(o.next_due(|_| false), Some(digest.due));
        assert_eq!(o.flush_due(t0 + secs(300)), 0, "not due yet");
        assert_eq!(o.flush_due(t0 + secs(602)), 1);
        assert_eq!(o.mails.len(), 3);
        let Message::Digest(d) = &o.mails[2].message else {
            panic!("a digest")
        };
        assert_eq!(d.bans, 198);
        assert_eq!(o.mails[2].id, "2.ab.digest");
        assert!(o.rates["sshd"].digest.is_none());
    }

    #[test]
    fn the_rate_is_per_jail() {
        let cfg = notify(1);
        let mut o = Outbox::default();
        let t0 = t("2026-11-24T10:00:00Z");
        o.take(&ban(1, "sshd", t0), &cfg);
        assert_eq!(o.take(&ban(2, "dovecot", t0), &cfg).mail, Some(MailFate::Queued));
        assert_eq!(
            o.take(&ban(3, "sshd", t0), &cfg).mail,
            Some(MailFate::InDigest(1))
        );
    }

    #[test]
    fn after_the_interval_single_mails_resume() {
        let cfg = notify(1);
        let mut o = Outbox::default();
        let t0 = t("2026-11-24T10:00:00Z");
        o.take(&ban(1, "sshd", t0), &cfg);
        o.take(&ban(2, "sshd", t0 + secs(1)), &cfg);
        // the digest is due at t0+601; an event after that first queues the digest, and as a
        // digest went out within the interval, it opens the next one
        let taken = o.take(&ban(3, "sshd", t0 + secs(700)), &cfg);
        assert_eq!(taken.mail, Some(MailFate::InDigest(1)));
        assert!(
            matches!(o.mails[1].message, Message::Digest(_)),
            "digest queued first"
        );
        let taken = o.take(&ban(4, "sshd", t0 + secs(1400)), &cfg);
        assert!(matches!(o.mails[2].message, Message::Digest(_)));
        assert_eq!(taken.mail, Some(MailFate::InDigest(1)));
        o.flush_due(t0 + secs(3000));
        let taken = o.take(&ban(5, "sshd", t0 + secs(5000)), &cfg);
        assert_eq!(
            taken.mail,
            Some(MailFate::Queued),
            "quiet for an interval: single again"
        );
    }

    #[test]
    fn digest_after_zero_buffers_every_ban() {
        let cfg = notify(0);
        let mut o = Outbox::default();
        let taken = o.take(&ban(1, "sshd", t("2026-11-24T10:00:00Z")), &cfg);
        assert_eq!(taken.mail, Some(MailFate::InDigest(1)));
        assert!(o.mails.is_empty());
    }

    #[test]
    fn jails_and_events_choose_what_is_mailed_and_run() {
        let mut cfg = notify(5);
        cfg.mail.as_mut().unwrap().jails = Jails::Only(BTreeSet::from(["dovecot".into()]));
        cfg.exec = vec![
            exec_config("on-ban", vec![NotifyEvent::Ban]),
            exec_config("on-both", vec![NotifyEvent::Ban, NotifyEvent::Unban]),
        ];
        let mut o = Outbox::default();
        let t0 = t("2026-11-24T10:00:00Z");
        let taken = o.take(&ban(1, "sshd", t0), &cfg);
        assert_eq!(taken.mail, None, "sshd is not mailed");
        assert_eq!(taken.execs, ["on-ban", "on-both"]);
        let taken = o.take(&event(2, "sshd", Kind::Unban, t0), &cfg);
        assert_eq!(taken.execs, ["on-both"]);
        let taken = o.take(&event(3, "dovecot", Kind::Unban, t0), &cfg);
        assert_eq!(taken.mail, None, "unbans are not mailed by default");
        assert!(taken.execs.is_empty(), "the commands are for sshd only");
        assert_eq!(o.take(&ban(4, "dovecot", t0), &cfg).mail, Some(MailFate::Queued));
    }

    #[test]
    fn failed_attempts_are_retried_with_doubling_delays_then_dropped() {
        let cfg = notify(5);
        let mail = cfg.mail.as_ref();
        let mut o = Outbox::default();
        let t0 = t("2026-11-24T10:00:00Z");
        o.take(&ban(1, "sshd", t0), &cfg);
        assert!(o.mail_ready(t0).is_some());
        assert_eq!(
            o.mail_finished(false, t0, mail),
            Finish::Retry {
                at: t0 + secs(30),
                failed: 1
            }
        );
        assert!(o.mail_ready(t0 + secs(29)).is_none(), "waits for its retry");
        assert_eq!(o.next_due(|_| false), Some(t0 + secs(30)));
        assert_eq!(
            o.next_due(|queue| queue.is_none()),
            None,
            "the mail queue is busy"
        );
        let t1 = t0 + secs(30);
        assert_eq!(
            o.mail_finished(false, t1, mail),
            Finish::Retry {
                at: t1 + secs(60),
                failed: 2
            }
        );
        assert_eq!(
            o.mail_finished(false, t1 + secs(60), mail),
            Finish::GaveUp { failed: 3 }
        );
        assert!(o.mails.is_empty());
        assert_eq!(retry_delay(Duration::from_secs(30), 40), MAX_RETRY_DELAY);
    }

    #[test]
    fn a_success_removes_the_job() {
        let mut cfg = notify(5);
        cfg.exec = vec![exec_config("report", vec![NotifyEvent::Ban])];
        let mut o = Outbox::default();
        let t0 = t("2026-11-24T10:00:00Z");
        o.take(&ban(1, "sshd", t0), &cfg);
        assert_eq!(o.mail_finished(true, t0, cfg.mail.as_ref()), Finish::Done);
        assert!(o.exec_ready("report", t0).is_some());
        assert_eq!(
            o.exec_finished("report", true, t0, cfg.exec.first()),
            Finish::Done
        );
        assert!(o.execs.is_empty());
        assert_eq!(o.sizes(), (0, 0, 0));
    }

    #[test]
    fn queues_are_bounded() {
        let mut cfg = notify(5);
        cfg.exec = vec![exec_config("report", vec![NotifyEvent::Ban])];
        let mut o = Outbox::default();
        let t0 = t("2026-11-24T10:00:00Z");
        for n in 0..QUEUE_LIMIT as u32 {
            o.take(&ban(n, "sshd", t0), &cfg);
        }
        let taken = o.take(&ban(1, "sshd", t0), &cfg);
        assert_eq!(taken.full, ["report"]);
        assert_eq!(o.execs["report"].len(), QUEUE_LIMIT);
    }

    #[test]
    fn a_new_config_drops_what_it_no_longer_asks_for() {
        let mut cfg = notify(5);
        cfg.exec = vec![exec_config("report", vec![NotifyEvent::Ban])];
        let mut o = Outbox::default();
        o.take(&ban(1, "sshd", t("2026-11-24T10:00:00Z")), &cfg);
        let none = Notify::default();
        let dropped = o.forget_unconfigured(&none);
        assert_eq!(dropped, [("mail".to_string(), 1), ("report".to_string(), 1)]);
        assert_eq!(o.sizes(), (0, 0, 0));
    }

    #[test]
    fn the_outbox_survives_a_save_and_load() {
        let mut cfg = notify(1);
        cfg.exec = vec![exec_config("report", vec![NotifyEvent::Ban])];
        let mut o = Outbox::default();
        let t0 = t("2026-11-24T10:00:00Z");
        for n in 0..3 {
            o.take(&ban(n, "sshd", t0), &cfg);
        }
        o.mail_finished(false, t0, cfg.mail.as_ref());
        let json = serde_json::to_string(&o).unwrap();
        let back: Outbox = serde_json::from_str(&json).unwrap();
        assert_eq!(back, o);
    }
}
