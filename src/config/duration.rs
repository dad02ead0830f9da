//! Durations as admins write them ("600", "10m", "1d12h", -1 for a permanent ban) and as banjo
//! prints them back. Parsing returns a plain-words problem; `values` adds the file and key.

use std::fmt;
use std::time::Duration;

use crate::time::LONGEST_BAN;

/// How long a ban lasts: fail2ban's `bantime`, where -1 means "never lifted".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BanTime {
    /// `bantime = -1`: the address stays banned until an admin unbans it.
    Permanent,
    /// A ban that the kernel expires after this long.
    For(Duration),
}

impl BanTime {
    /// The length of the ban, or `None` when it is permanent.
    pub fn duration(self) -> Option<Duration> {
        match self {
            BanTime::Permanent => None,
            BanTime::For(d) => Some(d),
        }
    }
}

impl fmt::Display for BanTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BanTime::Permanent => f.write_str("permanent"),
            BanTime::For(d) => Compact(*d).fmt(f),
        }
    }
}

/// "30500w3d23h34m33s (about 584 years)": the longest timed ban the kernel can hold
/// ([`LONGEST_BAN`]) as messages name it.
pub fn longest_ban_text() -> String {
    format!(
        "{} (about {} years)",
        Compact(LONGEST_BAN),
        LONGEST_BAN.as_secs() / YEAR
    )
}

/// A ban length a person gave, checked against [`LONGEST_BAN`]: the kernel cannot time a
/// longer one, so it is refused here rather than failing in nftables later.
pub fn check_ban_length(d: Duration) -> Result<Duration, String> {
    if d > LONGEST_BAN {
        return Err(format!(
            "{} is longer than the longest ban nftables can time, {}; for a ban that never \
             ends, use -1 (permanent)",
            Compact(d),
            longest_ban_text()
        ));
    }
    Ok(d)
}

/// Prints a duration the way the config file writes it: `Compact(36h)` is "1d12h".
/// Whole seconds only; weeks are the largest unit so the output always parses back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compact(pub Duration);

impl fmt::Display for Compact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0.as_secs();
        if rest == 0 {
            return f.write_str("0s");
        }
        for &(unit, secs) in &[("w", WEEK), ("d", DAY), ("h", HOUR), ("m", MINUTE), ("s", 1)] {
            if rest >= secs {
                write!(f, "{}{unit}", rest / secs)?;
                rest %= secs;
            }
        }
        Ok(())
    }
}

const MINUTE: u64 = 60;
const HOUR: u64 = 60 * MINUTE;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;
const MONTH: u64 = 30 * DAY;
const YEAR: u64 = 365 * DAY;

/// The units banjo understands, longest first so "mo" wins over "m".
const UNITS: &[(&str, u64)] = &[
    ("mo", MONTH),
    ("s", 1),
    ("m", MINUTE),
    ("h", HOUR),
    ("d", DAY),
    ("w", WEEK),
    ("y", YEAR),
];

/// The unit list as error messages show it.
pub const UNITS_HELP: &str = "units are s, m, h, d, w, mo (30 days) and y (365 days), written right \
     after the number without spaces, e.g. \"90s\", \"10m\", \"1h30m\", \"1d12h\"";

/// Parses "600", "10m", "1h30m", "1d12h", "1mo". Zero is allowed here; callers that need a
/// positive duration check for it, so each can say why.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("an empty string is not a duration: {UNITS_HELP}"));
    }
    if let Some(d) = parse_compact(text) {
        return d;
    }
    let mut problem = if text.starts_with('-') {
        "a negative duration makes no sense here".to_string()
    } else {
        format!("not a duration: {UNITS_HELP}")
    };
    if let Some(better) = suggest(text) {
        problem.push_str(&format!("; did you mean \"{better}\"?"));
    }
    Err(problem)
}

/// `None` when the text is not of the form `(<digits><unit>)+` or `<digits>`;
/// `Some(Err)` when it is but overflows.
fn parse_compact(text: &str) -> Option<Result<Duration, String>> {
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return Some(
            text.parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| format!("{text} seconds is too long")),
        );
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let (number, tail) = rest.split_at(digits);
        let (unit, secs) = UNITS.iter().find(|(u, _)| tail.starts_with(u))?;
        rest = &tail[unit.len()..];
        let Some(sum) = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(*secs))
            .and_then(|s| total.checked_add(s))
        else {
            return Some(Err(format!("{text} is too long")));
        };
        total = sum;
    }
    Some(Ok(Duration::from_secs(total)))
}

/// Turns fail2ban's and everyday spellings ("1 day", "24hrs", "2 Hours") into banjo's, if that
/// gives a valid duration.
fn suggest(text: &str) -> Option<String> {
    const LONG: &[(&[&str], &str)] = &[
        (&["seconds", "second", "secs", "sec", "ss"], "s"),
        (&["minutes", "minute", "mins", "min", "mm"], "m"),
        (&["hours", "hour", "hrs", "hr", "hh"], "h"),
        (&["days", "day", "dd"], "d"),
        (&["weeks", "week", "wk", "ww"], "w"),
        (&["months", "month", "mon"], "mo"),
        (&["years", "year", "yy", "yr"], "y"),
    ];
    let lower = text.to_ascii_lowercase();
    let mut out = String::new();
    for word in split_number_words(&lower) {
        if word.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(word);
        } else if let Some((_, short)) = LONG.iter().find(|(long, _)| long.contains(&word)) {
            out.push_str(short);
        } else {
            out.push_str(word);
        }
    }
    let valid = matches!(parse_compact(&out), Some(Ok(_)));
    (valid && out != text).then_some(out)
}

/// "1 day 12hrs" → ["1", "day", "12", "hrs"].
fn split_number_words(text: &str) -> Vec<&str> {
    let mut words = Vec::new();
    for chunk in text.split(|c: char| c.is_whitespace() || c == ',') {
        let mut start = 0;
        let bytes = chunk.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[i - 1].is_ascii_digit() {
                if start < i {
                    words.push(&chunk[start..i]);
                }
                start = i;
            }
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> u64 {
        parse_duration(text).unwrap().as_secs()
    }

    #[test]
    fn plain_numbers_are_seconds() {
        assert_eq!(secs("600"), 600);
        assert_eq!(secs(" 86400 "), 86400);
    }

    #[test]
    fn each_unit_is_understood() {
        assert_eq!(secs("90s"), 90);
        assert_eq!(secs("10m"), 600);
        assert_eq!(secs("1h"), 3600);
        assert_eq!(secs("1d"), 86400);
        assert_eq!(secs("1w"), 7 * 86400);
        assert_eq!(secs("1mo"), 30 * 86400);
        assert_eq!(secs("1y"), 365 * 86400);
    }

    #[test]
    fn units_combine() {
        assert_eq!(secs("1d12h"), 36 * 3600);
        assert_eq!(secs("1h30m"), 5400);
        assert_eq!(secs("1mo1m"), 30 * 86400 + 60);
    }

    #[test]
    fn spelled_out_units_get_a_suggestion() {
        let e = parse_duration("1 day").unwrap_err();
        assert!(e.contains("units are s, m, h, d, w, mo"), "{e}");
        assert!(e.contains("did you mean \"1d\"?"), "{e}");
        let e = parse_duration("24hrs").unwrap_err();
        assert!(e.contains("did you mean \"24h\"?"), "{e}");
        let e = parse_duration("1 Day 12 Hours").unwrap_err();
        assert!(e.contains("did you mean \"1d12h\"?"), "{e}");
    }

    #[test]
    fn nonsense_lists_the_units_without_a_guess() {
        let e = parse_duration("soon").unwrap_err();
        assert!(e.contains("units are"), "{e}");
        assert!(!e.contains("did you mean"), "{e}");
        assert!(parse_duration("").is_err());
        assert!(parse_duration("1.5h").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("1H").is_err());
    }

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        assert!(parse_duration("99999999999999999999").is_err());
        assert!(parse_duration("99999999999999y").is_err());
    }

    #[test]
    fn ban_lengths_past_the_kernels_limit_are_refused() {
        assert_eq!(longest_ban_text(), "30500w3d23h34m33s (about 584 years)");
        assert_eq!(parse_duration("30500w3d23h34m33s").unwrap(), LONGEST_BAN);
        assert_eq!(check_ban_length(LONGEST_BAN), Ok(LONGEST_BAN));
        let e = check_ban_length(parse_duration("1000y").unwrap()).unwrap_err();
        assert!(
            e.contains("longest ban nftables can time") && e.contains("584 years"),
            "{e}"
        );
        assert!(e.contains("-1 (permanent)"), "{e}");
        assert!(check_ban_length(LONGEST_BAN + Duration::from_secs(1)).is_err());
    }

    #[test]
    fn display_is_compact_and_parses_back() {
        for (secs, text) in [
            (0, "0s"),
            (90, "1m30s"),
            (600, "10m"),
            (3600, "1h"),
            (36 * 3600, "1d12h"),
            (86400, "1d"),
            (604800, "1w"),
            (30 * 86400, "4w2d"),
        ] {
            let d = Duration::from_secs(secs);
            assert_eq!(Compact(d).to_string(), text);
            assert_eq!(parse_duration(text).unwrap(), d);
        }
        assert_eq!(BanTime::Permanent.to_string(), "permanent");
        assert_eq!(BanTime::For(Duration::from_secs(86400)).to_string(), "1d");
    }
}
