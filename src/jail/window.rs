//! Failure windows: per address (or per IPv6 network, see `ipv6_prefix`), the times and lines
//! of its recent failures, oldest first; and an index by newest failure, so stale windows are
//! dropped and the least recently failing one is evicted in O(log n).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};

use jiff::Timestamp;

use crate::addr::Target;

/// The longest copy of a matched line a window keeps, in bytes.
pub const MAX_LINE: usize = 1024;

/// The smallest target in `Target`'s order, for ranges over the newest-failure index.
const FIRST_TARGET: Target = Target::Addr(IpAddr::V4(Ipv4Addr::UNSPECIFIED));

/// One failure as a window keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SeenFailure {
    #[serde(with = "crate::time::ts")]
    pub time: Timestamp,
    /// The matched line, cut to [`MAX_LINE`] bytes at a character boundary.
    pub line: String,
    /// The address that failed, when the window is a network's (failures counted by prefix).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<IpAddr>,
}

impl SeenFailure {
    pub fn new(time: Timestamp, line: &str) -> SeenFailure {
        let mut end = line.len().min(MAX_LINE);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        SeenFailure {
            time,
            line: line[..end].to_string(),
            addr: None,
        }
    }

    /// The same, from `addr` (a window of a network).
    pub fn with_addr(mut self, addr: IpAddr) -> SeenFailure {
        self.addr = Some(addr);
        self
    }
}

#[derive(Debug, Clone, Default)]
pub(super) struct Windows {
    by_target: HashMap<Target, VecDeque<SeenFailure>>,
    /// (newest failure time, target) of every window.
    by_newest: BTreeSet<(Timestamp, Target)>,
}

impl Windows {
    pub(super) fn len(&self) -> usize {
        self.by_target.len()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&Target, &VecDeque<SeenFailure>)> {
        self.by_target.iter()
    }

    pub(super) fn contains(&self, target: &Target) -> bool {
        self.by_target.contains_key(target)
    }

    pub(super) fn get(&self, target: &Target) -> Option<&VecDeque<SeenFailure>> {
        self.by_target.get(target)
    }

    /// Windows whose newest failure is before `oldest`: counted as pending until pruned.
    pub(super) fn stale(&self, oldest: Timestamp) -> usize {
        self.by_newest.range(..(oldest, FIRST_TARGET)).count()
    }

    /// Drops the windows whose every failure is before `oldest`; returns how many.
    pub(super) fn prune(&mut self, oldest: Timestamp) -> usize {
        let mut dropped = 0;
        while let Some(&(newest, target)) = self.by_newest.first() {
            if newest >= oldest {
                break;
            }
            self.by_newest.pop_first();
            self.by_target.remove(&target);
            dropped += 1;
        }
        dropped
    }

    /// Drops the window whose newest failure is the oldest of all.
    pub(super) fn evict_one(&mut self) -> Option<Target> {
        let (_, target) = self.by_newest.pop_first()?;
        self.by_target.remove(&target);
        Some(target)
    }

    /// Adds a failure (any time order) to `target`'s window, drops its failures before
    /// `oldest` and all but the newest `keep`; returns how many are left.
    pub(super) fn add(&mut self, target: Target, seen: SeenFailure, oldest: Timestamp, keep: usize) -> usize {
        let window = self.by_target.entry(target).or_default();
        let before = window.back().map(|s| s.time);
        let at = window.partition_point(|s| s.time <= seen.time);
        window.insert(at, seen);
        while window.front().is_some_and(|s| s.time < oldest) || window.len() > keep.max(1) {
            window.pop_front();
        }
        let after = window.back().map(|s| s.time);
        let count = window.len();
        if count == 0 {
            self.by_target.remove(&target);
        }
        if before != after {
            if let Some(t) = before {
                self.by_newest.remove(&(t, target));
            }
            if let Some(t) = after {
                self.by_newest.insert((t, target));
            }
        }
        count
    }

    /// Takes a window out (a ban, or an admin's reset).
    pub(super) fn take(&mut self, target: &Target) -> Option<VecDeque<SeenFailure>> {
        let window = self.by_target.remove(target)?;
        if let Some(newest) = window.back() {
            self.by_newest.remove(&(newest.time, *target));
        }
        Some(window)
    }

    /// Takes out every window of a network or address inside `net` (an admin's unban of a
    /// network). O(windows): an admin's command, never a failure's.
    pub(super) fn take_inside(&mut self, net: &Target) -> usize {
        let inside: Vec<Target> = self.by_target.keys().filter(|t| net.covers(t)).copied().collect();
        for t in &inside {
            self.take(t);
        }
        inside.len()
    }

    /// Keeps only the newest `keep` failures of every window (a lower `maxretry`).
    pub(super) fn trim(&mut self, keep: usize) {
        for window in self.by_target.values_mut() {
            while window.len() > keep.max(1) {
                window.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn seen(secs: i64) -> SeenFailure {
        SeenFailure::new(at(secs), "line")
    }

    fn target(i: u8) -> Target {
        Target::addr(IpAddr::V4(Ipv4Addr::new(192, 0, 2, i)))
    }

    #[test]
    fn out_of_order_failures_are_kept_in_time_order() {
        let mut w = Windows::default();
        w.add(target(1), seen(30), at(0), 5);
        w.add(target(1), seen(10), at(0), 5);
        assert_eq!(w.add(target(1), seen(20), at(0), 5), 3);
        let times: Vec<_> = w.get(&target(1)).unwrap().iter().map(|s| s.time).collect();
        assert_eq!(times, [at(10), at(20), at(30)]);
        assert_eq!(w.by_newest.len(), 1);
    }

    #[test]
    fn keep_and_oldest_bound_a_window() {
        let mut w = Windows::default();
        for s in 0..10 {
            w.add(target(1), seen(s), at(0), 3);
        }
        assert_eq!(w.get(&target(1)).unwrap().len(), 3);
        assert_eq!(
            w.add(target(1), seen(20), at(9), 3),
            2,
            "failures before 9 are dropped"
        );
        assert_eq!(
            w.add(target(2), seen(1), at(9), 3),
            0,
            "a stale failure alone leaves nothing"
        );
        assert!(!w.contains(&target(2)));
    }

    #[test]
    fn prune_and_evict_follow_the_newest_failure() {
        let mut w = Windows::default();
        w.add(target(1), seen(5), at(0), 5);
        w.add(target(2), seen(1), at(0), 5);
        w.add(target(2), seen(9), at(0), 5);
        w.add(target(3), seen(7), at(0), 5);
        assert_eq!(w.stale(at(6)), 1);
        assert_eq!(w.evict_one(), Some(target(1)));
        assert_eq!(w.prune(at(8)), 1, "target 3's newest is 7");
        assert!(w.contains(&target(2)));
        assert_eq!(w.len(), 1);
        assert!(w.take(&target(2)).is_some());
        assert!(w.by_newest.is_empty());
    }

    #[test]
    fn long_lines_are_cut_at_a_char_boundary() {
        let line = "é".repeat(MAX_LINE);
        let s = SeenFailure::new(at(0), &line);
        assert!(s.line.len() <= MAX_LINE && s.line.len() >= MAX_LINE - 1);
        assert!(s.line.chars().all(|c| c == 'é'));
    }
}
