//! The `%` fields of fail2ban's datepattern language, read straight from the bytes.
//!
//! Each field is the regex fail2ban gives it (its strptime.py over Python's `_strptime.TimeRE`);
//! `candidates` lists the lengths that regex could match at a position, in the order Python's
//! backtracking tries them, so the matcher keeps Python's choice without running a regex.
//! Which key a field fills (`Key`) is what fail2ban's `reGroupDictStrptime` reads.

/// A `%` field. Names follow the directive: `Day` is `%d`, `DayEx` is `%Exd`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Field {
    /// `%Y`: `\d{4}`.
    Year,
    /// `%ExY`: `20[0-N]\d`, the years from 2000 to the decade of three years from now.
    YearEx,
    /// `%y`, `%Exy`: `\d\d`.
    Year2,
    /// `%m`: `0?[1-9]|1[0-2]`.
    Month,
    /// `%Exm`: `0[1-9]|1[0-2]`.
    MonthEx,
    /// `%d`: `[1-2]\d|[0 ]?[1-9]|3[0-1]`.
    Day,
    /// `%Exd`: `[1-2]\d|0[1-9]|3[0-1]`.
    DayEx,
    /// `%e` (banjo's; strftime's space-padded day): ` ?([1-2]\d|3[0-1]|[1-9])`.
    DaySpace,
    /// `%H`: `[0-1]?\d|2[0-3]`.
    Hour,
    /// `%ExH`: `[0-1]\d|2[0-3]`.
    HourEx,
    /// `%k`: ` ?[0-2]?\d`.
    HourSpace,
    /// `%Exk`: ` ?([0-1]?\d|2[0-3])`.
    HourSpaceEx,
    /// `%I`: `1[0-2]|0[1-9]|[1-9]`.
    Hour12,
    /// `%l`: ` ?1?\d`.
    Hour12Space,
    /// `%Exl`: ` ?(1[0-2]|\d)`.
    Hour12SpaceEx,
    /// `%M`: `[0-5]?\d`.
    Minute,
    /// `%ExM`: `[0-5]\d`.
    MinuteEx,
    /// `%S`: `[0-5]?\d|6[0-1]`.
    Second,
    /// `%ExS`: `[0-5]\d|6[0-1]`.
    SecondEx,
    /// `%f`: `[0-9]{1,9}` (Python stops at six; tai64nlocal writes nine).
    Fraction,
    /// `%p`: `am|pm`.
    AmPm,
    /// `%a`: `mon|tue|…|sun`.
    WeekdayAbbr,
    /// `%A`: the full weekday names, longest first.
    WeekdayName,
    /// `%b`: `jan|…|dec`.
    MonthAbbr,
    /// `%B`: the full month names, longest first.
    MonthName,
    /// `%j`: day of the year.
    YearDay,
    /// `%U`, `%W`: week of the year (`5[0-3]|[0-4]\d|\d`).
    Week,
    /// `%w`: `[0-6]`.
    WeekdayNum,
    /// `%u`: `[1-7]` (matched, not used, as in fail2ban).
    IsoWeekday,
    /// `%V`: `5[0-3]|0[1-9]|[1-4]\d|\d` (matched, not used).
    IsoWeek,
    /// `%G`: `\d{4}` (matched, not used).
    IsoYear,
    /// `%z`: `Z|UTC|GMT|[+-][01]\d(?::?\d{2})?`.
    Offset,
    /// `%Z`: `Z|[A-Z]{3,5}`.
    ZoneName,
    /// `%ExZ`: `[A-Z](?:[A-Z]{2,4})?`.
    ZoneNameEx,
    /// `%Exz`: an abbreviation, an offset, or both (`CET+0100`).
    OffsetEx,
    /// `{EPOCH}`: `\d{10,11}\b(?:\.\d{3,6})?`, seconds since 1970.
    Epoch,
    /// `{LEPOCH}`: seconds, milliseconds or microseconds since 1970.
    LongEpoch,
    /// TAI64N's `[0-9a-f]{24}` after its `@`.
    Tai64nLabel,
}

/// The value a field fills (fail2ban's group names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) enum Key {
    Y,
    LowerY,
    M,
    D,
    H,
    I,
    Minute,
    S,
    F,
    P,
    LowerA,
    A,
    LowerB,
    B,
    J,
    U,
    W,
    LowerW,
    LowerU,
    V,
    G,
    LowerZ,
    Z,
    Epoch,
    LongEpoch,
    Tai64nLabel,
}

impl Key {
    /// The group name a user pattern may use instead of a `%` field, e.g. `(?P<H>\d+)`.
    pub(super) fn from_group_name(name: &str) -> Option<Key> {
        Some(match name {
            "Y" => Key::Y,
            "y" => Key::LowerY,
            "m" => Key::M,
            "d" => Key::D,
            "H" => Key::H,
            "I" => Key::I,
            "M" => Key::Minute,
            "S" => Key::S,
            "f" => Key::F,
            "p" => Key::P,
            "a" => Key::LowerA,
            "A" => Key::A,
            "b" => Key::LowerB,
            "B" => Key::B,
            "j" => Key::J,
            "U" => Key::U,
            "W" => Key::W,
            "w" => Key::LowerW,
            "z" => Key::LowerZ,
            "Z" => Key::Z,
            _ => return None,
        })
    }
}

pub(super) const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
pub(super) const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

impl Field {
    /// The field a directive names (`Y`, `ExY`, …), or None.
    pub(super) fn from_directive(d: &str) -> Option<Field> {
        Some(match d {
            "Y" => Field::Year,
            "ExY" => Field::YearEx,
            "y" | "Exy" => Field::Year2,
            "m" => Field::Month,
            "Exm" => Field::MonthEx,
            "d" => Field::Day,
            "Exd" => Field::DayEx,
            "e" => Field::DaySpace,
            "H" => Field::Hour,
            "ExH" => Field::HourEx,
            "k" => Field::HourSpace,
            "Exk" => Field::HourSpaceEx,
            "I" => Field::Hour12,
            "l" => Field::Hour12Space,
            "Exl" => Field::Hour12SpaceEx,
            "M" => Field::Minute,
            "ExM" => Field::MinuteEx,
            "S" => Field::Second,
            "ExS" => Field::SecondEx,
            "f" => Field::Fraction,
            "p" => Field::AmPm,
            "a" => Field::WeekdayAbbr,
            "A" => Field::WeekdayName,
            "b" => Field::MonthAbbr,
            "B" => Field::MonthName,
            "j" => Field::YearDay,
            "U" | "W" => Field::Week,
            "w" => Field::WeekdayNum,
            "u" => Field::IsoWeekday,
            "V" => Field::IsoWeek,
            "G" => Field::IsoYear,
            "z" => Field::Offset,
            "Z" => Field::ZoneName,
            "ExZ" => Field::ZoneNameEx,
            "Exz" => Field::OffsetEx,
            _ => return None,
        })
    }

    /// The key this field fills; `%U` and `%W` differ only there.
    pub(super) fn key(self, directive: &str) -> Key {
        match self {
            Field::Year => Key::Y,
            Field::YearEx => Key::Y,
            Field::Year2 => Key::LowerY,
            Field::Month | Field::MonthEx => Key::M,
            Field::Day | Field::DayEx | Field::DaySpace => Key::D,
            Field::Hour | Field::HourEx | Field::HourSpace | Field::HourSpaceEx => Key::H,
            Field::Hour12 | Field::Hour12Space | Field::Hour12SpaceEx => Key::I,
            Field::Minute | Field::MinuteEx => Key::Minute,
            Field::Second | Field::SecondEx => Key::S,
            Field::Fraction => Key::F,
            Field::AmPm => Key::P,
            Field::WeekdayAbbr => Key::LowerA,
            Field::WeekdayName => Key::A,
            Field::MonthAbbr => Key::LowerB,
            Field::MonthName => Key::B,
            Field::YearDay => Key::J,
            Field::Week if directive == "U" => Key::U,
            Field::Week => Key::W,
            Field::WeekdayNum => Key::LowerW,
            Field::IsoWeekday => Key::LowerU,
            Field::IsoWeek => Key::V,
            Field::IsoYear => Key::G,
            Field::Offset | Field::OffsetEx => Key::LowerZ,
            Field::ZoneName | Field::ZoneNameEx => Key::Z,
            Field::Epoch => Key::Epoch,
            Field::LongEpoch => Key::LongEpoch,
            Field::Tai64nLabel => Key::Tai64nLabel,
        }
    }

    /// fail2ban's name of the directive in template names (`%d` → `Day`).
    pub(super) fn name(self, directive: &str) -> String {
        let base = match directive.strip_prefix("Ex").unwrap_or(directive) {
            "a" => "DAY",
            "A" => "DAYNAME",
            "b" => "MON",
            "B" => "MONTH",
            "d" => "Day",
            "H" => "24hour",
            "I" => "12hour",
            "j" => "Yearday",
            "m" => "Month",
            "M" => "Minute",
            "p" => "AMPM",
            "S" => "Second",
            "U" | "W" => "Yearweek",
            "w" => "Weekday",
            "y" => "Year2",
            "Y" => "Year",
            "z" => "Zone offset",
            "f" => "Microseconds",
            "Z" => "Zone name",
            other => return format!("%{other}"),
        };
        if directive.starts_with("Ex") {
            format!("Ex{base}")
        } else {
            base.to_string()
        }
    }

    /// (shortest, longest) match in bytes; None for unbounded.
    pub(super) fn width(self) -> (usize, Option<usize>) {
        let w = |a, b| (a, Some(b));
        match self {
            Field::Year | Field::YearEx | Field::IsoYear => w(4, 4),
            Field::Year2 => w(2, 2),
            Field::Month | Field::Day | Field::Hour | Field::Minute | Field::Second | Field::Hour12 => {
                w(1, 2)
            }
            Field::MonthEx | Field::DayEx | Field::HourEx | Field::MinuteEx | Field::SecondEx => w(2, 2),
            Field::DaySpace
            | Field::HourSpace
            | Field::HourSpaceEx
            | Field::Hour12Space
            | Field::Hour12SpaceEx => w(1, 3),
            Field::Fraction => w(1, 9),
            Field::AmPm => w(2, 2),
            Field::WeekdayAbbr => w(3, 3),
            Field::WeekdayName => w(6, 9),
            Field::MonthAbbr => w(3, 3),
            Field::MonthName => w(3, 9),
            Field::YearDay => w(1, 3),
            Field::Week | Field::IsoWeek => w(1, 2),
            Field::WeekdayNum | Field::IsoWeekday => w(1, 1),
            Field::Offset => w(1, 6),
            Field::ZoneName => w(1, 5),
            Field::ZoneNameEx => w(1, 5),
            Field::OffsetEx => w(1, 11),
            Field::Epoch => w(10, 18),
            Field::Tai64nLabel => w(24, 24),
            Field::LongEpoch => w(10, 23),
        }
    }

    /// How many bytes from its start `candidates` may look at: its longest match and the byte
    /// after it (the finder's repeat check needs a bound, not the exact count).
    pub(super) fn reads(self) -> usize {
        match self {
            Field::Epoch | Field::LongEpoch => 24,
            f => f.width().1.unwrap_or(23) + 1,
        }
    }

    /// Fields that are digits only (so their text ends with a digit).
    pub(super) fn is_numeric(self) -> bool {
        !matches!(
            self,
            Field::AmPm
                | Field::WeekdayAbbr
                | Field::WeekdayName
                | Field::MonthAbbr
                | Field::MonthName
                | Field::Offset
                | Field::ZoneName
                | Field::ZoneNameEx
                | Field::OffsetEx
                | Field::Tai64nLabel
        )
    }

    /// Bytes a match can start with.
    pub(super) fn first_bytes(self, ci: bool, set: &mut [bool; 256]) {
        let mut add = |bytes: &[u8]| {
            for &b in bytes {
                set[usize::from(b)] = true;
                if ci {
                    set[usize::from(b.to_ascii_lowercase())] = true;
                    set[usize::from(b.to_ascii_uppercase())] = true;
                }
            }
        };
        const DIGITS: &[u8] = b"0123456789";
        const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        match self {
            Field::DaySpace
            | Field::HourSpace
            | Field::HourSpaceEx
            | Field::Hour12Space
            | Field::Hour12SpaceEx
            | Field::Day => {
                add(DIGITS);
                add(b" ");
            }
            Field::AmPm => add(b"APap"),
            Field::WeekdayAbbr | Field::WeekdayName => add(b"MTWFSmtwfs"),
            Field::MonthAbbr | Field::MonthName => add(b"JFMASONDjfmasond"),
            Field::Offset => add(b"ZUG+-"),
            Field::ZoneName | Field::ZoneNameEx => add(UPPER),
            Field::OffsetEx => {
                add(UPPER);
                add(b"+-");
            }
            Field::Tai64nLabel => {
                add(DIGITS);
                add(b"abcdef");
            }
            // Narrower than any digit where the regex says so (a superset would do; a subset not).
            Field::YearEx => add(b"2"),
            Field::MonthEx => add(b"01"),
            Field::DayEx => add(b"0123"),
            Field::WeekdayNum => add(b"0123456"),
            Field::HourEx => add(b"012"),
            Field::MinuteEx => add(b"012345"),
            Field::SecondEx => add(b"0123456"),
            _ => add(DIGITS),
        }
    }

    /// The lengths this field can match at `b[at..]`, in Python's order of preference.
    /// `ci`: the template matches case-insensitively. `max_year_digit`: `%ExY`'s third digit.
    #[inline(always)]
    pub(super) fn candidates(self, b: &[u8], at: usize, ci: bool, max_year_digit: u8, out: &mut Cands) {
        let ahead = b.get(at..).unwrap_or_default();
        let c = |i: usize| ahead.get(i).copied().unwrap_or(0);
        let dig = |i: usize| c(i).is_ascii_digit();
        let within = |i: usize, lo: u8, hi: u8| (lo..=hi).contains(&c(i));
        match self {
            Field::Year | Field::IsoYear => {
                if (0..4).all(dig) {
                    out.push(4);
                }
            }
            Field::YearEx => {
                if c(0) == b'2' && c(1) == b'0' && within(2, b'0', b'0' + max_year_digit) && dig(3) {
                    out.push(4);
                }
            }
            Field::Year2 => {
                if dig(0) && dig(1) {
                    out.push(2);
                }
            }
            Field::Month => {
                // 0?[1-9] | 1[0-2]
                if c(0) == b'0' && within(1, b'1', b'9') {
                    out.push(2);
                }
                if within(0, b'1', b'9') {
                    out.push(1);
                }
                if c(0) == b'1' && within(1, b'0', b'2') {
                    out.push(2);
                }
            }
            Field::MonthEx => {
                if (c(0) == b'0' && within(1, b'1', b'9')) || (c(0) == b'1' && within(1, b'0', b'2')) {
                    out.push(2);
                }
            }
            Field::Day => {
                // [1-2]\d | [0 ]?[1-9] | 3[0-1]
                if within(0, b'1', b'2') && dig(1) {
                    out.push(2);
                }
                if (c(0) == b'0' || c(0) == b' ') && within(1, b'1', b'9') {
                    out.push(2);
                }
                if within(0, b'1', b'9') {
                    out.push(1);
                }
                if c(0) == b'3' && within(1, b'0', b'1') {
                    out.push(2);
                }
            }
            Field::DayEx => {
                if (within(0, b'1', b'2') && dig(1))
                    || (c(0) == b'0' && within(1, b'1', b'9'))
                    || (c(0) == b'3' && within(1, b'0', b'1'))
                {
                    out.push(2);
                }
            }
            Field::DaySpace => {
                for lead in space_first(c(0)) {
                    let two = (within(lead, b'1', b'2') && dig(lead + 1))
                        || (c(lead) == b'3' && within(lead + 1, b'0', b'1'));
                    if two {
                        out.push(lead as u8 + 2);
                    }
                    if within(lead, b'1', b'9') {
                        out.push(lead as u8 + 1);
                    }
                }
            }
            Field::Hour => hour24(c(0), c(1), 0, out),
            Field::HourEx => {
                if (within(0, b'0', b'1') && dig(1)) || (c(0) == b'2' && within(1, b'0', b'3')) {
                    out.push(2);
                }
            }
            Field::HourSpace => {
                // ` ?[0-2]?\d`
                for lead in space_first(c(0)) {
                    if within(lead, b'0', b'2') && dig(lead + 1) {
                        out.push(lead as u8 + 2);
                    }
                    if dig(lead) {
                        out.push(lead as u8 + 1);
                    }
                }
            }
            Field::HourSpaceEx => {
                for lead in space_first(c(0)) {
                    hour24(c(lead), c(lead + 1), lead as u8, out);
                }
            }
            Field::Hour12 => {
                // 1[0-2] | 0[1-9] | [1-9]
                if (c(0) == b'1' && within(1, b'0', b'2')) || (c(0) == b'0' && within(1, b'1', b'9')) {
                    out.push(2);
                }
                if within(0, b'1', b'9') {
                    out.push(1);
                }
            }
            Field::Hour12Space => {
                // ` ?1?\d`
                for lead in space_first(c(0)) {
                    if c(lead) == b'1' && dig(lead + 1) {
                        out.push(lead as u8 + 2);
                    }
                    if dig(lead) {
                        out.push(lead as u8 + 1);
                    }
                }
            }
            Field::Hour12SpaceEx => {
                // ` ?(1[0-2]|\d)`
                for lead in space_first(c(0)) {
                    if c(lead) == b'1' && within(lead + 1, b'0', b'2') {
                        out.push(lead as u8 + 2);
                    }
                    if dig(lead) {
                        out.push(lead as u8 + 1);
                    }
                }
            }
            Field::Minute => {
                if within(0, b'0', b'5') && dig(1) {
                    out.push(2);
                }
                if dig(0) {
                    out.push(1);
                }
            }
            Field::MinuteEx => {
                if within(0, b'0', b'5') && dig(1) {
                    out.push(2);
                }
            }
            Field::Second => {
                if within(0, b'0', b'5') && dig(1) {
                    out.push(2);
                }
                if dig(0) {
                    out.push(1);
                }
                if c(0) == b'6' && within(1, b'0', b'1') {
                    out.push(2);
                }
            }
            Field::SecondEx => {
                if (within(0, b'0', b'5') && dig(1)) || (c(0) == b'6' && within(1, b'0', b'1')) {
                    out.push(2);
                }
            }
            Field::Fraction => {
                let n = (0..9).take_while(|&i| dig(i)).count();
                for len in (1..=n).rev() {
                    out.push(len as u8);
                }
            }
            Field::AmPm => {
                if name_at(b, at, b"am") || name_at(b, at, b"pm") {
                    out.push(2);
                }
            }
            Field::WeekdayAbbr => {
                if WEEKDAYS.iter().any(|d| name_at(b, at, &d.as_bytes()[..3])) {
                    out.push(3);
                }
            }
            Field::WeekdayName => {
                if let Some(d) = longest_first(&WEEKDAYS).find(|d| name_at(b, at, d.as_bytes())) {
                    out.push(d.len() as u8);
                }
            }
            Field::MonthAbbr => {
                // One three-byte match, not twelve compares: every syslog date reads this.
                if b.get(at..at + 3).and_then(month_abbr).is_some() {
                    out.push(3);
                }
            }
            Field::MonthName => {
                if let Some(m) = longest_first(&MONTHS).find(|m| name_at(b, at, m.as_bytes())) {
                    out.push(m.len() as u8);
                }
            }
            Field::YearDay => {
                // 36[0-6]|3[0-5]\d|[12]\d\d|0[1-9]\d|00[1-9]|[1-9]\d|0[1-9]|[1-9]
                if (c(0) == b'3' && c(1) == b'6' && within(2, b'0', b'6'))
                    || (c(0) == b'3' && within(1, b'0', b'5') && dig(2))
                    || (within(0, b'1', b'2') && dig(1) && dig(2))
                    || (c(0) == b'0' && within(1, b'1', b'9') && dig(2))
                    || (c(0) == b'0' && c(1) == b'0' && within(2, b'1', b'9'))
                {
                    out.push(3);
                }
                if within(0, b'1', b'9') && dig(1) {
                    out.push(2);
                }
                if c(0) == b'0' && within(1, b'1', b'9') {
                    out.push(2);
                }
                if within(0, b'1', b'9') {
                    out.push(1);
                }
            }
            Field::Week => {
                // 5[0-3]|[0-4]\d|\d
                if (c(0) == b'5' && within(1, b'0', b'3')) || (within(0, b'0', b'4') && dig(1)) {
                    out.push(2);
                }
                if dig(0) {
                    out.push(1);
                }
            }
            Field::IsoWeek => {
                // 5[0-3]|0[1-9]|[1-4]\d|\d
                if (c(0) == b'5' && within(1, b'0', b'3'))
                    || (c(0) == b'0' && within(1, b'1', b'9'))
                    || (within(0, b'1', b'4') && dig(1))
                {
                    out.push(2);
                }
                if dig(0) {
                    out.push(1);
                }
            }
            Field::WeekdayNum => {
                if within(0, b'0', b'6') {
                    out.push(1);
                }
            }
            Field::IsoWeekday => {
                if within(0, b'1', b'7') {
                    out.push(1);
                }
            }
            Field::Offset => {
                // Z | UTC | GMT | [+-][01]\d(?::?\d{2})?
                if byte_is(c(0), b'Z', ci) {
                    out.push(1);
                }
                // Access logs write `+0200`: a sign is no name, and it costs no compare.
                if !matches!(c(0), b'+' | b'-') && (name_is(b, at, b"UTC", ci) || name_is(b, at, b"GMT", ci))
                {
                    out.push(3);
                }
                numeric_offset(b, at, 0, out);
            }
            Field::ZoneName => {
                // Z | [A-Z]{3,5}
                if byte_is(c(0), b'Z', ci) {
                    out.push(1);
                }
                let n = (0..5).take_while(|&i| is_upper(c(i), ci)).count();
                for len in (3..=n).rev() {
                    out.push(len as u8);
                }
            }
            Field::ZoneNameEx => abbreviation(b, at, 0, ci, out),
            Field::OffsetEx => {
                // (?:ABBR)?[+-][01]\d(?::?\d{2})? | ABBR
                let mut prefixes = Cands::default();
                abbreviation(b, at, 0, ci, &mut prefixes);
                prefixes.push(0);
                for &p in prefixes.as_slice() {
                    numeric_offset(b, at, p, out);
                }
                abbreviation(b, at, 0, ci, out);
            }
            Field::Epoch => {
                // \d{10,11}\b(?:\.\d{3,6})?
                let n = (0..12).take_while(|&i| dig(i)).count();
                if (10..=11).contains(&n) && !super::regex::is_word(c(n)) {
                    if c(n) == b'.' {
                        let k = (0..6).take_while(|&i| dig(n + 1 + i)).count();
                        for f in (3..=k).rev() {
                            out.push((n + 1 + f) as u8);
                        }
                    }
                    out.push(n as u8);
                }
            }
            Field::Tai64nLabel => {
                let hex = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
                if b.get(at..at + 24).is_some_and(|l| l.iter().all(|&c| hex(c))) {
                    out.push(24);
                }
            }
            Field::LongEpoch => {
                // \d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?
                let run = (0..17).take_while(|&i| dig(i)).count();
                for base in [11, 10] {
                    if run < base {
                        continue;
                    }
                    if run >= base + 3 {
                        let ms = base + 3;
                        if c(ms) == b'.' {
                            let k = (0..6).take_while(|&i| dig(ms + 1 + i)).count();
                            for f in (1..=k).rev() {
                                out.push((ms + 1 + f) as u8);
                            }
                        }
                        if run >= ms + 3 {
                            out.push((ms + 3) as u8);
                        }
                        out.push(ms as u8);
                    }
                    out.push(base as u8);
                }
            }
        }
    }
}

/// A field's value that is not a number: its text is read when the time is made.
pub(super) const FROM_TEXT: i32 = i32::MIN + 1;
/// A field's text that names nothing (an unknown zone): no time.
pub(super) const INVALID: i32 = i32::MIN;

impl Field {
    /// What the field's text means, read once when the matcher takes it: the number, the
    /// name's index (0-based), 1 for pm, the zone's offset in minutes, the fraction in
    /// nanoseconds; FROM_TEXT where the text itself is needed later.
    pub(super) fn value(self, text: &[u8]) -> i32 {
        let or_invalid = |v: Option<i64>| v.and_then(|v| i32::try_from(v).ok()).unwrap_or(INVALID);
        match self {
            Field::Fraction => {
                let mut nanos = 0i32;
                for i in 0..9 {
                    nanos = nanos * 10 + text.get(i).map_or(0, |&d| i32::from(d.wrapping_sub(b'0').min(9)));
                }
                nanos
            }
            Field::AmPm => i32::from(text.eq_ignore_ascii_case(b"pm")),
            Field::WeekdayAbbr => or_invalid(name_index(&WEEKDAYS, text, true).map(|i| i as i64)),
            Field::WeekdayName => or_invalid(name_index(&WEEKDAYS, text, false).map(|i| i as i64)),
            Field::MonthAbbr => or_invalid(month_abbr(text).map(i64::from)),
            Field::MonthName => or_invalid(name_index(&MONTHS, text, false).map(|i| i as i64)),
            Field::Offset | Field::OffsetEx | Field::ZoneName | Field::ZoneNameEx => {
                super::convert::zone_offset_minutes(text).unwrap_or(INVALID)
            }
            Field::Epoch | Field::LongEpoch | Field::Tai64nLabel => FROM_TEXT,
            _ => or_invalid(number(text)),
        }
    }
}

/// 0-11 for a three-letter month name, any case.
fn month_abbr(text: &[u8]) -> Option<u8> {
    let [a, b, c] = text else { return None };
    Some(
        match [
            a.to_ascii_lowercase(),
            b.to_ascii_lowercase(),
            c.to_ascii_lowercase(),
        ] {
            [b'j', b'a', b'n'] => 0,
            [b'f', b'e', b'b'] => 1,
            [b'm', b'a', b'r'] => 2,
            [b'a', b'p', b'r'] => 3,
            [b'm', b'a', b'y'] => 4,
            [b'j', b'u', b'n'] => 5,
            [b'j', b'u', b'l'] => 6,
            [b'a', b'u', b'g'] => 7,
            [b's', b'e', b'p'] => 8,
            [b'o', b'c', b't'] => 9,
            [b'n', b'o', b'v'] => 10,
            [b'd', b'e', b'c'] => 11,
            _ => return None,
        },
    )
}

/// `[0-1]?\d|2[0-3]` at offset `lead`.
fn hour24(c0: u8, c1: u8, lead: u8, out: &mut Cands) {
    if (b'0'..=b'1').contains(&c0) && c1.is_ascii_digit() {
        out.push(lead + 2);
    }
    if c0.is_ascii_digit() {
        out.push(lead + 1);
    }
    if c0 == b'2' && (b'0'..=b'3').contains(&c1) {
        out.push(lead + 2);
    }
}

/// ` ?` greedy: with the space first (offset 1), then without (offset 0).
fn space_first(c0: u8) -> impl Iterator<Item = usize> {
    let with = (c0 == b' ').then_some(1);
    with.into_iter().chain(std::iter::once(0))
}

/// `[+-][01]\d(?::?\d{2})?` at `at + skip`: lengths (with `skip`) 6, 5, 3.
fn numeric_offset(b: &[u8], at: usize, skip: u8, out: &mut Cands) {
    let s = at + usize::from(skip);
    let c = |i: usize| b.get(s + i).copied().unwrap_or(0);
    if !matches!(c(0), b'+' | b'-') || !matches!(c(1), b'0' | b'1') || !c(2).is_ascii_digit() {
        return;
    }
    if c(3) == b':' && c(4).is_ascii_digit() && c(5).is_ascii_digit() {
        out.push(skip + 6);
    }
    if c(3).is_ascii_digit() && c(4).is_ascii_digit() {
        out.push(skip + 5);
    }
    out.push(skip + 3);
}

/// `[A-Z](?:[A-Z]{2,4})?` at `at + skip`: lengths 5, 4, 3, then 1.
fn abbreviation(b: &[u8], at: usize, skip: u8, ci: bool, out: &mut Cands) {
    let s = at + usize::from(skip);
    let n = (0..5)
        .take_while(|&i| is_upper(b.get(s + i).copied().unwrap_or(0), ci))
        .count();
    if n == 0 {
        return;
    }
    for len in (3..=n).rev() {
        out.push(skip + len as u8);
    }
    out.push(skip + 1);
}

fn is_upper(c: u8, ci: bool) -> bool {
    c.is_ascii_uppercase() || (ci && c.is_ascii_lowercase())
}

fn byte_is(c: u8, want: u8, ci: bool) -> bool {
    c == want || (ci && c.eq_ignore_ascii_case(&want))
}

fn name_is(b: &[u8], at: usize, name: &[u8], ci: bool) -> bool {
    b.get(at..at + name.len()).is_some_and(|s| {
        if ci {
            s.eq_ignore_ascii_case(name)
        } else {
            s == name
        }
    })
}

/// A lower-case name at `at`, in any case (name fields make the template case-insensitive).
fn name_at(b: &[u8], at: usize, name: &[u8]) -> bool {
    name_is(b, at, name, true)
}

/// Python's `_strptime` orders names longest first (a stable sort).
fn longest_first(names: &'static [&'static str]) -> impl Iterator<Item = &'static str> {
    let max = names.iter().map(|n| n.len()).max().unwrap_or(0);
    (0..=max)
        .rev()
        .flat_map(move |len| names.iter().copied().filter(move |n| n.len() == len))
}

/// Up to eight candidate lengths, without allocating.
#[derive(Default, Clone, Copy, Debug)]
pub(super) struct Cands {
    len: [u8; 16],
    n: u8,
}

impl Cands {
    #[inline]
    pub(super) fn push(&mut self, l: u8) {
        if usize::from(self.n) < self.len.len() {
            self.len[usize::from(self.n)] = l;
            self.n += 1;
        }
    }

    pub(super) fn as_slice(&self) -> &[u8] {
        &self.len[..usize::from(self.n)]
    }

    /// Keeps the lengths `keep` accepts, in order.
    pub(super) fn retain(&mut self, keep: impl Fn(u8) -> bool) {
        let mut n = 0;
        for i in 0..usize::from(self.n) {
            let l = self.len[i];
            if keep(l) {
                self.len[n] = l;
                n += 1;
            }
        }
        self.n = n as u8;
    }
}

/// A number read from a field's text, leading spaces skipped (`%k`'s ` 8`).
pub(super) fn number(text: &[u8]) -> Option<i64> {
    if text.len() > 18 {
        return None;
    }
    let mut v = 0i64;
    let mut any = false;
    for &b in text {
        match b {
            b'0'..=b'9' => {
                v = v * 10 + i64::from(b - b'0');
                any = true;
            }
            b' ' if !any => {}
            _ => return None,
        }
    }
    any.then_some(v)
}

/// Index (0-based) of a weekday or month name, abbreviated (3 letters) or full, any case.
pub(super) fn name_index(names: &[&str], text: &[u8], abbreviated: bool) -> Option<usize> {
    names.iter().position(|n| {
        let n = n.as_bytes();
        let n = if abbreviated { &n[..3] } else { n };
        text.eq_ignore_ascii_case(n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cands(f: Field, s: &str) -> Vec<u8> {
        let mut out = Cands::default();
        f.candidates(s.as_bytes(), 0, false, 2, &mut out);
        out.as_slice().to_vec()
    }

    /// The orders Python's `re` tries, e.g. `0?[1-9]|1[0-2]` on "10": "1" first, then "10".
    #[test]
    fn candidates_follow_pythons_backtracking_order() {
        assert_eq!(cands(Field::Month, "10"), [1, 2]);
        assert_eq!(cands(Field::Month, "07"), [2]);
        assert_eq!(cands(Field::Month, "13"), [1]);
        assert_eq!(cands(Field::Day, "31"), [1, 2]);
        assert_eq!(cands(Field::Day, "23"), [2, 1]);
        assert_eq!(cands(Field::Day, " 5"), [2]);
        assert_eq!(cands(Field::Day, "05"), [2]);
        assert_eq!(cands(Field::Hour, "23"), [1, 2]);
        assert_eq!(cands(Field::Hour, "19"), [2, 1]);
        assert_eq!(cands(Field::HourSpace, " 8:"), [2]);
        assert_eq!(cands(Field::HourSpace, "08"), [2, 1]);
        assert_eq!(
            cands(Field::HourSpace, "29"),
            [2, 1],
            "%k takes 24-29, fail2ban's datetime then refuses"
        );
        assert_eq!(cands(Field::Second, "60"), [1, 2]);
        assert_eq!(cands(Field::Fraction, "1234567890"), [9, 8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(cands(Field::MonthAbbr, "Jul"), [3]);
        assert_eq!(cands(Field::MonthAbbr, "xyz"), Vec::<u8>::new());
        assert_eq!(cands(Field::MonthName, "SEPTEMBER 1"), [9]);
        assert_eq!(cands(Field::WeekdayName, "wednesday"), [9]);
        assert_eq!(cands(Field::Offset, "+02:00"), [6, 3]);
        assert_eq!(cands(Field::Offset, "+0200"), [5, 3]);
        assert_eq!(cands(Field::Offset, "UTC"), [3]);
        assert_eq!(cands(Field::ZoneName, "CEST "), [4, 3]);
        assert_eq!(cands(Field::ZoneName, "Z"), [1]);
        assert_eq!(cands(Field::YearEx, "2029"), [4]);
        assert_eq!(cands(Field::YearEx, "2031"), Vec::<u8>::new());
        assert_eq!(cands(Field::Epoch, "1700000000.123456"), [17, 16, 15, 14, 10]);
        assert_eq!(cands(Field::Epoch, "170000000012"), Vec::<u8>::new());
        assert_eq!(
            cands(Field::Epoch, "1700000000abc"),
            Vec::<u8>::new(),
            "\\b after the digits"
        );
        assert_eq!(cands(Field::LongEpoch, "1700000000123"), [11, 13, 10]);
        assert_eq!(cands(Field::OffsetEx, "CET+0100"), [8, 6, 3, 1]);
        assert_eq!(cands(Field::YearDay, "366"), [3, 2, 1]);
    }

    #[test]
    fn numbers_and_names() {
        assert_eq!(number(b" 8"), Some(8));
        assert_eq!(number(b"0042"), Some(42));
        assert_eq!(number(b""), None);
        assert_eq!(name_index(&MONTHS, b"JUL", true), Some(6));
        assert_eq!(name_index(&WEEKDAYS, b"Sunday", false), Some(6));
        assert_eq!(
            longest_first(&WEEKDAYS).collect::<Vec<_>>()[..3],
            ["wednesday", "thursday", "saturday"]
        );
    }
}
