//! From a template's fields to a time, as fail2ban's `reGroupDictStrptime` does it: a missing
//! year is "now"'s (or the year before, when that puts the date more than a day ahead), a
//! missing day is today (or yesterday), `%y` is 20yy, zones are offsets or fail2ban's table of
//! abbreviations, and a date that does not exist (Feb 30, 25:00) gives no time. Local times are
//! read in the finder's zone, through a cache of the last two local hours so jiff stays off the
//! per-line path.
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};

use super::fields::{FROM_TEXT, Field, INVALID, Key};
use super::regex::Span;

/// A civil date and time (`seconds` reads it as UTC).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Civil {
    pub(super) year: i32,
    pub(super) month: u8,
    pub(super) day: u8,
    pub(super) hour: u8,
    pub(super) minute: u8,
    pub(super) second: u8,
}

impl Civil {
    pub(super) fn valid(&self) -> bool {
        (1..=9999).contains(&self.year)
            && (1..=12).contains(&self.month)
            && self.day >= 1
            && self.day <= days_in_month(self.year, self.month)
            && self.hour < 24
            && self.minute < 60
            && self.second < 60
    }

    /// Seconds since 1970-01-01 00:00:00 of this civil time read as UTC.
    pub(super) fn seconds(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    fn from_seconds(s: i64) -> Civil {
        let days = s.div_euclid(86_400);
        let rem = s.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
        }
    }

    fn hour_key(&self) -> u64 {
        u64::from(self.year as u32) << 32
            | u64::from(self.month) << 16
            | u64::from(self.day) << 8
            | u64::from(self.hour)
    }
}

/// Local time context: the zone, "now", and the caches.
#[derive(Clone, Debug)]
pub(super) struct Clock {
    pub(super) tz: TimeZone,
    local: LocalOffsets,
    /// "now": its Unix second, as a local civil time, and that read as UTC seconds.
    now: Option<(i64, Civil, i64)>,
}

impl Clock {
    pub(super) fn new(tz: TimeZone) -> Clock {
        Clock {
            tz,
            local: LocalOffsets::default(),
            now: None,
        }
    }

    /// "now" as a local civil time (seconds precision), cached per second.
    fn now_civil(&mut self, now: Timestamp) -> (Civil, i64) {
        let s = now.as_second();
        match self.now {
            Some((k, c, naive)) if k == s => (c, naive),
            _ => {
                let dt = self.tz.to_datetime(Timestamp::from_second(s).unwrap_or(now));
                let c = Civil {
                    year: i32::from(dt.year()),
                    month: dt.month() as u8,
                    day: dt.day() as u8,
                    hour: dt.hour() as u8,
                    minute: dt.minute() as u8,
                    second: dt.second() as u8,
                };
                self.now = Some((s, c, c.seconds()));
                (c, c.seconds())
            }
        }
    }

    /// Unix seconds of a local civil time (a DST gap reads as the later offset, a fold as the
    /// earlier one).
    pub(super) fn local_seconds(&mut self, c: Civil) -> Option<i64> {
        self.local.unix_of(&self.tz, c)
    }

    /// The time the fields say, or None when they name no real date. `keys[i]` took
    /// `line[spans[i]]`, which means `vals[i]` (`Field::value`; FROM_TEXT: read the text).
    pub(super) fn fields_time(
        &mut self,
        keys: &[Key],
        spans: &[Span],
        vals: &[i32],
        line: &[u8],
        now: Timestamp,
    ) -> Option<Timestamp> {
        let mut f = Parts::default();
        for ((&key, span), &val) in keys.iter().zip(spans).zip(vals) {
            let Some((s, e)) = span.get() else { continue };
            if val == INVALID {
                return None;
            }
            let v = if val == FROM_TEXT {
                let text = line.get(s..e)?;
                match key {
                    Key::Epoch => return epoch_time(text, false),
                    Key::LongEpoch => return epoch_time(text, true),
                    Key::Tai64nLabel => continue,
                    // A group named like a field (`(?P<H>…)`): its text, read as that field.
                    _ => i64::from(text_value(key, text)?),
                }
            } else {
                i64::from(val)
            };
            match key {
                Key::Y => f.year = Some(v),
                Key::LowerY => f.year2 = Some(if v <= 2000 { v + 2000 } else { v }),
                Key::M => f.month = Some(v),
                Key::B | Key::LowerB => f.month_name = Some(v + 1),
                Key::D => f.day = Some(v),
                Key::H => f.hour = Some(v),
                Key::I => f.hour12 = Some(v),
                Key::P => f.pm = Some(v == 1),
                Key::Minute => f.minute = v,
                Key::S => f.second = v,
                Key::F => f.nanos = v as u32,
                Key::A | Key::LowerA => f.weekday = Some(v),
                Key::LowerW => f.weekday_num = Some(if v - 1 < 0 { 6 } else { v - 1 }),
                Key::J => f.julian = Some(v),
                Key::U => f.week_u = Some(v),
                Key::W => f.week_w = Some(v),
                Key::LowerZ | Key::Z => f.offset_minutes = Some(v as i32),
                Key::Epoch | Key::LongEpoch | Key::LowerU | Key::V | Key::G | Key::Tai64nLabel => {}
            }
        }
        self.parts_time(f, now)
    }

    fn parts_time(&mut self, f: Parts, now: Timestamp) -> Option<Timestamp> {
        // Later directives win as in Python's dict walk: %Y over %y, %b/%B over %m, %w over %a.
        let year = f.year.or(f.year2);
        let mut month = f.month_name.or(f.month);
        let mut day = f.day;
        let mut hour = f.hour.unwrap_or(0);
        if let Some(h) = f.hour12 {
            hour = match f.pm {
                Some(true) if h != 12 => h + 12,
                Some(true) => h,
                _ if h == 12 => 0,
                _ => h,
            };
        }
        let weekday = f.weekday_num.or(f.weekday);
        let week = match (f.week_u, f.week_w) {
            (Some(u), _) => Some((u, false)),
            (None, Some(w)) => Some((w, true)),
            _ => None,
        };
        let (now_c, now_naive) = self.now_civil(now);
        let assume_year = year.is_none();
        let mut year = year.unwrap_or(i64::from(now_c.year));
        if month.is_none() || day.is_none() {
            let julian = match (f.julian, week, weekday) {
                (None, Some((w, monday_first)), Some(wd)) => {
                    Some(julian_from_week(year, w, wd, monday_first))
                }
                (j, _, _) => j,
            };
            if let Some(j) = julian {
                let days = days_from_civil(i32::try_from(year).ok()?, 1, 1) + j - 1;
                let (y, m, d) = civil_from_days(days);
                (year, month, day) = (i64::from(y), Some(i64::from(m)), Some(i64::from(d)));
            }
        }
        let assume_today = month.is_none() && day.is_none();
        let (month, day) = match (month, day) {
            (None, None) => (i64::from(now_c.month), i64::from(now_c.day)),
            (Some(m), Some(d)) => (m, d),
            // One of them alone: Python's datetime() refuses it.
            _ => return None,
        };
        let c = Civil {
            year: i32::try_from(year).ok()?,
            month: u8::try_from(month).ok()?,
            day: u8::try_from(day).ok()?,
            hour: u8::try_from(hour).ok()?,
            minute: u8::try_from(f.minute).ok()?,
            second: u8::try_from(f.second).ok()?,
        };
        if !c.valid() {
            return None;
        }
        let shift = f.offset_minutes.map_or(0, |m| i64::from(m) * 60);
        // fail2ban compares the (zone-shifted) naive date with the naive local "now".
        let mut naive = c.seconds() - shift;
        let mut adjusted = false;
        if assume_today && naive > now_naive {
            naive -= 86_400;
            adjusted = true;
        }
        if assume_year && naive > now_naive + 86_400 {
            let back = Civil {
                year: c.year - 1,
                month: c.month,
                day: c.day,
                ..Civil::from_seconds(naive)
            };
            if !back.valid() {
                return None;
            }
            naive = back.seconds();
            adjusted = true;
        }
        let second = match f.offset_minutes {
            Some(_) => naive,
            None if !adjusted => self.local_seconds(c)?,
            None => self.local_seconds(Civil::from_seconds(naive))?,
        };
        Timestamp::new(second, f.nanos as i32).ok()
    }
}

/// The seconds field of fields whose time `Clock::fields_time` makes as `naive − offset`, with
/// nothing taken from "now" or a zone: a year, month, day, 24-hour clock and offset read, no
/// week or day-of-year field, each field a number, one seconds field. Moved by the seconds
/// alone, that time moves second for second (`SameFields`). Same inputs as `fields_time`.
pub(super) fn seconds_alone(keys: &[Key], spans: &[Span], vals: &[i32]) -> Option<usize> {
    let mut seconds = None;
    let (mut year, mut month, mut day, mut hour, mut minute, mut offset) =
        (false, false, false, false, false, false);
    for (i, ((&key, span), &val)) in keys.iter().zip(spans).zip(vals).enumerate() {
        if span.get().is_none() {
            continue;
        }
        if val == FROM_TEXT || val == INVALID {
            return None;
        }
        match key {
            Key::Y | Key::LowerY => year = true,
            Key::M | Key::B | Key::LowerB => month = true,
            Key::D => day = true,
            Key::H => hour = true,
            Key::Minute => minute = true,
            Key::LowerZ | Key::Z => offset = true,
            Key::F => {}
            Key::S if seconds.is_none() => seconds = Some(i),
            _ => return None,
        }
    }
    (year && month && day && hour && minute && offset)
        .then_some(seconds)
        .flatten()
}

/// What a template's fields said, before they make a time.
#[derive(Default)]
struct Parts {
    year: Option<i64>,
    year2: Option<i64>,
    month: Option<i64>,
    month_name: Option<i64>,
    day: Option<i64>,
    hour: Option<i64>,
    hour12: Option<i64>,
    pm: Option<bool>,
    minute: i64,
    second: i64,
    nanos: u32,
    weekday: Option<i64>,
    weekday_num: Option<i64>,
    julian: Option<i64>,
    week_u: Option<i64>,
    week_w: Option<i64>,
    offset_minutes: Option<i32>,
}

/// Seconds (or, for `LEPOCH` with 13+ digits, milli- or microseconds) since 1970.
fn epoch_time(text: &[u8], long: bool) -> Option<Timestamp> {
    let (int, frac) = match text.iter().position(|&b| b == b'.') {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, &b""[..]),
    };
    let shift = if long && text.len() >= 13 {
        if text.len() >= 16 && frac.is_empty() { 6 } else { 3 }
    } else {
        0
    };
    let point = int.len().checked_sub(shift)?;
    let digit = |i: usize| -> i64 {
        let d = if i < int.len() {
            int[i]
        } else {
            frac.get(i - int.len()).copied().unwrap_or(b'0')
        };
        i64::from(d.wrapping_sub(b'0').min(9))
    };
    let seconds = (0..point).fold(0i64, |acc, i| acc * 10 + digit(i));
    let nanos = (point..point + 9).fold(0i64, |acc, i| acc * 10 + digit(i));
    Timestamp::new(seconds, nanos as i32).ok()
}

/// A named group's text read as the field its name says.
fn text_value(key: Key, text: &[u8]) -> Option<i32> {
    let field = match key {
        Key::LowerB => Field::MonthAbbr,
        Key::B => Field::MonthName,
        Key::LowerA => Field::WeekdayAbbr,
        Key::A => Field::WeekdayName,
        Key::P => Field::AmPm,
        Key::LowerZ => Field::OffsetEx,
        Key::Z => Field::ZoneNameEx,
        Key::F => Field::Fraction,
        _ => Field::Year,
    };
    let v = field.value(text);
    (v != INVALID).then_some(v)
}

/// Python's `_calc_julian_from_U_or_W`.
fn julian_from_week(year: i64, week: i64, weekday: i64, monday_first: bool) -> i64 {
    let jan1 = days_from_civil(year as i32, 1, 1);
    // 1970-01-01 was a Thursday (weekday 3, Monday = 0).
    let mut first = (jan1 + 3).rem_euclid(7);
    let mut day = weekday;
    if !monday_first {
        first = (first + 1) % 7;
        day = (day + 1) % 7;
    }
    let week0 = (7 - first) % 7;
    if week == 0 {
        1 + day - first
    } else {
        1 + week0 + 7 * (week - 1) + day
    }
}

/// fail2ban's `zone2offset`: `Z`/`UTC`/`GMT`, `±hh[[:]mm]`, an abbreviation from its table, or
/// both (`CET+0100`), in minutes east. Exact case, as fail2ban (`utc` is no zone).
pub(super) fn zone_offset_minutes(z: &[u8]) -> Option<i32> {
    if matches!(z, b"Z" | b"UTC" | b"GMT") {
        return Some(0);
    }
    let abbr_len = z.iter().take_while(|b| b.is_ascii_uppercase()).count();
    let (abbr, rest) = z.split_at(abbr_len);
    if !(abbr.is_empty() || abbr.len() == 1 || (3..=5).contains(&abbr.len())) {
        return None;
    }
    let base = if abbr.is_empty() {
        0
    } else {
        abbreviation_minutes(std::str::from_utf8(abbr).ok()?)?
    };
    if rest.is_empty() {
        return Some(base);
    }
    let sign = match rest[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = &rest[1..];
    let two = |s: &[u8]| -> Option<i32> {
        (s.len() == 2 && s.iter().all(u8::is_ascii_digit))
            .then(|| i32::from(s[0] - b'0') * 10 + i32::from(s[1] - b'0'))
    };
    let minutes = match digits.len() {
        2 => two(digits)? * 60,
        4 => two(&digits[..2])? * 60 + two(&digits[2..])?,
        5 if digits[2] == b':' => two(&digits[..2])? * 60 + two(&digits[3..])?,
        _ => return None,
    };
    if !matches!(digits[0], b'0' | b'1') {
        return None;
    }
    Some(base + sign * minutes)
}

/// fail2ban's TZ_STR table (strptime.py): zone abbreviations and their offsets in minutes.
fn abbreviation_minutes(abbr: &str) -> Option<i32> {
    const TABLE: &[(i32, &str)] = &[
        (-720, "Y"),
        (-660, "X NUT SST"),
        (-600, "W CKT HAST HST TAHT TKT"),
        (-540, "V AKST GAMT GIT HADT HNY"),
        (-480, "U AKDT CIST HAY HNP PST PT"),
        (-420, "T HAP HNR MST PDT"),
        (-360, "S CST EAST GALT HAR HNC MDT"),
        (-300, "R CDT COT EASST ECT EST ET HAC HNE PET"),
        (-240, "Q AST BOT CLT COST EDT FKT GYT HAE HNA PYT"),
        (-180, "P ADT ART BRT CLST FKST GFT HAA PMST PYST SRT UYT WGT"),
        (-120, "O BRST FNT PMDT UYST WGST"),
        (-60, "N AZOT CVT EGT"),
        (0, "Z EGST GMT UTC WET WT"),
        (60, "A CET DFT WAT WEDT WEST"),
        (120, "B CAT CEDT CEST EET SAST WAST"),
        (180, "C EAT EEDT EEST IDT MSK"),
        (240, "D AMT AZT GET GST KUYT MSD MUT RET SAMT SCT"),
        (300, "E AMST AQTT AZST HMT MAWT MVT PKT TFT TJT TMT UZT YEKT"),
        (360, "F ALMT BIOT BTT IOT KGT NOVT OMST YEKST"),
        (420, "G CXT DAVT HOVT ICT KRAT NOVST OMSST THA WIB"),
        (
            480,
            "H ACT AWST BDT BNT CAST HKT IRKT KRAST MYT PHT SGT ULAT WITA WST",
        ),
        (540, "I AWDT IRKST JST KST PWT TLT WDT WIT YAKT"),
        (600, "K AEST ChST PGT VLAT YAKST YAPT"),
        (660, "L AEDT LHDT MAGT NCT PONT SBT VLAST VUT"),
        (720, "M ANAST ANAT FJT GILT MAGST MHT NZST PETST PETT TVT WFT"),
        (780, "FJST NZDT"),
        (690, "NFT"),
        (630, "ACDT LHST"),
        (570, "ACST"),
        (390, "CCT MMT"),
        (345, "NPT"),
        (330, "SLT"),
        (270, "AFT IRDT"),
        (210, "IRST"),
        (-150, "HAT NDT"),
        (-210, "HNT NST NT"),
        (-270, "HLV VET"),
        (-570, "MART MIT"),
    ];
    TABLE
        .iter()
        .find(|(_, names)| names.split(' ').any(|n| n == abbr))
        .map(|(m, _)| *m)
}

// ---- civil arithmetic -------------------------------------------------------------------------

fn is_leap(y: i32) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

pub(super) fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's algorithm).
pub(super) fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let (y, m, d) = (i64::from(y), i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of `days_from_civil`.
fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m, d)
}

/// Where a local civil hour starts in Unix seconds, if the zone has one offset all through it.
#[derive(Clone, Copy, Debug)]
enum HourStart {
    Uniform(i64),
    /// A zone transition (DST gap or fold) falls in this hour: ask jiff for every line.
    Mixed,
    /// Beyond jiff's range.
    NoSuchDate,
}

impl HourStart {
    fn of(tz: &TimeZone, c: Civil) -> HourStart {
        let Some(dt) = civil_datetime(Civil {
            minute: 0,
            second: 0,
            ..c
        }) else {
            return HourStart::NoSuchDate;
        };
        let AmbiguousOffset::Unambiguous { offset } = tz.to_ambiguous_timestamp(dt).offset() else {
            return HourStart::Mixed;
        };
        let start = Civil {
            minute: 0,
            second: 0,
            ..c
        }
        .seconds()
            - i64::from(offset.seconds());
        match Timestamp::from_second(start + 3599) {
            Ok(last) if tz.to_offset(last) == offset => HourStart::Uniform(start),
            _ => HourStart::Mixed,
        }
    }
}

/// The last two local civil hours seen: lines of a cached hour cost a compare and an add.
#[derive(Clone, Debug)]
struct LocalOffsets {
    hours: [(u64, HourStart); 2],
    next: usize,
}

impl Default for LocalOffsets {
    fn default() -> Self {
        LocalOffsets {
            hours: [(u64::MAX, HourStart::NoSuchDate); 2],
            next: 0,
        }
    }
}

impl LocalOffsets {
    fn unix_of(&mut self, tz: &TimeZone, c: Civil) -> Option<i64> {
        let key = c.hour_key();
        let start = match self.hours {
            [(k, s), _] | [_, (k, s)] if k == key => s,
            _ => {
                let s = HourStart::of(tz, c);
                self.hours[self.next] = (key, s);
                self.next ^= 1;
                s
            }
        };
        match start {
            HourStart::Uniform(s) => Some(s + i64::from(c.minute) * 60 + i64::from(c.second)),
            HourStart::Mixed => {
                let dt = civil_datetime(c)?;
                Some(tz.to_ambiguous_timestamp(dt).compatible().ok()?.as_second())
            }
            HourStart::NoSuchDate => None,
        }
    }
}

fn civil_datetime(c: Civil) -> Option<DateTime> {
    DateTime::new(
        i16::try_from(c.year).ok()?,
        c.month as i8,
        c.day as i8,
        c.hour as i8,
        c.minute as i8,
        c.second as i8,
        0,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_round_trip() {
        for days in [-800_000, -1, 0, 1, 11_000, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(Civil::from_seconds(1_124_013_600).hour, 10);
    }

    #[test]
    fn zones_as_fail2ban_reads_them() {
        assert_eq!(zone_offset_minutes(b"+0300"), Some(180));
        assert_eq!(zone_offset_minutes(b"-04:00"), Some(-240));
        assert_eq!(zone_offset_minutes(b"+02"), Some(120));
        assert_eq!(zone_offset_minutes(b"CEST"), Some(120));
        assert_eq!(zone_offset_minutes(b"PDT"), Some(-420));
        assert_eq!(zone_offset_minutes(b"CET+0100"), Some(120));
        assert_eq!(zone_offset_minutes(b"UTC"), Some(0));
        assert_eq!(zone_offset_minutes(b"utc"), None, "exact case");
        assert_eq!(zone_offset_minutes(b"ABCD"), None, "not in the table");
        assert_eq!(zone_offset_minutes(b"+2500"), None);
    }

    #[test]
    fn weeks_and_fractions() {
        // 2005-01-03 is the Monday of %W week 1 (Jan 1 2005 was a Saturday).
        assert_eq!(julian_from_week(2005, 1, 0, true), 3);
        assert_eq!(Field::Fraction.value(b"5"), 500_000_000);
        assert_eq!(Field::Fraction.value(b"719762500"), 719_762_500);
    }
}
