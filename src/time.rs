//! Time arithmetic everyone shares (bottom of the module tree: imports nothing of banjo's).
//! Timestamp arithmetic that saturates instead of failing, and the state file's timestamp
//! form (RFC 3339 text, e.g. "2025-03-01T12:00:00Z", so the file reads well in an editor).

use std::fmt;
use std::time::Duration;

use jiff::Timestamp;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serializer};

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
}
