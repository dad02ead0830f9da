//! Time arithmetic everyone shares (bottom of the module tree: imports nothing of banjo's).
//! Timestamp arithmetic that saturates instead of failing, the longest timed ban the kernel
//! can hold, and the state file's timestamp form (RFC 3339 text, e.g. "2025-03-01T12:00:00Z",
//! so the file reads well in an editor).

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serializer};

/// The longest timed ban: the longest set-element timeout nf_tables takes, in whole seconds.
///
/// The kernel turns NFTA_SET_ELEM_TIMEOUT (milliseconds) into jiffies through nanoseconds in
/// a u64, and refuses with ERANGE any value of `U64_MAX / NSEC_PER_MSEC` ms or more
/// (`nf_msecs_to_jiffies64`, net/netfilter/nf_tables_api.c, the same on every HZ): at most
/// 18 446 744 073 708 ms, 213503d 23h 34m 33.708s, about 584 years. Checked on Linux 6.18 in
/// a network namespace: `nft add element … timeout 213503d23h34m33s708ms` is taken, one
/// millisecond more is "Numerical result out of range".
///
/// banjo refuses longer times where a person writes them (config, `banjo ban --time`), caps
/// what escalation computes at it, and never hands the kernel a longer timeout (see
/// [`timeout`]); a permanent ban (`-1`) has no timeout at all.
pub const LONGEST_BAN: Duration = Duration::from_secs(18_446_744_073);

/// The shortest timeout a ban is given in the kernel: nftables reads a zero timeout as "no
/// timeout", which would make a ban about to end permanent.
pub const SHORTEST_TIMEOUT: Duration = Duration::from_secs(1);

/// The timeout the kernel gets for a ban that ends at `until`: the time left, at least
/// [`SHORTEST_TIMEOUT`] (a ban that is due ends by the kernel's hand a moment later, not
/// never) and at most [`LONGEST_BAN`] (a state file written before that limit, or a clock
/// stepped back, can ask for more).
pub fn timeout(until: Timestamp, now: Timestamp) -> Duration {
    left(until, now)
        .unwrap_or_default()
        .clamp(SHORTEST_TIMEOUT, LONGEST_BAN)
}

/// `t + d`, or the latest representable time.
pub fn after(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_add(d).unwrap_or(Timestamp::MAX)
}

/// `t - d`, or the earliest representable time.
pub fn before(t: Timestamp, d: Duration) -> Timestamp {
    t.checked_sub(d).unwrap_or(Timestamp::MIN)
}

/// How long from `now` to `until`; `None` when `until` is not after `now`.
pub fn left(until: Timestamp, now: Timestamp) -> Option<Duration> {
    Duration::try_from(until.duration_since(now))
        .ok()
        .filter(|d| !d.is_zero())
}

/// `#[serde(with = "…::ts")]` for a `Timestamp`.
pub(crate) mod ts {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(t)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        d.deserialize_str(TimestampVisitor)
    }
}

/// `#[serde(with = "…::opt_ts")]` for an `Option<Timestamp>` (`null` for `None`).
pub(crate) mod opt_ts {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.collect_str(t),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        #[derive(Deserialize)]
        struct Wrap(#[serde(with = "super::ts")] Timestamp);
        Ok(Option::<Wrap>::deserialize(d)?.map(|Wrap(t)| t))
    }
}

struct TimestampVisitor;

impl Visitor<'_> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 time such as \"2025-03-01T12:00:00Z\"")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
        text.parse()
            .map_err(|e| E::custom(format_args!("bad time {text:?}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(after(Timestamp::MAX, Duration::from_secs(1)), Timestamp::MAX);
        assert_eq!(before(Timestamp::MIN, Duration::from_secs(1)), Timestamp::MIN);
        let t = Timestamp::from_second(1000).unwrap();
        assert_eq!(
            left(after(t, Duration::from_secs(5)), t),
            Some(Duration::from_secs(5))
        );
        assert_eq!(left(t, t), None);
        assert_eq!(left(before(t, Duration::from_secs(5)), t), None);
    }

    #[test]
    fn longest_ban_is_the_kernels_limit_in_whole_seconds() {
        // nf_msecs_to_jiffies64 refuses ms >= u64::MAX / 1_000_000
        let kernel_refuses_from_ms = u64::MAX / 1_000_000;
        assert!(LONGEST_BAN.as_millis() < u128::from(kernel_refuses_from_ms));
        assert!(LONGEST_BAN.as_millis() + 1000 >= u128::from(kernel_refuses_from_ms));
    }

    #[test]
    fn the_kernels_timeout_is_between_a_second_and_the_longest_ban() {
        let now = Timestamp::from_second(1000).unwrap();
        let in_a_minute = after(now, Duration::from_secs(60));
        assert_eq!(timeout(in_a_minute, now), Duration::from_secs(60));
        assert_eq!(timeout(now, now), Duration::from_secs(1));
        assert_eq!(
            timeout(before(now, Duration::from_secs(9)), now),
            Duration::from_secs(1)
        );
        let in_a_thousand_years = after(now, Duration::from_secs(1000 * 365 * 24 * 3600));
        assert_eq!(timeout(in_a_thousand_years, now), LONGEST_BAN);
    }
}
