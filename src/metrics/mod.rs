//! Metrics as plain values: counters, labelled counters and histograms that the daemon's rooms
//! keep as fields beside the events they count, and their Prometheus text form
//! ([`Exposition`]). Imports nothing of banjo's.
//!
//! There is no registry of global statics: a room owns its counters (`feeds` the lines read,
//! `bans` the bans by cause, `enforce` the re-applies …) and writes them when the control
//! socket asks for `metrics`, on the loop thread, so a scrape reads plain integers and takes
//! no lock. Gauges are not kept at all: they are read from the ledger and the jails at the
//! scrape. `http` answers one scrape request for `banjo metrics --http`.

mod exposition;
pub mod http;

use std::collections::BTreeMap;

pub use exposition::{Exposition, Kind};

/// A count that only goes up (until the daemon restarts).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counter(u64);

impl Counter {
    pub fn inc(&mut self) {
        self.add(1);
    }

    pub fn add(&mut self, n: u64) {
        self.0 = self.0.saturating_add(n);
    }

    pub fn get(&self) -> u64 {
        self.0
    }
}

/// One [`Counter`] per key: a label set (a jail, a jail and a cause …). A key appears once it
/// was counted; [`Counters::touch`] makes it appear at 0 (a jail with no ban yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counters<K: Ord>(BTreeMap<K, Counter>);

impl<K: Ord> Default for Counters<K> {
    fn default() -> Self {
        Counters(BTreeMap::new())
    }
}

impl<K: Ord> Counters<K> {
    pub fn inc(&mut self, key: K) {
        self.add(key, 1);
    }

    pub fn add(&mut self, key: K, n: u64) {
        self.0.entry(key).or_default().add(n);
    }

    /// The key is shown (at 0 when never counted).
    pub fn touch(&mut self, key: K) {
        self.0.entry(key).or_default();
    }

    pub fn get<Q>(&self, key: &Q) -> u64
    where
        K: std::borrow::Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.0.get(key).map_or(0, Counter::get)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, u64)> + '_ {
        self.0.iter().map(|(k, c)| (k, c.get()))
    }
}

/// Seconds from a failure in the log to its ban in the kernel: a few milliseconds when banjo
/// keeps up, up to the journal's lag when it reads a backlog (after a start, the failures of
/// the last findtime), and longer when the kernel refused the ban until a retry.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0,
];

/// A Prometheus histogram: counts per upper bound (cumulative when written), their sum and
/// count. The bounds are fixed when it is made.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    bounds: &'static [f64],
    /// `counts[i]`: observations in (bounds[i-1], bounds[i]]; the last one past every bound.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    /// An empty histogram with these upper bounds (ascending).
    pub fn new(bounds: &'static [f64]) -> Histogram {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]), "bounds ascend");
        Histogram {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    pub fn observe(&mut self, value: f64) {
        let value = if value.is_finite() { value.max(0.0) } else { 0.0 };
        let i = self.bounds.partition_point(|&b| b < value);
        self.counts[i] += 1;
        self.sum += value;
        self.count += 1;
    }

    /// (upper bound, observations at or below it), ascending, `+Inf` last.
    pub fn buckets(&self) -> impl Iterator<Item = (f64, u64)> + '_ {
        let bounds = self.bounds.iter().copied().chain([f64::INFINITY]);
        bounds.zip(self.counts.iter().scan(0, |total, n| {
            *total += n;
            Some(*total)
        }))
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    pub fn count(&self) -> u64 {
        self.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_appear_when_counted_or_touched() {
        let mut c: Counters<(&str, &str)> = Counters::default();
        c.inc(("sshd", "failures"));
        c.add(("sshd", "failures"), 2);
        c.touch(("dovecot", "failures"));
        let all: Vec<_> = c.iter().collect();
        assert_eq!(all, [(&("dovecot", "failures"), 0), (&("sshd", "failures"), 3)]);
        assert_eq!(c.get(&("nope", "x")), 0);
    }

    #[test]
    fn histogram_buckets_are_cumulative_with_inf_last() {
        let mut h = Histogram::new(&[0.01, 0.1, 1.0]);
        for v in [0.005, 0.01, 0.05, 2.0, -1.0, f64::NAN] {
            h.observe(v);
        }
        let b: Vec<_> = h.buckets().collect();
        assert_eq!(b, [(0.01, 4), (0.1, 5), (1.0, 5), (f64::INFINITY, 6)]);
        assert_eq!(h.count(), 6);
        assert!((h.sum() - 2.065).abs() < 1e-9, "{}", h.sum());
    }

    #[test]
    fn an_upper_bound_includes_its_own_value() {
        let mut h = Histogram::new(LATENCY_BUCKETS);
        h.observe(0.005);
        assert_eq!(h.buckets().find(|(b, _)| *b == 0.005).map(|(_, n)| n), Some(1));
        assert_eq!(h.buckets().find(|(b, _)| *b == 0.0025).map(|(_, n)| n), Some(0));
    }
}
