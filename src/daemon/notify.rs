//! Every sd_notify call, in one place: READY=1, RELOADING=1 (with MONOTONIC_USEC, as
//! Type=notify-reload wants), STOPPING=1, WATCHDOG=1 and STATUS=. Each is one datagram to the
//! manager; without NOTIFY_SOCKET each does nothing. Errors are ignored: the manager's
//! socket is its business, and banjo bans on either way.

use std::time::Duration;

use sd_notify::NotifyState;

/// WatchdogSec= as systemd passed it (WATCHDOG_USEC), if any.
pub fn watchdog_period() -> Option<Duration> {
    sd_notify::watchdog_enabled()
}

/// I am alive (every half of WatchdogSec=).
pub fn watchdog() {
    let _ = sd_notify::notify(&[NotifyState::Watchdog]);
}

/// A reload begins.
pub fn reloading() {
    let _ = sd_notify::notify(&[
        NotifyState::Reloading,
        NotifyState::monotonic_usec_now().unwrap_or(NotifyState::Status("reloading")),
    ]);
}

/// The daemon is going away.
pub fn stopping() {
    let _ = sd_notify::notify(&[NotifyState::Stopping]);
}

/// STATUS= as systemctl status shows it, sent only when it changed.
#[derive(Debug, Default)]
pub struct Notify {
    shown: Option<String>,
}

impl Notify {
    /// Started, or a reload finished (READY=1 ends RELOADING=1), with the status line.
    pub fn ready(&mut self, status: &str) {
        let _ = sd_notify::notify(&[NotifyState::Ready, NotifyState::Status(status)]);
        self.shown = Some(status.to_string());
    }

    /// The status line, when it differs from the one systemd shows.
    pub fn status(&mut self, status: &str) {
        if self.shown.as_deref() == Some(status) {
            return;
        }
        let _ = sd_notify::notify(&[NotifyState::Status(status)]);
        self.shown = Some(status.to_string());
    }
}
