//! The periodic jobs: one [`Every`] per job (save, STATUS=, watchdog, table check, refused
//! bans tried again), each
//! job's work in the room that owns it. Nothing here is a flag or a `last_*` field.

use std::time::{Duration, Instant};

use super::{Daemon, notify};

/// How often, at most, the ban state and the journal progress are written.
const SAVE_EVERY: Duration = Duration::from_secs(1);
/// A save costs as much as the state it writes (every address's failures in the window):
/// the next waits at least this many times as long as the last took, so that saving takes
/// at most a tenth of the loop's time however many addresses are tracked.
const SAVE_SPACING: u32 = 10;
/// How often, at most, STATUS= is sent to systemd (sd_notify blocks when the manager is slow
/// to read, and a burst of bans must not become a burst of datagrams).
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// How often the table is checked even without a monitor event.
pub const CHECK_TABLE_EVERY: Duration = Duration::from_secs(10);
/// How often the bans the kernel refused are tried again (a full set may have room now).
pub const RETRY_REFUSED_EVERY: Duration = Duration::from_secs(10);
/// The longest the loop sleeps: the jobs above are served within this.
pub const LONGEST_SLEEP: Duration = Duration::from_secs(1);

/// A job due once per `period`.
#[derive(Debug, Clone, Copy)]
pub struct Every {
    period: Duration,
    next: Instant,
}

impl Every {
    /// First due one period after `now`.
    pub fn new(period: Duration, now: Instant) -> Every {
        Every {
            period,
            next: now + period,
        }
    }

    /// True when the job is due at `now`; the next time is then one period later.
    pub fn due(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next = now + self.period;
        true
    }

    /// Not due again before `until`.
    pub fn put_off(&mut self, until: Instant) {
        self.next = self.next.max(until);
    }

    /// How long until it is due (zero when it is).
    pub fn left(&self, now: Instant) -> Duration {
        self.next.saturating_duration_since(now)
    }
}

/// The daemon's periodic jobs.
pub struct Timers {
    save: Every,
    status: Every,
    /// Half of WatchdogSec=, when systemd set one.
    watchdog: Option<Every>,
    check_table: Every,
    retry_refused: Every,
}

impl Timers {
    pub fn new(now: Instant, watchdog: Option<Duration>) -> Timers {
        Timers {
            save: Every::new(SAVE_EVERY, now),
            status: Every::new(STATUS_EVERY, now),
            watchdog: watchdog.map(|w| Every::new(w / 2, now)),
            check_table: Every::new(CHECK_TABLE_EVERY, now),
            retry_refused: Every::new(RETRY_REFUSED_EVERY, now),
        }
    }

    /// How long the loop may sleep before a job that cannot wait (the watchdog) is due.
    pub fn sleep(&self, now: Instant) -> Duration {
        let watchdog = self.watchdog.map_or(LONGEST_SLEEP, |w| w.left(now));
        watchdog.min(LONGEST_SLEEP)
    }
}

impl Daemon {
    /// Runs the jobs that are due. While a journal backlog is read, progress is saved once it
    /// is caught up: a crash meanwhile re-reads from the last saved (cursor, failures) pair,
    /// which stay consistent.
    pub(super) fn run_due_jobs(&mut self, now: Instant) {
        if self.timers.status.due(now) {
            self.notify.status(&self.status_line());
        }
        if !self.feeds.backlog() && self.timers.save.due(now) {
            let began = Instant::now();
            self.save();
            let spaced = began + began.elapsed() * SAVE_SPACING;
            self.timers.save.put_off(spaced);
        }
        if let Some(w) = &mut self.timers.watchdog
            && w.due(now)
        {
            notify::watchdog();
        }
        if self.timers.check_table.due(now) && !self.enforce.table_exists() {
            self.reapply(super::enforce::Reapply::TableGone);
        }
        if self.timers.retry_refused.due(now) {
            // sent with the next turn's changes, which follows within a second
            let retry = self.bans.refused(jiff::Timestamp::now());
            self.enforce.queue_all(retry);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_is_due_once_per_period_and_says_how_long_until() {
        let t0 = Instant::now();
        let mut e = Every::new(Duration::from_secs(1), t0);
        assert!(!e.due(t0));
        assert_eq!(e.left(t0), Duration::from_secs(1));
        let t1 = t0 + Duration::from_millis(1500);
        assert!(e.due(t1));
        assert!(!e.due(t1), "once per period");
        assert_eq!(e.left(t1), Duration::from_secs(1));
        assert!(
            e.due(t1 + Duration::from_secs(5)),
            "a late turn still runs it, once"
        );
    }

    #[test]
    fn a_job_put_off_waits_and_is_never_brought_forward() {
        let t0 = Instant::now();
        let mut e = Every::new(Duration::from_secs(1), t0);
        e.put_off(t0 + Duration::from_secs(10));
        assert!(!e.due(t0 + Duration::from_secs(9)));
        assert_eq!(e.left(t0 + Duration::from_secs(9)), Duration::from_secs(1));
        e.put_off(t0 + Duration::from_secs(2));
        assert!(!e.due(t0 + Duration::from_secs(5)), "not brought forward");
        assert!(e.due(t0 + Duration::from_secs(10)));
    }

    #[test]
    fn the_loop_sleeps_at_most_a_second_and_wakes_for_the_watchdog() {
        let t0 = Instant::now();
        assert_eq!(Timers::new(t0, None).sleep(t0), LONGEST_SLEEP);
        let t = Timers::new(t0, Some(Duration::from_millis(600)));
        assert_eq!(t.sleep(t0), Duration::from_millis(300));
    }
}
