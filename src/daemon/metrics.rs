//! `banjo metrics`: every room's counters and gauges in one Prometheus text, in the order the
//! data flows (sources, jails, bans, the firewall, reloads, the state files). The counters
//! live in the rooms that own the events; this file only puts their parts together, on the
//! loop thread, when the control socket asks.

use jiff::Timestamp;

use super::Daemon;
use crate::metrics::{Exposition, Kind};

/// The state files whose failed writes are counted.
const STATE_FILES: [&str; 2] = ["bans.json", "progress.json"];

impl Daemon {
    /// The whole exposition at `now`.
    pub(super) fn metrics_text(&self, now: Timestamp) -> String {
        let mut out = Exposition::new();
        out.family(
            "banjo_build_info",
            Kind::Gauge,
            "The running banjo's version, as a label; the value is always 1.",
        );
        out.sample(&[("version", env!("CARGO_PKG_VERSION"))], 1u64);
        out.family(
            "banjo_start_time_seconds",
            Kind::Gauge,
            "When the daemon started, in seconds since the Unix epoch.",
        );
        out.sample(&[], self.started_at.as_millisecond() as f64 / 1000.0);
        self.feeds.expose(&mut out, now);
        self.jails.expose(&mut out, now);
        self.bans.expose(&mut out);
        self.enforce.expose(&mut out);
        self.reloads.expose(&mut out);
        out.family(
            "banjo_state_save_errors_total",
            Kind::Counter,
            "Failed writes of a state file in the state directory (retried within a second).",
        );
        for file in STATE_FILES {
            out.sample(&[("file", file)], self.save_errors.get(file));
        }
        out.finish()
    }
}
