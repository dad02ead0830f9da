//! Timestamps in text log lines: find one, parse it to a `jiff::Timestamp`, say which bytes it
//! took. fail2ban's date detection without regexes: one hand-written byte parser per format (a
//! "template"), a memory of the template that hit last, and a cached local-time offset. Reading the
//! clock and choosing the time zone are the caller's business; nothing here does I/O.
//!
//! Search order for a line (auto-detection): the template that hit last, at the same place (or,
//! for a date found mid-line, right after the first occurrence of the byte before it then); then
//! the formats that only ever start a line (TAI64N, epoch); then every `HH:MM:SS` in the line, left
//! to right (found with `memchr` on `:`), each tried as the end of one of the date formats before
//! it. Detection returns the leftmost hit; a remembered template that matches wins without a
//! search, as in fail2ban. "Line start" means position 0 or after at most two leading non-word
//! bytes, e.g. `[` (fail2ban's `{^LN-BEG}`).

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};

/// One timestamp format banjo recognises in text lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Template {
    /// `@4000000059f5194706e649ec` at line start (daemontools multilog `t`).
    Tai64n,
    /// `2022-02-18 16:23:03.719762500` local time (tai64nlocal, Python logging with `,mmm`).
    Multilog,
    /// `Jul 10 12:05:53` local time, year inferred.
    Syslog,
    /// `2026-11-24T14:14:39.123+01:00`, or a space instead of `T` with an explicit zone.
    Iso8601,
    /// `12-Jul-2022 08:56:39 +0200` (roundcube, PHP), zone optional.
    Bracketed,
    /// `2015/05/27 15:45:58` local time (qmailadmin, nginx error log).
    Slashed,
    /// `12/Jul/2022:00:00:08 +0200` (Apache/nginx access log), zone optional.
    AccessLog,
    /// `1700000000` or `1700000000.123456` at line start.
    Epoch,
}

impl Template {
    /// Every template, in report order.
    pub const ALL: [Template; 8] = [
        Template::Tai64n,
        Template::Multilog,
        Template::Syslog,
        Template::Iso8601,
        Template::Bracketed,
        Template::Slashed,
        Template::AccessLog,
        Template::Epoch,
    ];

    /// Short stable name for reports ("templates found: Mon dd HH:MM:SS 9981 lines").
    pub fn name(self) -> &'static str {
        match self {
            Template::Tai64n => "TAI64N",
            Template::Multilog => "YYYY-MM-DD HH:MM:SS[.n]",
            Template::Syslog => "Mon dd HH:MM:SS",
            Template::Iso8601 => "ISO 8601",
            Template::Bracketed => "dd-Mon-YYYY HH:MM:SS [zone]",
            Template::Slashed => "YYYY/MM/DD HH:MM:SS",
            Template::AccessLog => "dd/Mon/YYYY:HH:MM:SS zone",
            Template::Epoch => "EPOCH",
        }
    }

    fn bit(self) -> u16 {
        1 << self as u16
    }
}

impl std::fmt::Display for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A timestamp found in a line: when, which bytes (`line[start..end]`), in which format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    pub time: Timestamp,
    pub start: usize,
    pub end: usize,
    pub template: Template,
}

#[derive(Debug, thiserror::Error)]
pub enum TimeError {
    #[error(
        "datepattern `{pattern}` is not one banjo understands; banjo knows {} \
         (each may start with `{{^LN-BEG}}` or `^`; `%%` and `%` are both accepted). \
         Remove the datepattern line to let banjo detect the date itself, or use one of these",
        .known.join(", ")
    )]
    UnsupportedDatePattern {
        pattern: String,
        known: &'static [&'static str],
    },
}

/// The fail2ban `datepattern` spellings `TimeFinder::pinned` understands (with single `%`;
/// optional `(?:[.,]%f)?` / `(?:\s*%z)?` tails, a `\[...\]` wrapping and any case of the
/// keywords, e.g. `Epoch`, are accepted too).
pub const KNOWN_DATEPATTERNS: &[&str] = &[
    "{^LN-BEG}",
    "{NONE}",
    "TAI64N",
    "EPOCH",
    "ISO8601",
    "%Y-%m-%d %H:%M:%S",
    "%b %d %H:%M:%S",
    "%d-%b-%Y %H:%M:%S %z",
    "%Y/%m/%d %H:%M:%S",
    "%d/%b/%Y:%H:%M:%S %z",
    r"%ExY(?P<_sep>[-/.])%m(?P=_sep)%d[T ]%H:%M:%S(?:[.,]%f)?(?:\s*%z)?",
    r"^[^\[]*\[({DATE})",
    "{DATE}",
];

const ALL_MASK: u16 = (1 << Template::ALL.len()) - 1;
const YMD_MASK: u16 = 1 << Template::Multilog as u16 | 1 << Template::Iso8601 as u16;

/// Finds timestamps in the lines of one source, remembering which format hit last.
#[derive(Clone, Debug)]
pub struct TimeFinder {
    tz: TimeZone,
    /// Templates allowed (bits of `Template as u16`); 0 for `{NONE}`.
    mask: u16,
    /// Only at line start (`{^LN-BEG}`).
    anchored: bool,
    /// Template that hit last and where.
    last: Option<Memory>,
    hits: [u64; Template::ALL.len()],
    local: LocalOffsets,
    year: YearOfNow,
}

impl TimeFinder {
    /// Auto-detects every template, anywhere in the line; `tz` is the zone of local times.
    pub fn new(tz: TimeZone) -> Self {
        Self::with(tz, ALL_MASK, false)
    }

    /// Pins what fail2ban's `datepattern` says (see `KNOWN_DATEPATTERNS`). Several lines
    /// (fail2ban allows a list) are merged: the union of their templates.
    pub fn pinned(spec: &str, tz: TimeZone) -> Result<Self, TimeError> {
        let unsupported = || TimeError::UnsupportedDatePattern {
            pattern: spec.trim().to_string(),
            known: KNOWN_DATEPATTERNS,
        };
        let mut mask = 0;
        let mut anchored = true;
        let mut any = false;
        for line in spec.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (m, a) = pin(line).ok_or_else(unsupported)?;
            mask |= m;
            anchored &= a;
            any = true;
        }
        if !any {
            return Err(unsupported());
        }
        Ok(Self::with(tz, mask, anchored && mask != 0))
    }

    fn with(tz: TimeZone, mask: u16, anchored: bool) -> Self {
        TimeFinder {
            tz,
            mask,
            anchored,
            last: None,
            hits: [0; Template::ALL.len()],
            local: LocalOffsets::default(),
            year: YearOfNow::default(),
        }
    }

    /// False for `{NONE}`: the lines carry no date, the caller uses the entry's own time.
    pub fn expects_dates(&self) -> bool {
        self.mask != 0
    }

    /// The timestamp in `line` (search order: see the module doc), or None. `now` only serves to
    /// infer the year of year-less formats (syslog): never more than a day in the future.
    pub fn find(&mut self, line: &[u8], now: Timestamp) -> Option<Found> {
        if self.mask == 0 {
            return None;
        }
        let hit = match self.remembered(line) {
            Some(hit) => hit,
            None => self.detect(line)?,
        };
        let time = self.timestamp(&hit, now)?;
        self.last = Some(Memory {
            template: hit.template,
            at: hit.start,
            at_start: hit.start == 0 || lead_ok(line, hit.start),
            opener: hit.start.checked_sub(1).map(|i| line[i]),
        });
        self.hits[hit.template as usize] += 1;
        Some(Found {
            time,
            start: hit.start,
            end: hit.end,
            template: hit.template,
        })
    }

    /// Templates seen so far with their line counts, most hits first (ties in `Template::ALL`
    /// order).
    pub fn hits(&self) -> Vec<(Template, u64)> {
        let mut v: Vec<_> = Template::ALL
            .iter()
            .map(|&t| (t, self.hits[t as usize]))
            .filter(|&(_, n)| n > 0)
            .collect();
        v.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        v
    }

    /// The last template, tried where it hit last; a date found mid-line is also tried after the
    /// first occurrence of the byte that preceded it then (nginx: the `[` after the address).
    fn remembered(&self, line: &[u8]) -> Option<Hit> {
        let m = self.last?;
        if m.at > 0 && m.at_start && !lead_ok(line, m.at) {
            return None;
        }
        let hit = parse_at(line, m.at, m.template).or_else(|| match m.opener {
            Some(opener) if !m.at_start => {
                let at = memchr::memchr(opener, line)? + 1;
                if at == m.at {
                    None
                } else {
                    parse_at(line, at, m.template)
                }
            }
            _ => None,
        })?;
        (self.mask & hit.template.bit() != 0).then_some(hit)
    }

    fn detect(&self, line: &[u8]) -> Option<Hit> {
        let lead = lead_len(line);
        for p in 0..=lead {
            if let Some(h) = start_only_at(line, p, self.mask) {
                return Some(h);
            }
        }
        if self.anchored {
            (0..=lead).find_map(|p| any_at(line, p, self.mask))
        } else {
            scan(line, self.mask)
        }
    }

    fn timestamp(&mut self, hit: &Hit, now: Timestamp) -> Option<Timestamp> {
        let second = match hit.when {
            When::Unix(s) => s,
            When::Zoned(c, offset) => c.seconds() - i64::from(offset),
            When::Local(c) => self.local.unix_of(&self.tz, c)?,
            When::LocalNoYear(c) => self.infer_year(c, now)?,
        };
        Timestamp::new(second, hit.nanos as i32).ok()
    }

    /// The current year in the local zone, unless that puts `c` more than a day after `now`:
    /// then the year before.
    fn infer_year(&mut self, c: Civil, now: Timestamp) -> Option<i64> {
        let year = self.year.of(&self.tz, now);
        let limit = now.as_second() + 86_400;
        match self.local.unix_of(&self.tz, Civil { year, ..c }) {
            Some(s) if s <= limit => Some(s),
            _ => self.local.unix_of(&self.tz, Civil { year: year - 1, ..c }),
        }
    }
}

/// `datepattern` line → (template mask, anchored). None when banjo does not know it.
fn pin(line: &str) -> Option<(u16, bool)> {
    let norm = line.replace("%%", "%").replace("%ExY", "%Y");
    // fail2ban's apache and nginx filters: "the date after the first `[`", i.e. anywhere, any
    // format; `{DATE}` alone is fail2ban's own detection.
    if matches!(
        norm.as_str(),
        r"^[^\[]*\[({DATE})" | r"^[^\[]*(\[{DATE}\s*\])" | "{DATE}"
    ) {
        return Some((ALL_MASK, false));
    }
    let mut s = norm.as_str();
    let mut anchored = false;
    for prefix in ["{^LN-BEG}", "^"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest;
            anchored = true;
        }
    }
    if let Some(inner) = s.strip_prefix(r"\[").and_then(|r| r.strip_suffix(r"\]")) {
        s = inner;
    }
    // Optional fraction and zone: every parser reads them when present.
    const OPTIONAL: [&str; 8] = [
        r"(?:\s*%z)?",
        r"(?:\s+%z)?",
        r"(?: %z)?",
        r"(?:[.,]%f)?",
        r"(?:\.%f)?",
        r"(?:,%f)?",
        ".%f",
        ",%f",
    ];
    while let Some(rest) = OPTIONAL.iter().find_map(|o| s.strip_suffix(o)) {
        s = rest;
    }
    let keyword = s.to_ascii_uppercase();
    let mask = match s {
        "" | "{DATE}" if anchored => ALL_MASK,
        "{NONE}" => 0,
        _ if keyword == "TAI64N" => Template::Tai64n.bit(),
        _ if keyword == "EPOCH" => Template::Epoch.bit(),
        _ if keyword == "ISO8601" => YMD_MASK,
        "%Y-%m-%d %H:%M:%S"
        | "%Y-%m-%dT%H:%M:%S"
        | "%Y-%m-%d[T ]%H:%M:%S"
        | "%Y-%m-%d %H:%M:%S%z"
        | "%Y-%m-%dT%H:%M:%S%z" => YMD_MASK,
        // fail2ban's nginx filters: dashes or slashes (dots, `2026.01.02`, are not read).
        r"%Y(?P<_sep>[-/.])%m(?P=_sep)%d[T ]%H:%M:%S" => YMD_MASK | Template::Slashed.bit(),
        "%b %d %H:%M:%S" => Template::Syslog.bit(),
        "%d-%b-%Y %H:%M:%S %z" | "%d-%b-%Y %H:%M:%S" => Template::Bracketed.bit(),
        "%Y/%m/%d %H:%M:%S" => Template::Slashed.bit(),
        "%d/%b/%Y:%H:%M:%S %z" | "%d/%b/%Y:%H:%M:%S" => Template::AccessLog.bit(),
        _ => return None,
    };
    Some((mask, anchored))
}

/// The line with the timestamp cut out, as fail2ban matches it.
///
/// - Date at position 0: the text after it, leading spaces and tabs trimmed, borrowed from `line`
///   (`Jul 10 12:05:53 qmail vpopmail[3076]: x` → `qmail vpopmail[3076]: x`).
/// - Anywhere else, including after a leading `[`: the text before and after joined in `scratch`,
///   so brackets stay as fail2ban leaves them (`[12-Jul-2022 08:56:39 +0200]: x` → `[]: x`, which
///   fail2ban's roundcube-auth failregex expects; `1.2.3.4 - - [12/Jul/2022:00:00:08 +0200] "GET`
///   → `1.2.3.4 - - [] "GET`). `scratch` is cleared first and keeps its capacity, so reusing it
///   does not allocate once warm.
///
/// A `found` that does not fit `line` gives `line` unchanged.
pub fn cut<'a>(line: &'a [u8], found: &Found, scratch: &'a mut Vec<u8>) -> &'a [u8] {
    let (Some(pre), Some(post)) = (line.get(..found.start), line.get(found.end..)) else {
        return line;
    };
    if found.start > found.end {
        return line;
    }
    if pre.is_empty() {
        let skip = post
            .iter()
            .position(|&b| b != b' ' && b != b'\t')
            .unwrap_or(post.len());
        return &post[skip..];
    }
    scratch.clear();
    scratch.extend_from_slice(pre);
    scratch.extend_from_slice(post);
    scratch
}

/// `hex24` = the 24 hex digits after multilog's `@`: TAI64 seconds (16) and nanoseconds (8).
/// Unix time = TAI64 − 2^62 − 10, daemontools' fixed offset (no leap-second table).
pub fn tai64n_to_timestamp(hex24: &[u8]) -> Option<Timestamp> {
    let (second, nanos) = tai64n(hex24.try_into().ok()?)?;
    Timestamp::new(second, nanos as i32).ok()
}

/// Where the last template hit: tried first on the next line.
#[derive(Clone, Copy, Debug)]
struct Memory {
    template: Template,
    at: usize,
    /// `at` was the line start (after at most two non-word bytes).
    at_start: bool,
    /// The byte before the date, if any.
    opener: Option<u8>,
}

// ---- what a parser returns ------------------------------------------------------------------

/// A civil date and time as written (the parsers check ranges; `valid` checks the day).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Civil {
    year: i32,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

impl Civil {
    fn valid(&self) -> bool {
        (1..=12).contains(&self.month) && self.day >= 1 && self.day <= days_in_month(self.year, self.month)
    }

    /// Seconds since 1970-01-01 00:00:00 of this civil time read as UTC.
    fn seconds(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// Year, month, day and hour packed: the key of `LocalOffsets`.
    fn hour_key(&self) -> u64 {
        u64::from(self.year as u32) << 32
            | u64::from(self.month) << 16
            | u64::from(self.day) << 8
            | u64::from(self.hour)
    }
}

#[derive(Clone, Copy, Debug)]
enum When {
    Unix(i64),
    /// Civil time with its own UTC offset in seconds east.
    Zoned(Civil, i32),
    /// Civil time in the finder's zone.
    Local(Civil),
    /// Civil time in the finder's zone, year to infer (field `year` unused).
    LocalNoYear(Civil),
}

#[derive(Clone, Copy, Debug)]
struct Hit {
    when: When,
    nanos: u32,
    start: usize,
    end: usize,
    template: Template,
}

// ---- where to look ---------------------------------------------------------------------------

/// Bytes that continue a word (regex `\w`, any non-ASCII byte counted in): a date must not be
/// glued to one.
#[inline]
fn is_word(b: u8) -> bool {
    const WORD: [bool; 256] = {
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            let b = i as u8;
            t[i] = b.is_ascii_alphanumeric() || b == b'_' || !b.is_ascii();
            i += 1;
        }
        t
    };
    WORD[usize::from(b)]
}

/// How many leading non-word bytes (at most 2) may precede a date that "starts the line".
fn lead_len(line: &[u8]) -> usize {
    match line {
        [a, b, ..] if !is_word(*a) => 1 + usize::from(!is_word(*b)),
        [a, ..] => usize::from(!is_word(*a)),
        [] => 0,
    }
}

fn lead_ok(line: &[u8], at: usize) -> bool {
    at <= lead_len(line)
}

/// TAI64N and epoch: formats only looked for at line start.
fn start_only_at(line: &[u8], at: usize, mask: u16) -> Option<Hit> {
    match *line.get(at)? {
        b'@' if mask & Template::Tai64n.bit() != 0 => parse_tai64n(line, at),
        b'0'..=b'9' if mask & Template::Epoch.bit() != 0 => parse_epoch(line, at),
        _ => None,
    }
}

/// Every allowed template that has an `HH:MM:SS`, tried at `at` (anchored search).
fn any_at(line: &[u8], at: usize, mask: u16) -> Option<Hit> {
    const WITH_TIME: [Template; 5] = [
        Template::Multilog,
        Template::Syslog,
        Template::Bracketed,
        Template::Slashed,
        Template::AccessLog,
    ];
    WITH_TIME
        .iter()
        .filter(|&&t| parser_allowed(mask, t))
        .find_map(|&t| parse_at(line, at, t).filter(|h| mask & h.template.bit() != 0))
}

/// Multilog and ISO 8601 share one parser; either bit lets it run.
fn parser_allowed(mask: u16, t: Template) -> bool {
    match t {
        Template::Multilog | Template::Iso8601 => mask & YMD_MASK != 0,
        _ => mask & t.bit() != 0,
    }
}

/// Leftmost date anywhere: each `HH:MM:SS` (found by its first `:`) is tried as the end of
/// every format, by the distance from the date's start to its time.
fn scan(line: &[u8], mask: u16) -> Option<Hit> {
    const BACK: [(usize, Template); 6] = [
        (12, Template::Bracketed),
        (12, Template::AccessLog),
        (11, Template::Multilog),
        (11, Template::Slashed),
        (7, Template::Syslog),
        (6, Template::Syslog),
    ];
    for colon in memchr::memchr_iter(b':', line) {
        let Some(t) = colon.checked_sub(2) else {
            continue;
        };
        if window(line, t).and_then(hms).is_none() {
            continue;
        }
        for &(back, template) in &BACK {
            let Some(at) = t.checked_sub(back) else {
                continue;
            };
            if !parser_allowed(mask, template) {
                continue;
            }
            if let Some(h) = parse_at(line, at, template) {
                if mask & h.template.bit() != 0 {
                    return Some(h);
                }
            }
        }
    }
    None
}

// ---- the parsers: fixed positions, digit checks ---------------------------------------------

fn parse_at(line: &[u8], at: usize, template: Template) -> Option<Hit> {
    if at > 0 && line.get(at - 1).is_none_or(|&b| b.is_ascii_alphanumeric()) {
        return None;
    }
    match template {
        Template::Tai64n => parse_tai64n(line, at),
        Template::Multilog | Template::Iso8601 => parse_ymd(line, at),
        Template::Syslog => parse_syslog(line, at),
        Template::Bracketed => parse_bracketed(line, at),
        Template::Slashed => parse_slashed(line, at),
        Template::AccessLog => parse_access(line, at),
        Template::Epoch => parse_epoch(line, at),
    }
}

/// `@` + 24 hex digits, not followed by another hex digit.
fn parse_tai64n(b: &[u8], at: usize) -> Option<Hit> {
    let w: &[u8; 25] = window(b, at)?;
    if w[0] != b'@' || b.get(at + 25).is_some_and(u8::is_ascii_hexdigit) {
        return None;
    }
    let (second, nanos) = tai64n(w[1..].first_chunk()?)?;
    Some(Hit {
        when: When::Unix(second),
        nanos,
        start: at,
        end: at + 25,
        template: Template::Tai64n,
    })
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.,fraction][zone]`: Iso8601 when `T` or a zone, else Multilog.
fn parse_ymd(b: &[u8], at: usize) -> Option<Hit> {
    let w: &[u8; 19] = window(b, at)?;
    if w[4] != b'-' || w[7] != b'-' || (w[10] != b' ' && w[10] != b'T') {
        return None;
    }
    let date = (
        num4(w[0], w[1], w[2], w[3])?,
        num2(w[5], w[6])?,
        num2(w[8], w[9])?,
    );
    let c = civil(date, hms(w[11..].first_chunk()?)?)?;
    let (nanos, end) = fraction(b, at + 19, b".,");
    if is_digit(b, end) {
        return None;
    }
    let zone = zone_attached(b, end).or_else(|| zone_spaced(b, end));
    let template = if w[10] == b'T' || zone.is_some() {
        Template::Iso8601
    } else {
        Template::Multilog
    };
    Some(finish(c, zone, nanos, at, end, template))
}

/// `Mon dd HH:MM:SS[.fraction]`, day as `dd`, ` d` or `d`.
fn parse_syslog(b: &[u8], at: usize) -> Option<Hit> {
    let w: &[u8; 6] = window(b, at)?;
    let month = month3(w[0], w[1], w[2])?;
    if w[3] != b' ' {
        return None;
    }
    let (day, t) = match (w[4], w[5]) {
        (b' ', d) => (num1(d)?, at + 7),
        (d, b' ') => (num1(d)?, at + 6),
        (d1, d2) => (num2(d1, d2)?, at + 7),
    };
    if t == at + 7 && !is(b, at + 6, b' ') {
        return None;
    }
    let (hour, minute, second) = hms(window(b, t)?)?;
    let (nanos, end) = fraction(b, t + 8, b".");
    if is_digit(b, end) || day == 0 || day > days_in_month(2000, month) {
        return None;
    }
    let c = Civil {
        year: 0,
        month,
        day,
        hour,
        minute,
        second,
    };
    Some(Hit {
        when: When::LocalNoYear(c),
        nanos,
        start: at,
        end,
        template: Template::Syslog,
    })
}

/// `dd-Mon-YYYY HH:MM:SS[.fraction][ zone]`.
fn parse_bracketed(b: &[u8], at: usize) -> Option<Hit> {
    parse_day_month_year(b, at, b'-', b' ', Template::Bracketed)
}

/// `dd{sep}Mon{sep}YYYY{time_sep}HH:MM:SS[.fraction][ zone]`: the PHP/roundcube and the
/// access-log layouts, which differ only in their separators.
fn parse_day_month_year(b: &[u8], at: usize, sep: u8, time_sep: u8, template: Template) -> Option<Hit> {
    let w: &[u8; 20] = window(b, at)?;
    if w[2] != sep || w[6] != sep || w[11] != time_sep {
        return None;
    }
    let date = (
        num4(w[7], w[8], w[9], w[10])?,
        month3(w[3], w[4], w[5])?,
        num2(w[0], w[1])?,
    );
    let c = civil(date, hms(w[12..].first_chunk()?)?)?;
    let (nanos, end) = fraction(b, at + 20, b".");
    if is_digit(b, end) {
        return None;
    }
    Some(finish(c, zone_spaced(b, end), nanos, at, end, template))
}

/// `YYYY/MM/DD HH:MM:SS[.fraction]`, local time.
fn parse_slashed(b: &[u8], at: usize) -> Option<Hit> {
    let w: &[u8; 19] = window(b, at)?;
    if w[4] != b'/' || w[7] != b'/' || w[10] != b' ' {
        return None;
    }
    let date = (
        num4(w[0], w[1], w[2], w[3])?,
        num2(w[5], w[6])?,
        num2(w[8], w[9])?,
    );
    let c = civil(date, hms(w[11..].first_chunk()?)?)?;
    let (nanos, end) = fraction(b, at + 19, b".");
    if is_digit(b, end) {
        return None;
    }
    Some(finish(c, None, nanos, at, end, Template::Slashed))
}

/// `dd/Mon/YYYY:HH:MM:SS[ zone]`.
fn parse_access(b: &[u8], at: usize) -> Option<Hit> {
    parse_day_month_year(b, at, b'/', b':', Template::AccessLog)
}

/// Ten digits of Unix seconds, optional `.fraction`, then no word byte (`1700000000abc` is an id).
fn parse_epoch(b: &[u8], at: usize) -> Option<Hit> {
    let w: &[u8; 10] = window(b, at)?;
    let secs = w
        .iter()
        .try_fold(0i64, |acc, &d| Some(acc * 10 + i64::from(num1(d)?)))?;
    let (nanos, end) = fraction(b, at + 10, b".");
    if b.get(end).is_some_and(|&c| is_word(c)) {
        return None;
    }
    Some(Hit {
        when: When::Unix(secs),
        nanos,
        start: at,
        end,
        template: Template::Epoch,
    })
}

fn finish(
    c: Civil,
    zone: Option<(i32, usize)>,
    nanos: u32,
    start: usize,
    end: usize,
    template: Template,
) -> Hit {
    let (when, end) = match zone {
        Some((offset, zone_end)) => (When::Zoned(c, offset), zone_end),
        None => (When::Local(c), end),
    };
    Hit {
        when,
        nanos,
        start,
        end,
        template,
    }
}

/// (year, month, day) and (hour, minute, second) → a valid `Civil`.
fn civil((year, month, day): (u16, u8, u8), (hour, minute, second): (u8, u8, u8)) -> Option<Civil> {
    let c = Civil {
        year: i32::from(year),
        month,
        day,
        hour,
        minute,
        second,
    };
    c.valid().then_some(c)
}

/// `N` bytes of `b` from `at` as an array: one bounds check, then constant indexes.
#[inline]
fn window<const N: usize>(b: &[u8], at: usize) -> Option<&[u8; N]> {
    b.get(at..)?.first_chunk()
}

#[inline]
fn is(b: &[u8], i: usize, c: u8) -> bool {
    b.get(i) == Some(&c)
}

#[inline]
fn is_digit(b: &[u8], i: usize) -> bool {
    b.get(i).is_some_and(u8::is_ascii_digit)
}

#[inline]
fn num1(d: u8) -> Option<u8> {
    let v = d.wrapping_sub(b'0');
    (v <= 9).then_some(v)
}

#[inline]
fn num2(d1: u8, d2: u8) -> Option<u8> {
    let (x, y) = (d1.wrapping_sub(b'0'), d2.wrapping_sub(b'0'));
    ((x <= 9) & (y <= 9)).then(|| x * 10 + y)
}

#[inline]
fn num4(d1: u8, d2: u8, d3: u8, d4: u8) -> Option<u16> {
    Some(u16::from(num2(d1, d2)?) * 100 + u16::from(num2(d3, d4)?))
}

#[inline]
fn month3(a: u8, b: u8, c: u8) -> Option<u8> {
    Some(match &[a, b, c] {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    })
}

/// `HH:MM:SS`; a leap second `:60` reads as `:59`.
#[inline]
fn hms(t: &[u8; 8]) -> Option<(u8, u8, u8)> {
    if t[2] != b':' || t[5] != b':' {
        return None;
    }
    let (h, m, s) = (num2(t[0], t[1])?, num2(t[3], t[4])?, num2(t[6], t[7])?);
    (h < 24 && m < 60 && s <= 60).then_some((h, m, s.min(59)))
}

/// Optional fraction of a second after one of `seps`: (nanoseconds, end). Digits past the
/// ninth are consumed and ignored.
fn fraction(b: &[u8], i: usize, seps: &[u8]) -> (u32, usize) {
    if !b.get(i).is_some_and(|c| seps.contains(c)) || !is_digit(b, i + 1) {
        return (0, i);
    }
    let (mut nanos, mut n, mut j) = (0u32, 0u32, i + 1);
    while let Some(&d) = b.get(j).filter(|d| d.is_ascii_digit()) {
        if n < 9 {
            nanos = nanos * 10 + u32::from(d - b'0');
            n += 1;
        }
        j += 1;
    }
    (nanos * 10u32.pow(9 - n), j)
}

/// `Z`, `±hh:mm`, `±hhmm` or `±hh` right after the time: (offset seconds east, end).
fn zone_attached(b: &[u8], i: usize) -> Option<(i32, usize)> {
    match b.get(i)? {
        b'Z' if !b.get(i + 1).is_some_and(|&c| is_word(c)) => Some((0, i + 1)),
        b'+' | b'-' => signed_offset(b, i, true),
        _ => None,
    }
}

/// ` ±hhmm`, ` ±hh:mm`, ` UTC` or ` GMT` after the time: (offset seconds east, end).
fn zone_spaced(b: &[u8], i: usize) -> Option<(i32, usize)> {
    match window(b, i)? {
        [b' ', b'+' | b'-', _, _] => signed_offset(b, i + 1, false),
        [b' ', b'U', b'T', b'C'] | [b' ', b'G', b'M', b'T'] if !b.get(i + 4).is_some_and(|&c| is_word(c)) => {
            Some((0, i + 4))
        }
        _ => None,
    }
}

/// `±hh:mm`, `±hhmm` or (when `hours_only_ok`) `±hh` at `i`, not followed by a digit.
fn signed_offset(b: &[u8], i: usize, hours_only_ok: bool) -> Option<(i32, usize)> {
    let &[sign, h1, h2] = window(b, i)?;
    let hours = num2(h1, h2)?;
    let (minutes, end) = match b.get(i + 3..).unwrap_or_default() {
        [b':', m1, m2, ..] => (num2(*m1, *m2)?, i + 6),
        [m1, m2, ..] if m1.is_ascii_digit() => (num2(*m1, *m2)?, i + 5),
        _ if hours_only_ok => (0, i + 3),
        _ => return None,
    };
    if hours > 23 || minutes > 59 || is_digit(b, end) {
        return None;
    }
    let offset = i32::from(hours) * 3600 + i32::from(minutes) * 60;
    Some((if sign == b'-' { -offset } else { offset }, end))
}

/// TAI64N's 24 hex digits → (Unix seconds, nanoseconds), daemontools' fixed 10 s offset.
fn tai64n(hex24: &[u8; 24]) -> Option<(i64, u32)> {
    let (hi, rest) = hex24.split_first_chunk::<8>()?;
    let (lo, nanos) = rest.split_first_chunk::<8>()?;
    let tai = u64::from(hex8(hi)?) << 32 | u64::from(hex8(lo)?);
    let nanos = hex8(nanos.first_chunk()?)?;
    if nanos >= 1_000_000_000 {
        return None;
    }
    Some((i64::try_from(tai).ok()? - (1 << 62) - 10, nanos))
}

/// Eight ASCII hex digits, most significant first → their value. Eight bytes at once (SWAR):
/// multilog lines spend most of their date time here otherwise.
#[inline]
fn hex8(chunk: &[u8; 8]) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    let x = u64::from_be_bytes(*chunk);
    if x & HIGH != 0 {
        return None;
    }
    // Every byte is below 0x80, so adding at most 0x7f per byte never carries into the next:
    // the high bit of each byte says "this byte >= k".
    let at_least = |v: u64, k: u64| (v + ONES * (0x80 - k)) & HIGH;
    let digit = at_least(x, b'0'.into()) & !at_least(x, u64::from(b'9') + 1);
    let lower = x | (ONES * 0x20);
    let letter = at_least(lower, b'a'.into()) & !at_least(lower, u64::from(b'f') + 1);
    if digit | letter != HIGH {
        return None;
    }
    // '0'-'9' → 0-9; 'a'-'f' and 'A'-'F' have bit 6 set → low nibble + 9.
    let v = (x & (ONES * 0x0f)) + ((x >> 6) & ONES) * 9;
    let v = (v | v >> 4) & 0x00ff_00ff_00ff_00ff;
    let v = (v | v >> 8) & 0x0000_ffff_0000_ffff;
    let v = (v | v >> 16) & 0x0000_0000_ffff_ffff;
    Some(v as u32)
}

// ---- civil time arithmetic and the caches that keep jiff off the per-line path ---------------

fn is_leap(y: i32) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let (y, m, d) = (i64::from(y), i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Where a local civil hour starts in Unix seconds, if the zone has one offset all through it.
#[derive(Clone, Copy, Debug)]
enum HourStart {
    Uniform(i64),
    /// A zone transition (DST gap or fold) falls in this hour: ask jiff for every line.
    Mixed,
    /// No such date (Feb 29 of a common year) or beyond jiff's range.
    NoSuchDate,
}

impl HourStart {
    fn of(tz: &TimeZone, c: Civil) -> HourStart {
        if !c.valid() {
            return HourStart::NoSuchDate;
        }
        let Some(dt) = civil_datetime(c, 0, 0) else {
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
                let dt = civil_datetime(c, c.minute, c.second)?;
                Some(tz.to_ambiguous_timestamp(dt).compatible().ok()?.as_second())
            }
            HourStart::NoSuchDate => None,
        }
    }
}

fn civil_datetime(c: Civil, minute: u8, second: u8) -> Option<DateTime> {
    DateTime::new(
        i16::try_from(c.year).ok()?,
        c.month as i8,
        c.day as i8,
        c.hour as i8,
        minute as i8,
        second as i8,
        0,
    )
    .ok()
}

/// The local year of `now`, cached with the span of Unix seconds it holds for.
#[derive(Clone, Debug, Default)]
struct YearOfNow {
    from: i64,
    until: i64,
    year: i32,
}

impl YearOfNow {
    fn of(&mut self, tz: &TimeZone, now: Timestamp) -> i32 {
        let s = now.as_second();
        if s < self.from || s >= self.until {
            let year = tz.to_datetime(now).year();
            let start = |y: i16| {
                let dt = DateTime::new(y, 1, 1, 0, 0, 0, 0).ok()?;
                Some(tz.to_ambiguous_timestamp(dt).compatible().ok()?.as_second())
            };
            self.year = i32::from(year);
            match (start(year), year.checked_add(1).and_then(start)) {
                (Some(from), Some(until)) if from <= s && s < until => {
                    (self.from, self.until) = (from, until)
                }
                _ => (self.from, self.until) = (s, s + 1),
            }
        }
        self.year
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("test timestamp")
    }

    /// Europe/Berlin's rules without tzdata: CET/CEST, last Sunday of March and October.
    fn berlin() -> TimeZone {
        TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").expect("posix zone")
    }

    fn find_in(tz: TimeZone, line: &str, now: &str) -> Option<Found> {
        TimeFinder::new(tz).find(line.as_bytes(), ts(now))
    }

    fn time_of(tz: TimeZone, line: &str, now: &str) -> Option<String> {
        find_in(tz, line, now).map(|f| f.time.to_string())
    }

    const NOW: &str = "2026-08-01T00:00:00Z";

    /// tests/data/time/samples.tsv: template, expected UTC time, expected cut text, line.
    #[test]
    fn sample_lines_of_every_template() {
        let fixture = include_str!("../../tests/data/time/samples.tsv");
        let mut finder = TimeFinder::new(berlin());
        let mut seen = std::collections::HashSet::new();
        let mut scratch = Vec::new();
        for row in fixture.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
            let cols: Vec<&str> = row.splitn(4, '\t').collect();
            let [template, utc, after, line] = cols[..] else {
                panic!("fixture row needs 4 tab-separated columns: {row}");
            };
            let f = finder
                .find(line.as_bytes(), ts(NOW))
                .unwrap_or_else(|| panic!("no date in {line}"));
            assert_eq!(format!("{:?}", f.template), template, "{line}");
            assert_eq!(f.time, ts(utc), "{line}");
            let cut_text = cut(line.as_bytes(), &f, &mut scratch);
            assert_eq!(String::from_utf8_lossy(cut_text), after, "{line}");
            seen.insert(f.template);
        }
        assert_eq!(seen.len(), Template::ALL.len(), "fixture covers every template");
    }

    #[test]
    fn tai64n_known_value() {
        let t = tai64n_to_timestamp(b"400000006b059bd900000000").unwrap();
        assert_eq!(t.as_second(), 1_795_529_679);
        assert_eq!(t, ts("2026-11-24T14:14:39Z"));
        let t = tai64n_to_timestamp(b"4000000059f5195c211f2234").unwrap();
        assert_eq!(t.subsec_nanosecond(), 0x211f_2234);
    }

    #[test]
    fn tai64n_matches_tai64nlocal() {
        let tai = "@400000006b059bd90bebc200 x";
        let local_berlin = "2026-11-24 15:14:39.200000000 x";
        let local_utc = "2026-11-24 14:14:39.2 x";
        let a = find_in(TimeZone::UTC, tai, NOW).unwrap();
        assert_eq!(a.template, Template::Tai64n);
        assert_eq!((a.start, a.end), (0, 25));
        assert_eq!(find_in(berlin(), local_berlin, NOW).unwrap().time, a.time);
        assert_eq!(find_in(TimeZone::UTC, local_utc, NOW).unwrap().time, a.time);
    }

    #[test]
    fn tai64n_needs_exactly_24_hex_digits() {
        let now = NOW;
        assert!(find_in(TimeZone::UTC, "@400000006b059bd90bebc20 x", now).is_none());
        assert!(find_in(TimeZone::UTC, "@400000006b059bd90bebc2001 x", now).is_none());
        assert!(find_in(TimeZone::UTC, "@400000006b059bd90bebc200", now).is_some());
        assert!(tai64n_to_timestamp(b"400000006b059bd9").is_none());
        assert!(
            tai64n_to_timestamp(b"400000006b059bd9ffffffff").is_none(),
            "nanos >= 1e9"
        );
    }

    #[test]
    fn syslog_year_never_in_future() {
        let tz = berlin();
        let now = "2027-01-01T00:30:00+01:00[Europe/Berlin]";
        let now = now.split('[').next().unwrap();
        let t = |line: &str| time_of(tz.clone(), line, now).unwrap();
        assert_eq!(t("Dec 31 23:59:59 host x"), "2026-12-31T22:59:59Z");
        assert_eq!(t("Jan  1 00:10:00 host x"), "2026-12-31T23:10:00Z");
        // 30 minutes ahead of now: within the day of tolerance, so this year.
        assert_eq!(t("Jan  1 01:00:00 host x"), "2027-01-01T00:00:00Z");
        // More than a day ahead: last year.
        assert_eq!(t("Jan  3 00:00:00 host x"), "2026-01-02T23:00:00Z");
    }

    #[test]
    fn syslog_lines_from_two_years_interleaved() {
        let mut finder = TimeFinder::new(berlin());
        let now = ts("2027-01-01T12:00:00Z");
        for _ in 0..3 {
            let old = finder.find(b"Dec 31 23:00:00 h x", now).unwrap();
            assert_eq!(old.time, ts("2026-12-31T22:00:00Z"));
            let new = finder.find(b"Jan  1 11:00:00 h x", now).unwrap();
            assert_eq!(new.time, ts("2027-01-01T10:00:00Z"));
        }
    }

    #[test]
    fn hex8_agrees_with_a_byte_at_a_time_reading() {
        for pos in 0..8 {
            for b in 0..=255u8 {
                let mut chunk = *b"0f9A0a3c";
                chunk[pos] = b;
                let expected = if chunk.iter().all(u8::is_ascii_hexdigit) {
                    std::str::from_utf8(&chunk)
                        .ok()
                        .and_then(|s| u32::from_str_radix(s, 16).ok())
                } else {
                    None
                };
                assert_eq!(hex8(&chunk), expected, "{chunk:?}");
            }
        }
        assert_eq!(hex8(b"ffffffff"), Some(u32::MAX));
        assert_eq!(hex8(b"FFFFFFFF"), Some(u32::MAX));
        assert_eq!(hex8(b"00000000"), Some(0));
        assert_eq!(hex8(b"12345678"), Some(0x1234_5678));
    }

    #[test]
    fn syslog_day_spellings_and_fraction() {
        let t = |line: &str| time_of(TimeZone::UTC, line, NOW).unwrap();
        assert_eq!(t("Jul  1 12:05:53 h x"), "2026-07-01T12:05:53Z");
        assert_eq!(t("Jul 01 12:05:53 h x"), "2026-07-01T12:05:53Z");
        assert_eq!(t("Jul 1 12:05:53 h x"), "2026-07-01T12:05:53Z");
        assert_eq!(t("Jul 10 12:05:53.250 h x"), "2026-07-10T12:05:53.25Z");
    }

    #[test]
    fn syslog_february_29_takes_a_leap_year() {
        let t = time_of(TimeZone::UTC, "Feb 29 10:00:00 h x", "2029-01-05T00:00:00Z");
        assert_eq!(t.as_deref(), Some("2028-02-29T10:00:00Z"));
        assert!(time_of(TimeZone::UTC, "Feb 29 10:00:00 h x", "2027-03-01T00:00:00Z").is_none());
    }

    #[test]
    fn iso8601_with_and_without_zone() {
        let t = |line: &str| time_of(berlin(), line, NOW).unwrap();
        assert_eq!(t("2026-11-24T14:14:39Z x"), "2026-11-24T14:14:39Z");
        assert_eq!(t("2026-11-24T14:14:39.123+01:00 x"), "2026-11-24T13:14:39.123Z");
        assert_eq!(t("2026-11-24T14:14:39+0100 x"), "2026-11-24T13:14:39Z");
        assert_eq!(t("2026-11-24T14:14:39-05 x"), "2026-11-24T19:14:39Z");
        assert_eq!(
            t("2026-11-24T14:14:39.123456+01:00 rsyslog"),
            "2026-11-24T13:14:39.123456Z"
        );
        // Without a zone: local (Berlin, +01:00 in November).
        assert_eq!(t("2026-11-24T14:14:39 x"), "2026-11-24T13:14:39Z");
        let f = find_in(berlin(), "2026-11-24 14:14:39 +0100 x", NOW).unwrap();
        assert_eq!((f.template, f.end), (Template::Iso8601, 25));
        let f = find_in(berlin(), "2026-11-24T14:14:39+01:00 x", NOW).unwrap();
        assert_eq!((f.template, f.end), (Template::Iso8601, 25));
    }

    #[test]
    fn python_logging_comma_millis() {
        let f = find_in(
            TimeZone::UTC,
            "2026-01-02 03:04:05,678 fail2ban.filter [1]: x",
            NOW,
        )
        .unwrap();
        assert_eq!(f.template, Template::Multilog);
        assert_eq!(f.time, ts("2026-01-02T03:04:05.678Z"));
        assert_eq!(f.end, 23);
    }

    #[test]
    fn epoch_only_at_line_start() {
        let t = |line: &str| time_of(TimeZone::UTC, line, NOW);
        assert_eq!(t("1700000000 x").as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(t("1700000000.5 x").as_deref(), Some("2023-11-14T22:13:20.5Z"));
        assert_eq!(t("[1700000000] x").as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(t("x 1700000000 y"), None);
        assert_eq!(t("17000000001 x"), None, "11 digits");
        assert_eq!(t("170000000 x"), None, "9 digits");
    }

    #[test]
    fn dst_gap_and_fold_in_berlin() {
        let mut zones = vec![berlin()];
        match TimeZone::get("Europe/Berlin") {
            Ok(tz) => zones.push(tz),
            Err(e) => eprintln!("tzdata Europe/Berlin unavailable ({e}); POSIX rules only"),
        }
        for tz in zones {
            let mut finder = TimeFinder::new(tz);
            let mut t = |line: &str| finder.find(line.as_bytes(), ts(NOW)).unwrap().time;
            // Spring forward 2026-03-29 02:00 CET → 03:00 CEST.
            assert_eq!(t("2026-03-29 01:59:59 x"), ts("2026-03-29T00:59:59Z"));
            assert_eq!(
                t("2026-03-29 02:30:00 x"),
                ts("2026-03-29T01:30:00Z"),
                "gap: later"
            );
            assert_eq!(t("2026-03-29 03:00:00 x"), ts("2026-03-29T01:00:00Z"));
            assert_eq!(t("2026-03-29 03:59:59 x"), ts("2026-03-29T01:59:59Z"));
            // Fall back 2026-10-25 03:00 CEST → 02:00 CET.
            assert_eq!(t("2026-10-25 01:59:59 x"), ts("2026-10-24T23:59:59Z"));
            assert_eq!(
                t("2026-10-25 02:30:00 x"),
                ts("2026-10-25T00:30:00Z"),
                "fold: earlier"
            );
            assert_eq!(t("2026-10-25 03:00:00 x"), ts("2026-10-25T02:00:00Z"));
            // Back to an hour seen before: the cache must not keep the fold's answer.
            assert_eq!(t("2026-10-25 01:00:00 x"), ts("2026-10-24T23:00:00Z"));
            let day_after = ts("2026-10-26T00:00:00Z");
            let f = finder.find(b"Oct 25 02:30:00 h x", day_after).unwrap();
            assert_eq!(f.time, ts("2026-10-25T00:30:00Z"), "syslog in the fold: earlier");
        }
    }

    #[test]
    fn memory_follows_a_format_change_mid_stream() {
        let mut finder = TimeFinder::new(TimeZone::UTC);
        let now = ts(NOW);
        let syslog = "Jul 10 12:05:53 qmail vpopmail[3076]: x";
        let tai = "@4000000059f5195c211f2234 qlogenvelope: x";
        let nginx = "1.2.3.4 - - [12/Jul/2022:00:00:08 +0200] \"GET / HTTP/1.1\" 304 5";
        let nginx2 = "10.20.30.40 - - [12/Jul/2022:00:00:09 +0200] \"GET / HTTP/1.1\" 304 5";
        let mut templates = Vec::new();
        for line in [syslog, syslog, tai, tai, tai, nginx, nginx2, syslog] {
            templates.push(finder.find(line.as_bytes(), now).unwrap().template);
        }
        use Template::*;
        assert_eq!(
            templates,
            [
                Syslog, Syslog, Tai64n, Tai64n, Tai64n, AccessLog, AccessLog, Syslog
            ]
        );
        // Most hits first; a tie keeps the order of Template::ALL.
        assert_eq!(finder.hits(), [(Tai64n, 3), (Syslog, 3), (AccessLog, 2)]);
        let f = finder.find(nginx2.as_bytes(), now).unwrap();
        assert_eq!(f.start, 17);
        assert_eq!(f.time, ts("2022-07-11T22:00:09Z"));
    }

    #[test]
    fn garbage_lines_give_none() {
        let mut finder = TimeFinder::new(berlin());
        let now = ts(NOW);
        for line in [
            &b""[..],
            b"@4000zzzz",
            b"@4000000059f5195c211f22zz x",
            b"Foo 99 99:99:99",
            b"Jul 32 12:00:00 x",
            b"Feb 30 12:00:00 x",
            b"2026-13-01 00:00:00 x",
            b"2026-02-30 00:00:00 x",
            b"2026-01-01 24:00:00 x",
            b"2026-01-01 23:60:00 x",
            b"x2026-01-01 10:00:00 x",
            b"2026-01-01 10:00:001",
            b"12:34:56 only a time",
            b"\xff\xfe\x00\x80 \xc3",
            b"Jul 10 12:05:5",
            b"::::::::::",
            b"aa:bb:cc 1.2.3.4",
        ] {
            assert_eq!(finder.find(line, now), None, "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn no_panic_on_any_prefix_or_noise() {
        let fixture = include_str!("../../tests/data/time/samples.tsv");
        let mut finder = TimeFinder::new(berlin());
        let now = ts(NOW);
        for row in fixture.lines().filter(|l| !l.starts_with('#')) {
            let line = row.rsplit('\t').next().unwrap().as_bytes();
            for n in 0..=line.len() {
                let _ = finder.find(&line[..n], now);
                let _ = finder.find(&line[n..], now);
            }
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let alphabet = b"0123456789:-/ T.,+@Z[]JulFebMaraf\xff";
        for _ in 0..20_000 {
            let mut line = Vec::new();
            for _ in 0..(x % 40) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                line.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            if let Some(f) = finder.find(&line, now) {
                assert!(f.start < f.end && f.end <= line.len());
            }
        }
    }

    #[test]
    fn pinned_patterns() {
        let now = ts(NOW);
        let tai = b"@4000000059f5195c211f2234 qlogenvelope: x";
        let local = b"2022-02-18 16:23:03.719762500 helo-dns-check: x";
        let syslog = b"Jul 10 12:05:53 qmail vpopmail[3076]: x";
        let nginx = b"1.2.3.4 - - [12/Jul/2022:00:00:08 +0200] \"GET /\"";
        let pinned = |spec: &str| TimeFinder::pinned(spec, TimeZone::UTC).unwrap();

        let mut p = pinned("{^LN-BEG}TAI64N");
        assert!(p.find(tai, now).is_some());
        assert!(p.find(local, now).is_none());
        assert!(pinned("TAI64N").find(tai, now).is_some());

        for spec in ["^%%Y-%%m-%%d %%H:%%M:%%S", "%Y-%m-%d %H:%M:%S", "ISO8601"] {
            let mut p = pinned(spec);
            assert_eq!(p.find(local, now).unwrap().template, Template::Multilog, "{spec}");
            assert!(p.find(syslog, now).is_none(), "{spec}");
        }
        let mut p = pinned("%%b %%d %%H:%%M:%%S");
        assert!(p.find(syslog, now).is_some());
        assert!(p.find(local, now).is_none());
        let bracketed = b"[12-Jul-2022 08:56:39 +0200]: x";
        assert!(
            pinned("%%d-%%b-%%Y %%H:%%M:%%S %%z")
                .find(bracketed, now)
                .is_some()
        );
        assert!(
            pinned("%%Y/%%m/%%d %%H:%%M:%%S")
                .find(b"2015/05/27 15:45:58 x", now)
                .is_some()
        );
        let mut p = pinned("%%d/%%b/%%Y:%%H:%%M:%%S %%z");
        assert_eq!(p.find(nginx, now).unwrap().template, Template::AccessLog);
        assert!(p.find(syslog, now).is_none());
        assert!(pinned("EPOCH").find(b"1700000000 x", now).is_some());
        assert!(pinned("{^LN-BEG}EPOCH").find(b"1700000000 x", now).is_some());

        // Anchored auto-detection: any format, only at line start.
        let mut p = pinned("{^LN-BEG}");
        assert!(p.find(syslog, now).is_some());
        assert!(p.find(bracketed, now).is_some());
        assert!(p.find(nginx, now).is_none());

        // fail2ban's nginx filters: three lines, merged; the date may sit inside `[...]`.
        let mut p = pinned(
            "{^LN-BEG}%%ExY(?P<_sep>[-/.])%%m(?P=_sep)%%d[T ]%%H:%%M:%%S(?:[.,]%%f)?(?:\\s*%%z)?\n\
             ^[^\\[]*\\[({DATE})\n\
             {^LN-BEG}",
        );
        assert_eq!(p.find(nginx, now).unwrap().template, Template::AccessLog);
        let error_log = b"2015/05/27 15:45:58 [error] 7#7: *1 user \"x\": password mismatch";
        assert_eq!(p.find(error_log, now).unwrap().template, Template::Slashed);

        let mut p = pinned("{NONE}");
        assert!(!p.expects_dates());
        assert!(p.find(syslog, now).is_none());
        assert!(TimeFinder::new(TimeZone::UTC).expects_dates());
    }

    /// `datepattern` values of fail2ban 1.x's own filter.d files (`%%` as written there).
    #[test]
    fn datepatterns_of_fail2ban_filters() {
        for ok in [
            "{^LN-BEG}",                             // sshd, postfix, ...
            "{^LN-BEG}TAI64N\n{^LN-BEG}",            // dovecot
            "{^LN-BEG}Epoch\n{^LN-BEG}",             // nsd, squid, portsentry
            "EPOCH",                                 // selinux-common
            "^%%Y-%%m-%%d %%H:%%M:%%S",              // centreon
            "^{DATE}",                               // recidive
            "^[^\\[]*\\[({DATE})\n{^LN-BEG}",        // apache-badbots, php-url-fopen
            "^[^\\[]*(\\[{DATE}\\s*\\])\n{^LN-BEG}", // apache-fakegooglebot
            "{^LN-BEG}%%ExY(?P<_sep>[-/.])%%m(?P=_sep)%%d[T ]%%H:%%M:%%S(?:[.,]%%f)?(?:\\s*%%z)?\n\
             ^[^\\[]*\\[({DATE})\n{^LN-BEG}", // nginx-bad-request
        ] {
            assert!(TimeFinder::pinned(ok, TimeZone::UTC).is_ok(), "{ok}");
        }
        for unsupported in [
            "^\\[%%d/%%b/%%Y %%H:%%M:%%S\\]",                         // kerio
            "^(?:%%Y-)?%%m-%%d[ T]%%H:%%M:%%S(?:\\.%%f)?\n{^LN-BEG}", // freeswitch
            "{^LN-BEG}%%b-%%d-%%Exy %%H:%%M:%%S\n{^LN-BEG}",          // assp
            "^t=%%Y-%%m-%%dT%%H:%%M:%%S%%z",                          // grafana
        ] {
            assert!(
                TimeFinder::pinned(unsupported, TimeZone::UTC).is_err(),
                "{unsupported}"
            );
        }
        let mut epoch = TimeFinder::pinned("{^LN-BEG}Epoch\n{^LN-BEG}", TimeZone::UTC).unwrap();
        let f = epoch.find(b"1700000000.5 nsd[1]: x", ts(NOW)).unwrap();
        assert_eq!(f.template, Template::Epoch);
    }

    #[test]
    fn unsupported_datepattern_names_the_known_ones() {
        let err = TimeFinder::pinned("%%Y%%m%%d-%%H%%M", TimeZone::UTC).unwrap_err();
        let TimeError::UnsupportedDatePattern { pattern, known } = &err;
        assert_eq!(pattern, "%%Y%%m%%d-%%H%%M");
        assert_eq!(*known, KNOWN_DATEPATTERNS);
        let msg = err.to_string();
        for part in [
            "`%%Y%%m%%d-%%H%%M`",
            "TAI64N",
            "%b %d %H:%M:%S",
            "{^LN-BEG}",
            "Remove",
        ] {
            assert!(msg.contains(part), "{part} missing from: {msg}");
        }
        assert!(TimeFinder::pinned("", TimeZone::UTC).is_err());
    }

    #[test]
    fn cut_at_start_borrows_and_in_middle_joins() {
        let now = ts(NOW);
        let mut finder = TimeFinder::new(TimeZone::UTC);
        let mut scratch = Vec::new();

        let line = b"Jul 10 12:05:53   qmail vpopmail[3076]: x";
        let f = finder.find(line, now).unwrap();
        let out = cut(line, &f, &mut scratch);
        assert_eq!(out, b"qmail vpopmail[3076]: x");
        assert_eq!(out.as_ptr(), line[18..].as_ptr(), "borrowed, not copied");

        let line = b"93.155.70.28 - - [12/Jul/2022:00:00:08 +0200] \"GET / HTTP/1.1\" 304 5";
        let f = finder.find(line, now).unwrap();
        assert_eq!(
            cut(line, &f, &mut scratch),
            b"93.155.70.28 - - [] \"GET / HTTP/1.1\" 304 5"
        );

        let line = b"[12-Jul-2022 08:56:39 +0200]: <3lq5onb8> Failed login";
        let f = finder.find(line, now).unwrap();
        assert_eq!(cut(line, &f, &mut scratch), b"[]: <3lq5onb8> Failed login");

        let stale = Found {
            start: 5,
            end: 500,
            ..f
        };
        assert_eq!(cut(b"short", &stale, &mut scratch), b"short");
    }

    #[test]
    fn leftmost_date_wins() {
        let line = "2026-01-02 03:04:05 relay says Jul 10 12:05:53 and 2020/01/01 00:00:00";
        let f = find_in(TimeZone::UTC, line, NOW).unwrap();
        assert_eq!((f.template, f.start), (Template::Multilog, 0));
        let line = "host: on Jul 10 12:05:53 then 2026-01-02T03:04:05Z";
        let f = find_in(TimeZone::UTC, line, NOW).unwrap();
        assert_eq!((f.template, f.start, f.end), (Template::Syslog, 9, 24));
    }

    #[test]
    fn fixed_offset_zone_is_used_for_local_times() {
        let tz = TimeZone::fixed(tz::offset(-5));
        let t = time_of(tz, "2015/05/27 15:45:58 x", NOW);
        assert_eq!(t.as_deref(), Some("2015-05-27T20:45:58Z"));
    }

    /// ns/line for a few line kinds; run with
    /// `cargo test --release --lib filter::time -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn measure_ns_per_line() {
        use std::hint::black_box;
        use std::time::Instant;
        let n = 2_000;
        let base = 1_700_000_000i64;
        let syslog: Vec<String> = (0..n)
            .map(|i| {
                let t = Timestamp::from_second(base + i / 4).unwrap();
                let dt = TimeZone::UTC.to_datetime(t);
                format!(
                    "{} qmail vpopmail[3076]: vchkpw-submission: password fail (pass: 'x') u@d.xy:1.2.3.4",
                    dt.strftime("%b %e %H:%M:%S")
                )
            })
            .collect();
        let tai: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    "@{:016x}{:08x} qlogenvelope: result=rejected code=553 remoteip=95.140.112.191",
                    (1u64 << 62) + 10 + (base + i / 4) as u64,
                    (i * 7919) % 1_000_000_000
                )
            })
            .collect();
        let nginx: Vec<String> = (0..n)
            .map(|i| {
                let t = Timestamp::from_second(base + i / 4).unwrap();
                let dt = TimeZone::fixed(tz::offset(2)).to_datetime(t);
                format!(
                    "93.155.{}.28 - - [{} +0200] \"GET / HTTP/1.1\" 304 5 \"-\" \"Mozilla/5.0\"",
                    i % 200,
                    dt.strftime("%d/%b/%Y:%H:%M:%S")
                )
            })
            .collect();
        let plain = [
            "Failed password for invalid user admin from 1.2.3.4 port 22 ssh2",
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= \
             rhost=1.2.3.4  user=root",
            "imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<u@d.xy>, \
             method=PLAIN, rip=1.2.3.4, lip=5.6.7.8, session=<k2t5+c7>",
            "Connection closed by 1.2.3.4 port 51234 [preauth]",
        ];
        let plain: Vec<String> = (0..n as usize)
            .map(|i| plain[i % plain.len()].to_string())
            .collect();
        let now = Timestamp::from_second(base + n).unwrap();
        for (name, tz, lines) in [
            ("syslog", berlin(), &syslog),
            ("TAI64N", TimeZone::UTC, &tai),
            ("nginx access", berlin(), &nginx),
            ("no timestamp", berlin(), &plain),
        ] {
            let mut finder = TimeFinder::new(tz);
            let rounds = 500;
            let mut best = f64::MAX;
            let mut found = 0usize;
            for _ in 0..5 {
                let start = Instant::now();
                for _ in 0..rounds {
                    for line in lines.iter() {
                        let hit = finder.find(black_box(line.as_bytes()), now);
                        found += black_box(hit).is_some() as usize;
                    }
                }
                let per = start.elapsed().as_nanos() as f64 / (rounds * lines.len()) as f64;
                best = best.min(per);
            }
            println!("{name:>14}: {best:6.1} ns/line, best of 5 ({found} found)");
        }
    }
}
