//! The journal's hot window: for a while after the journal last moved, banjo looks for new
//! entries every few milliseconds instead of waiting for the journal's fd alone.
//!
//! Why: journald writes an entry into its mmapped file at once, but tells readers (inotify,
//! the fd sd-journal gives) only when its post-change timer fires: 250 ms after the first
//! write of a batch, plus up to 250 ms of sd-event's default slack (journald asks for no
//! accuracy). A reader waiting on the fd alone sees every entry up to half a second late
//! (mmapped writes make no inotify event of their own). An attack is a burst, so once the journal moved, the next entries are near:
//! looking every [`HOT_INTERVAL`] for [`HOT_WINDOW`] after the last entry sees the failure
//! that completes maxretry within milliseconds. A journal that stays quiet ends the window,
//! and the loop sleeps on the fd and its timers again, as often as before.
//!
//! The figures come from bench/daemon.py on a 2-core VM shared with other builds: a burst's
//! banning failure (5 failures 100 ms apart) reaches the kernel set in p50 4.5 ms, p99 9.3 ms
//! at 5 ms (200 ms and 300 ms waiting on the fd alone); a window costs about 190 looks and
//! 15 ms of CPU (`idle`'s lone entry); an idle banjo wakes 60 times a minute either way.
//! 1 s covers the gaps of the bursts that matter (a brute force tries again within a
//! second); an address that waits longer is seen when journald's notice comes, as before.
use std::time::{Duration, Instant};

/// How often the journal is looked at during the hot window.
pub const HOT_INTERVAL: Duration = Duration::from_millis(5);
/// How long after the journal last moved the window stays open.
pub const HOT_WINDOW: Duration = Duration::from_secs(1);

/// Whether, and until when, the journal is looked at every [`HOT_INTERVAL`].
#[derive(Debug, Clone, Copy, Default)]
pub struct HotWindow {
    until: Option<Instant>,
}

impl HotWindow {
    /// The journal moved at `now` (its fd woke, or an entry was read): the window reopens.
    pub fn moved(&mut self, now: Instant) {
        self.until = Some(now + HOT_WINDOW);
    }

    /// Whether the window is open at `now`: the journal is to be looked at this turn.
    pub fn open(&self, now: Instant) -> bool {
        self.until.is_some_and(|u| now < u)
    }

    /// How long the loop may sleep before the next look: [`HOT_INTERVAL`] while the window is
    /// open, `None` (no limit of the window's own) after.
    pub fn sleep(&self, now: Instant) -> Option<Duration> {
        self.open(now).then_some(HOT_INTERVAL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_until_the_journal_moves() {
        let t0 = Instant::now();
        let w = HotWindow::default();
        assert!(!w.open(t0));
        assert_eq!(w.sleep(t0), None, "an idle journal adds no wake-up");
    }

    #[test]
    fn open_for_the_window_after_the_last_move_then_closed() {
        let t0 = Instant::now();
        let mut w = HotWindow::default();
        w.moved(t0);
        assert!(w.open(t0));
        assert_eq!(w.sleep(t0), Some(HOT_INTERVAL));
        let later = t0 + HOT_WINDOW / 2;
        w.moved(later);
        assert!(w.open(t0 + HOT_WINDOW), "each move reopens the window");
        assert!(!w.open(later + HOT_WINDOW));
        assert_eq!(w.sleep(later + HOT_WINDOW), None);
    }
}
