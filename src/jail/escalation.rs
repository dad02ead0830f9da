//! fail2ban's `bantime.increment`: how long a ban lasts given how often the address was
//! banned before. Pure: the random part of `rndtime` is a number the caller draws.

use std::time::Duration;

use crate::config::{BanTime, Increment};
pub use crate::time::LONGEST_BAN;

/// The length of a ban after `count` earlier bans; `None`: permanent.
///
/// Without `increment`, the jail's `bantime`. With it, as fail2ban computes it:
/// - `multipliers` set: `bantime × factor × multipliers[min(count, len − 1)]`;
/// - otherwise: `max(bantime, bantime × 2^min(count, 20) × factor)`;
///
/// then at most `maxtime`, then plus `rndtime × random / 2^64` (so 0 up to `rndtime`; added
/// after the cap, as fail2ban does, so bots cannot predict the end of a capped ban either).
/// The first ban (count 0) is the plain `bantime`, as in fail2ban, which escalates only an
/// address it has banned before. A permanent `bantime` stays permanent.
///
/// Whatever the factor, multipliers and count, the result is at most [`LONGEST_BAN`], the
/// longest timeout nftables can hold (about 584 years). It is capped there, not turned into a
/// permanent ban: the ban keeps an end that status, explain and the state file show, reconcile
/// and expiry treat it like every other timed ban, and no host lives to see the difference.
pub fn ban_time(
    bantime: BanTime,
    increment: Option<&Increment>,
    count: u32,
    random: u64,
) -> Option<Duration> {
    let base = bantime.duration()?.min(LONGEST_BAN);
    let Some(inc) = increment else {
        return Some(base);
    };
    let secs = base.as_secs_f64();
    let mut grown = match inc.multipliers.as_slice() {
        _ if count == 0 => secs,
        [] => (secs * f64::from(1u32 << count.min(20)) * inc.factor).max(secs),
        list => {
            let m = list[(count as usize).min(list.len() - 1)];
            secs * inc.factor * f64::from(m)
        }
    };
    if let Some(max) = inc.maxtime {
        grown = grown.min(max.as_secs_f64());
    }
    let grown = if grown.is_nan() || grown < 0.0 {
        base
    } else {
        Duration::from_secs_f64(grown.min(LONGEST_BAN.as_secs_f64()))
    };
    Some(
        grown
            .saturating_add(fraction(inc.rndtime, random))
            .min(LONGEST_BAN),
    )
}

/// `d × random / 2^64`: uniform in `[0, d)` for a uniform `random`.
fn fraction(d: Duration, random: u64) -> Duration {
    let nanos = (d.as_nanos().saturating_mul(u128::from(random))) >> 64;
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    Duration::new(secs, (nanos % 1_000_000_000) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60;

    fn mins(n: u64) -> Duration {
        Duration::from_secs(n * MIN)
    }

    fn inc(factor: f64, multipliers: &[u32], maxtime: Option<Duration>) -> Increment {
        Increment {
            factor,
            multipliers: multipliers.to_vec(),
            maxtime,
            rndtime: Duration::ZERO,
            overalljails: false,
        }
    }

    fn each(bantime: Duration, inc: &Increment, counts: std::ops::Range<u32>) -> Vec<u64> {
        counts
            .map(|c| {
                ban_time(BanTime::For(bantime), Some(inc), c, 0)
                    .unwrap()
                    .as_secs()
                    / MIN
            })
            .collect()
    }

    #[test]
    fn escalation_with_multipliers_and_factor_and_maxtime() {
        // No increment: always the bantime.
        assert_eq!(
            ban_time(BanTime::For(mins(10)), None, 7, u64::MAX),
            Some(mins(10))
        );

        // The first ban is the plain bantime, whatever the factor (fail2ban escalates repeats).
        // Then the default formula: bantime × 2^count × factor, at least bantime.
        assert_eq!(each(mins(10), &inc(1.0, &[], None), 0..5), [10, 20, 40, 80, 160]);
        assert_eq!(each(mins(10), &inc(1.5, &[], None), 0..3), [10, 30, 60]);
        assert_eq!(each(mins(10), &inc(0.25, &[], None), 0..4), [10, 10, 10, 20]);
        // 2^count stops growing at count 20.
        let twenty = each(Duration::from_secs(1), &inc(1.0, &[], None), 20..22);
        assert_eq!(twenty, [(1 << 20) / MIN, (1 << 20) / MIN]);

        // Multipliers: bantime × factor × multipliers[min(count, last)].
        assert_eq!(
            each(mins(10), &inc(1.0, &[1, 5, 30], None), 0..5),
            [10, 50, 300, 300, 300]
        );
        assert_eq!(each(mins(10), &inc(2.0, &[1, 5, 30], None), 0..3), [10, 100, 600]);

        // maxtime caps both.
        assert_eq!(
            each(mins(10), &inc(1.0, &[], Some(mins(60))), 0..5),
            [10, 20, 40, 60, 60]
        );
        assert_eq!(
            each(mins(10), &inc(1.0, &[1, 5, 30], Some(mins(100))), 0..3),
            [10, 50, 100]
        );

        // Huge counts and factors saturate at the longest ban nftables can hold instead of
        // overflowing or asking the kernel for a timeout it refuses.
        let huge = ban_time(
            BanTime::For(mins(60 * 24 * 365)),
            Some(&inc(1e9, &[], None)),
            99,
            0,
        );
        assert_eq!(huge, Some(LONGEST_BAN));
        let year = Duration::from_secs(365 * 24 * 3600);
        let multiplied = ban_time(
            BanTime::For(100 * year),
            Some(&inc(1.0, &[1, u32::MAX], None)),
            1,
            0,
        );
        assert_eq!(multiplied, Some(LONGEST_BAN));
        let mut random = inc(1.0, &[], Some(LONGEST_BAN));
        random.rndtime = LONGEST_BAN;
        let capped = ban_time(BanTime::For(500 * year), Some(&random), 30, u64::MAX);
        assert_eq!(
            capped,
            Some(LONGEST_BAN),
            "the random part stays under the limit too"
        );
        // a bantime past the limit (only a caller that skipped config validation has one)
        assert_eq!(ban_time(BanTime::For(1000 * year), None, 0, 0), Some(LONGEST_BAN));

        // A permanent bantime stays permanent.
        assert_eq!(
            ban_time(BanTime::Permanent, Some(&inc(2.0, &[], None)), 3, 0),
            None
        );
    }

    #[test]
    fn rndtime_adds_up_to_rndtime_from_the_callers_random_number() {
        let mut i = inc(1.0, &[], Some(mins(60)));
        i.rndtime = mins(10);
        let at = |count, random| ban_time(BanTime::For(mins(10)), Some(&i), count, random).unwrap();
        assert_eq!(at(0, 0), mins(10));
        assert_eq!(at(0, 1 << 63), mins(15));
        assert!(at(0, u64::MAX) < mins(20) && at(0, u64::MAX) > mins(19));
        assert_eq!(at(9, 1 << 63), mins(65), "the random part comes after maxtime");
    }
}
