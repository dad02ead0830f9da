//! Timestamps in text log lines, found as fail2ban finds them: its date templates (default list
//! or a filter's `datepattern`), its search order and template memory (datedetector.py), its
//! date group cut out of the line, its reading of the fields (strptime.py). Reading the clock and
//! choosing the time zone are the caller's business; nothing here does I/O.
//!
//! - `template`: a datepattern line → a compiled template (boundaries, flags, date group); the
//!   default list.
//! - `regex` and `fields`: the matcher; fields read their digits directly.
//! - `convert`: fields → a time ("now" for missing years and days, zones, local time).
//! - `same_date`: a template's whole search kept from its first anchor, for the next line that
//!   repeats the bytes it read (an access log's lines of one second), with its time.
//! - here: `TimeFinder`, fail2ban's `DateDetector` — which template to try first, which match
//!   wins, how the list reorders itself as templates hit.
//!
//! Where banjo differs from fail2ban on purpose: TAI64N labels are read as daemontools'
//! tai64nlocal reads them (label − 2^62 − 10 s, with nanoseconds; fail2ban drops the 10 s and
//! the fraction), `%f` takes up to nine digits (tai64nlocal writes nine; Python's stops at six),
//! a fraction is kept in the time (fail2ban drops it), and a leap second `:60` is invalid as in
//! Python.
mod convert;
mod fields;
mod regex;
mod same_date;
mod template;
mod vm;

use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use convert::Clock;
use fields::Key;
use regex::Spans;
use template::{Convert, Hit, LINE_BEGIN, Template};
use vm::Vm;

/// A timestamp found in a line: when (None for a date that names no real time, e.g. Feb 30),
/// and which bytes (`line[start..end]`) are the date text fail2ban cuts out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    pub time: Option<Timestamp>,
    pub start: usize,
    pub end: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum TimeError {
    #[error(
        "datepattern `{pattern}` is not one banjo understands: {reason}. Remove the datepattern line to let \
         banjo detect the date itself, or write it in fail2ban's datepattern syntax (e.g. \
         `{{^LN-BEG}}%Y-%m-%d %H:%M:%S`, `^[^\\[]*\\[({{DATE}})`, `{{^LN-BEG}}TAI64N`, `EPOCH`, `{{NONE}}`)"
    )]
    UnsupportedDatePattern { pattern: String, reason: String },
}

/// One template in the finder's list, with what fail2ban's `DateDetectorTemplate` counts.
#[derive(Clone, Debug)]
struct Slot {
    template: Arc<Template>,
    hits: u64,
    /// The clock (Unix seconds) when it last won.
    last_used: f64,
    /// Where in the line it last matched.
    distance: usize,
}

impl Slot {
    fn new(template: Arc<Template>) -> Slot {
        Slot {
            template,
            hits: 0,
            last_used: 0.0,
            distance: 0x7fff_ffff,
        }
    }

    /// fail2ban's preference when reordering: hits, weighted, the closer to the start the better.
    fn weight(&self) -> f64 {
        self.hits as f64 * self.template.weight / self.distance.max(1) as f64
    }
}

/// The last search of the remembered template, so that a line whose first bytes repeat the
/// last one's (the lines of one second) skips it: a search's answer depends only on the bytes it
/// read, and the time only on those and "now".
#[derive(Clone, Debug, Default)]
struct Repeat {
    /// The template (its address), the search's start and end (usize::MAX: the line's end).
    template: usize,
    from: usize,
    to: usize,
    /// Where the line ended for that search, and how far the search read.
    len: usize,
    read: usize,
    prefix: Vec<u8>,
    /// Searches in a row it did not answer: an access log's lines start with addresses, so
    /// its prefix never repeats and keeping it is wasted work (`remembered`).
    misses: u32,
    hit: Option<Hit>,
    values: Vec<regex::Span>,
    vals: Vec<i32>,
    /// The time found, and the "now" it was found for.
    time: Option<(Timestamp, Option<Timestamp>)>,
}

impl Repeat {
    fn applies(&self, template: usize, from: usize, to: usize, line: &[u8]) -> bool {
        if self.template != template || self.from != from || self.to != to {
            return false;
        }
        let len = to.min(line.len());
        if self.read > self.len {
            // The search saw the end: the line must end where it did.
            len == self.len && line[..len] == self.prefix[..]
        } else {
            len >= self.read && line[..self.read] == self.prefix[..]
        }
    }
}

/// `Repeat` stops keeping searches after this many misses in a row, and then keeps one search
/// in this many, to notice when lines start to repeat again.
const REPEAT_MISSES: u32 = 8;
const REPEAT_RETRY: u32 = 64;

/// The last conversion of read fields to a time. The time depends only on the template, the
/// fields' values (those present) and "now", unless a field needs its text (`FROM_TEXT`): lines
/// of one second whose date is not where the last one's was (an access log's addresses differ in
/// length, so `Repeat` cannot apply) skip the calendar work. So do the lines of the next second
/// of a date that says its year, month, day and offset (`seconds`).
#[derive(Clone, Debug, Default)]
struct SameFields {
    template: usize,
    now: Option<Timestamp>,
    /// Per field: its value, ABSENT when the field did not take part.
    vals: Vec<i32>,
    time: Option<Timestamp>,
    /// The seconds field, when the time moves with it second for second: every other field
    /// is the same and nothing is assumed from "now" or a zone (`convert::seconds_alone`).
    seconds: Option<usize>,
}

/// A field that did not take part, in `SameFields::vals` (no field's value is this).
const ABSENT: i32 = i32::MIN + 2;

// `SameFields::get` marks the fields that differ as bits of a u64.
const _: () = assert!(regex::MAX_VALUES <= 64);

fn taken(span: regex::Span, val: i32) -> i32 {
    if span.get().is_some() { val } else { ABSENT }
}

impl SameFields {
    /// The time of these fields, when the last conversion tells it without the calendar.
    fn get(
        &mut self,
        template: usize,
        now: Timestamp,
        values: &[regex::Span],
        vals: &[i32],
    ) -> Option<Option<Timestamp>> {
        if self.template != template || self.now != Some(now) || self.vals.len() != vals.len() {
            return None;
        }
        // Which fields differ, and whether one needs its text: without a branch per field.
        let (mut differ, mut text) = (0u64, false);
        for (i, ((&span, &val), &old)) in values.iter().zip(vals).zip(&self.vals).enumerate() {
            let val = taken(span, val);
            differ |= u64::from(val != old) << i;
            text |= val == fields::FROM_TEXT;
        }
        if text {
            return None;
        }
        if differ == 0 {
            return Some(self.time);
        }
        let i = self.seconds.filter(|&i| differ == 1 << i)?;
        let second = taken(values[i], vals[i]);
        if !(0..60).contains(&second) {
            return None;
        }
        // The last time was a real one (an invalid date has no seconds to move).
        let time = self.time?;
        let time = time
            .checked_add(jiff::SignedDuration::from_secs(i64::from(second - self.vals[i])))
            .ok()?;
        self.vals[i] = second;
        self.time = Some(time);
        Some(Some(time))
    }

    fn put(
        &mut self,
        template: usize,
        now: Timestamp,
        keys: &[Key],
        values: &[regex::Span],
        vals: &[i32],
        time: Option<Timestamp>,
    ) {
        self.template = template;
        self.now = Some(now);
        self.vals.clear();
        self.vals
            .extend(values.iter().zip(vals).map(|(&span, &val)| taken(span, val)));
        self.time = time;
        self.seconds = time.and_then(|_| convert::seconds_alone(keys, values, vals));
    }
}

/// Position memory: where the last date started or ended and the bytes around it.
#[derive(Clone, Copy, Debug)]
struct Edge {
    at: usize,
    before: Option<u8>,
    after: Option<u8>,
}

/// Finds timestamps in the lines of one source (fail2ban's `DateDetector`).
#[derive(Clone, Debug)]
pub struct TimeFinder {
    slots: Vec<Slot>,
    clock: Clock,
    vm: Vm,
    /// Index of the template that won last (`usize::MAX`: none yet).
    last: usize,
    last_start: Edge,
    last_end: Edge,
    first_unused: usize,
    repeat: Repeat,
    /// The last line's result came from `repeat`.
    repeated: bool,
    same_fields: SameFields,
}

impl TimeFinder {
    /// fail2ban's default templates (its whole list, anywhere in the line); `tz` is the zone of
    /// local times.
    pub fn new(tz: TimeZone) -> Self {
        Self::with(tz, template::defaults().to_vec())
    }

    /// What a filter's `datepattern` says, line by line as fail2ban's `setDatePattern`:
    /// `{^LN-BEG}` (the defaults anchored at the line start), `{DEFAULT}`, `{NONE}` (no date),
    /// a pattern with `{DATE}` (each default in its place), `EPOCH`, `LEPOCH`, `TAI64N`, or a
    /// pattern of `%` fields and regex text. A `%%` before a field is read as `%`, so a pattern
    /// copied from a fail2ban file works in banjo's config as well.
    pub fn pinned(spec: &str, tz: TimeZone) -> Result<Self, TimeError> {
        let fail = |reason: String| TimeError::UnsupportedDatePattern {
            pattern: spec.trim().to_string(),
            reason,
        };
        let mut list: Vec<Arc<Template>> = Vec::new();
        let add = |list: &mut Vec<Arc<Template>>, t: Arc<Template>| {
            if !list.iter().any(|x| x.name == t.name) {
                list.push(t);
            }
        };
        for line in spec.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let line = unescape_percent(line);
            let key = if line.contains('%') {
                line.clone()
            } else {
                line.to_ascii_uppercase()
            };
            match key.as_str() {
                "{^LN-BEG}" | "{DEFAULT}" => {
                    let line_begin = key == "{^LN-BEG}";
                    for t in template::defaults() {
                        if !line_begin || t.flags & LINE_BEGIN != 0 {
                            add(&mut list, t.clone());
                        }
                    }
                }
                _ if template::has_date_token(&line) => {
                    for t in template::with_date(&line).map_err(|e| fail(e.0))? {
                        add(&mut list, Arc::new(t));
                    }
                }
                _ => add(
                    &mut list,
                    Arc::new(template::from_pattern(&line).map_err(|e| fail(e.0))?),
                ),
            }
        }
        if list.is_empty() {
            return Err(fail("it is empty".into()));
        }
        Ok(Self::with(tz, list))
    }

    fn with(tz: TimeZone, templates: Vec<Arc<Template>>) -> Self {
        let mut vm = Vm::default();
        vm.share_colons = templates.len() > 1;
        vm.same_date_on = templates.len() == 1;
        TimeFinder {
            slots: templates.into_iter().map(Slot::new).collect(),
            clock: Clock::new(tz),
            vm,
            last: usize::MAX,
            last_start: Edge {
                at: 1,
                before: None,
                after: None,
            },
            last_end: Edge {
                at: 0x7fff_ffff,
                before: None,
                after: None,
            },
            first_unused: 0,
            repeat: Repeat::default(),
            repeated: false,
            same_fields: SameFields::default(),
        }
    }

    /// False for `{NONE}`: the lines carry no date, their time is the entry's own.
    pub fn expects_dates(&self) -> bool {
        self.slots.iter().any(|s| s.template.convert != Convert::None)
    }

    /// The timestamp in `line`, or None. `now` stands for fail2ban's clock: it completes dates
    /// without a year or a day, and it is the time of an empty date (`{NONE}`).
    pub fn find(&mut self, line: &[u8], now: Timestamp) -> Option<Found> {
        let clock = now.as_second() as f64;
        let (hit, i) = self.match_time(line, clock)?;
        let (start, end) = hit.date;
        if self.repeated
            && let Some((at, time)) = self.repeat.time
            && at == now
        {
            return Some(Found { time, start, end });
        }
        let same_date = self.vm.same_date_line;
        if let Some(k) = same_date
            && let Some((at, time)) = self.vm.same_date[k].time
            && at == now
        {
            return Some(Found { time, start, end });
        }
        let template = &self.slots[i].template;
        let time = match template.convert {
            Convert::None => Some(now),
            Convert::Tai64n => line
                .get(start + 1..end)
                .and_then(|hex| hex.try_into().ok())
                .and_then(tai64n)
                .and_then(|(s, n)| Timestamp::new(s, n as i32).ok()),
            Convert::Fields => {
                let keys = template.keys();
                let n = keys.len();
                let spans = &self.vm.spans;
                let id = Arc::as_ptr(template) as usize;
                let (values, vals) = (&spans.values[..n], &spans.vals[..n]);
                if let Some(time) = self.same_fields.get(id, now, values, vals) {
                    time
                } else {
                    let time = self.clock.fields_time(keys, values, vals, line, now);
                    self.same_fields.put(id, now, keys, values, vals, time);
                    time
                }
            }
        };
        if self.repeated {
            self.repeat.time = Some((now, time));
        }
        if let Some(k) = same_date {
            self.vm.same_date[k].time = Some((now, time));
        }
        Some(Found { time, start, end })
    }

    /// The name of the template that found the last date.
    pub fn last_template(&self) -> Option<&str> {
        self.slots.get(self.last).map(|s| s.template.name.as_str())
    }

    /// Templates that found dates so far, with their line counts, most first.
    pub fn hits(&self) -> Vec<(String, u64)> {
        let mut v: Vec<_> = self
            .slots
            .iter()
            .filter(|s| s.hits > 0)
            .map(|s| (s.template.name.clone(), s.hits))
            .collect();
        v.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
        v
    }

    /// fail2ban's `matchTime`: the template that won last, where it won last; else every
    /// template in list order, a match far into the line kept only until a closer one turns up.
    fn match_time(&mut self, line: &[u8], clock: f64) -> Option<(Hit, usize)> {
        let n = self.slots.len();
        self.vm.new_line();
        let mut winner: Option<(Hit, usize)> = None;
        let mut reserve: Option<(Hit, usize, Spans)> = None;
        let mut skip = usize::MAX;
        let i = self.last;
        self.repeated = false;
        if i < n {
            let anchored = self.slots[i].template.line_anchored();
            let (from, to) = if anchored {
                skip = i;
                (0, usize::MAX)
            } else {
                let (s, e) = (self.last_start, self.last_end);
                let left = before(line, s.at) == s.before || (at(line, s.at) == s.after && !alnum(s.after));
                let right = at(line, e.at) == e.after || (before(line, e.at) == e.before && !alnum(e.before));
                if left && right {
                    (s.at, e.at)
                } else {
                    skip = i;
                    (0, usize::MAX)
                }
            };
            let hit = self.remembered(i, from, to, line);
            if let Some(h) = hit {
                if n == 1 || anchored || (h.start == self.last_start.at && h.end == self.last_end.at) {
                    winner = Some((h, i));
                } else {
                    reserve = Some((h, i, self.vm.spans.clone()));
                }
            }
        }
        if winner.is_none() {
            // The answer comes from the full search: nothing to remember with the repeat.
            self.repeated = false;
            let mut known: Option<bool> = None;
            let mut digit_colon = || {
                *known.get_or_insert_with(|| {
                    memchr::memchr_iter(b':', line).any(|q| vm::digit_colon_at(line, q))
                })
            };
            for k in 0..n {
                if k == skip {
                    continue;
                }
                let t = &self.slots[k].template;
                if !t.may_match(line, &mut digit_colon) {
                    continue;
                }
                let Some(h) = t.search(line, 0, line.len(), &mut self.vm) else {
                    continue;
                };
                // The last template, a line-anchored one, or one at the line start wins at once
                // (fail2ban's "next template still unused" test ends the same way at distance 0).
                let far = h.start > self.slots[k].distance || h.start > self.last_start.at;
                if k + 1 >= n || t.line_anchored() || !far {
                    winner = Some((h, k));
                    break;
                }
                if reserve.as_ref().is_none_or(|(r, _, _)| h.start < r.start) {
                    reserve = Some((h, k, self.vm.spans.clone()));
                }
            }
            if winner.is_none()
                && let Some((h, k, spans)) = reserve
            {
                self.vm.spans = spans;
                winner = Some((h, k));
            }
        }
        let (h, mut i) = winner?;
        let slot = &mut self.slots[i];
        slot.hits += 1;
        slot.last_used = clock;
        slot.distance = h.start;
        if self.first_unused == i {
            self.first_unused += 1;
        }
        self.last_start = Edge {
            at: h.start,
            before: before(line, h.start),
            after: at(line, h.start),
        };
        self.last_end = Edge {
            at: h.end,
            before: before(line, h.end),
            after: at(line, h.end),
        };
        if i != 0 && i != self.last {
            i = self.reorder(i);
        }
        self.last = i;
        Some((h, i))
    }

    /// The remembered template searched in `line[from..to]`, or the same answer as for the last
    /// line when the bytes that answer depended on repeat.
    fn remembered(&mut self, i: usize, from: usize, to: usize, line: &[u8]) -> Option<Hit> {
        let t = &self.slots[i].template;
        if t.convert == Convert::Tai64n {
            // TAI64N labels carry nanoseconds: no two lines repeat one.
            return t.search(line, from, to.min(line.len()), &mut self.vm);
        }
        let id = Arc::as_ptr(t) as usize;
        self.repeat.misses += 1;
        if self.repeat.misses > REPEAT_MISSES + 1 && self.repeat.misses < REPEAT_MISSES + REPEAT_RETRY {
            // Resting: an access log's prefixes do not repeat, and asking costs a branch the
            // processor cannot foresee (the bounded and the whole-line search alternate).
            // Nothing is kept: the time found must not be stored with the kept prefix either.
            self.repeated = false;
            return t.search(line, from, to.min(line.len()), &mut self.vm);
        }
        if self.repeat.applies(id, from, to, line) {
            self.repeat.misses = 0;
            self.repeated = true;
            let n = self.repeat.values.len();
            self.vm.spans.values[..n].copy_from_slice(&self.repeat.values);
            self.vm.spans.vals[..n].copy_from_slice(&self.repeat.vals);
            return self.repeat.hit;
        }
        if self.repeat.misses > REPEAT_MISSES {
            if self.repeat.misses < REPEAT_MISSES + REPEAT_RETRY {
                self.repeated = false;
                return t.search(line, from, to.min(line.len()), &mut self.vm);
            }
            // This search is kept; the count starts over so that it stays bounded.
            self.repeat.misses = REPEAT_MISSES;
        }
        self.repeated = true;
        let hit = t.search(line, from, to.min(line.len()), &mut self.vm);
        let len = to.min(line.len());
        let r = &mut self.repeat;
        r.template = id;
        (r.from, r.to, r.len, r.read) = (from, to, len, self.vm.read);
        r.prefix.clear();
        r.prefix.extend_from_slice(&line[..self.vm.read.min(len)]);
        r.hit = hit;
        r.values.clear();
        r.values
            .extend_from_slice(&self.vm.spans.values[..t.keys().len()]);
        r.vals.clear();
        r.vals.extend_from_slice(&self.vm.spans.vals[..t.keys().len()]);
        r.time = None;
        hit
    }

    /// fail2ban's `_reorderTemplate`: a template that hits moves up, fast (to the first unused
    /// place, or halfway) if it outweighs the one there, else one place, else not at all.
    fn reorder(&mut self, num: usize) -> usize {
        let weight = self.slots[num].weight();
        let untime = self.slots[num].last_used - 300.0;
        let movable =
            |slots: &[Slot], pos: usize| weight > slots[pos].weight() || untime > slots[pos].last_used;
        let mut pos = if self.first_unused < num {
            self.first_unused
        } else {
            num / 2
        };
        if !movable(&self.slots, pos) {
            if pos == num - 1 {
                return num;
            }
            pos = num - 1;
            if !movable(&self.slots, pos) {
                return num;
            }
        }
        let slot = self.slots.remove(num);
        self.slots.insert(pos, slot);
        while self.first_unused < self.slots.len() && self.slots[self.first_unused].hits > 0 {
            self.first_unused += 1;
        }
        pos
    }
}

/// Python's `line[i-1:i]`: the byte before `i`, none at the start or past the end.
fn before(line: &[u8], i: usize) -> Option<u8> {
    i.checked_sub(1).and_then(|j| line.get(j)).copied()
}

/// Python's `line[i:i+1]`.
fn at(line: &[u8], i: usize) -> Option<u8> {
    line.get(i).copied()
}

/// Python's `str.isalnum()` of one character (non-ASCII counted as a letter).
fn alnum(b: Option<u8>) -> bool {
    b.is_some_and(|b| b.is_ascii_alphanumeric() || !b.is_ascii())
}

/// `%%` before a field letter read as `%` (fail2ban files escape `%` as `%%`).
fn unescape_percent(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find("%%") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        if after.starts_with(|c: char| c.is_ascii_alphabetic()) {
            out.push('%');
        } else {
            out.push_str("%%");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The line with the date text cut out, as fail2ban matches it: the text before and after,
/// joined (`[12-Jul-2022 08:56:39 +0200]: x` → `[]: x`; `Jul 10 12:05:53 host x` →
/// ` host x`). A date at the line start costs no copy (a slice of `line`); otherwise the parts
/// are joined in `scratch`, which is cleared first and keeps its capacity. A `found` that does
/// not fit `line` gives `line` unchanged.
pub fn cut<'a>(line: &'a [u8], found: &Found, scratch: &'a mut Vec<u8>) -> &'a [u8] {
    let (Some(pre), Some(post)) = (line.get(..found.start), line.get(found.end..)) else {
        return line;
    };
    if found.start > found.end {
        return line;
    }
    if pre.is_empty() {
        return post;
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

#[cfg(test)]
mod tests;
