//! A template's whole search, kept from the first anchor byte it found: an access log's lines
//! of one second repeat the bytes that search read (the date and the bytes around it) after
//! addresses of other lengths, so the next such line takes the kept answer, moved, and the time
//! found for it, without an attempt or a conversion.
//!
//! Why the answer is the search's: from the first anchor on, a search reads only the bytes
//! from the one before its first start to the furthest it read (and, if it read past the end,
//! where the line ends), and it tries the same starts when the first one is as far before the
//! anchor (`back`) and starts the line or not alike. Before the anchor it tried nothing: a
//! search tries starts only around anchors, and this is the first one after `from`.
use jiff::Timestamp;

use super::regex::{MAX_VALUES, Span, Spans};
use super::template::Hit;
use super::vm::Code;

#[derive(Clone, Debug)]
pub(super) struct SameDate {
    /// The code searched (its address); 0: nothing kept.
    code: usize,
    /// The anchor the answer came from, in the kept line; how far before it the starts began
    /// (`hi` or less, when `from` cut them); whether the first start was the line's.
    anchor: usize,
    back: usize,
    at_line_start: bool,
    /// The bytes read, from the one before the first start (none at the line start) to the
    /// furthest read within the line; `lead` of them are before the anchor.
    bytes: Vec<u8>,
    lead: usize,
    /// The line's length after the anchor, when the search read past its end.
    rest: Option<usize>,
    hit: Hit,
    read: usize,
    steps_left: u32,
    /// The date group's capture (the one capture a template's search reads).
    date: Span,
    /// The values' spans and values (`v` of them): whole arrays, copied without a call.
    v: usize,
    values: [Span; MAX_VALUES],
    vals: [i32; MAX_VALUES],
    /// The time found for the kept answer, and the "now" it was found for (`TimeFinder::find`).
    pub(super) time: Option<(Timestamp, Option<Timestamp>)>,
    /// Searches it answered (tests count them).
    #[cfg(test)]
    pub(super) answers: u64,
}

/// The kept search and the one asked for, as `keep` and `answer` compare them.
pub(super) struct Search<'a> {
    pub(super) code: &'a Code,
    /// The line as the search sees it (cut at its end bound).
    pub(super) line: &'a [u8],
    pub(super) from: usize,
    /// The first anchor at or after `from`, and how far before an anchor a match may start.
    pub(super) anchor: usize,
    pub(super) hi: usize,
}

impl Search<'_> {
    /// Which kept answer may be this search's: a search bounded where the last date was and
    /// one over the whole line alternate in an access log, each with its own.
    pub(super) fn kind(&self) -> usize {
        usize::from(self.from != 0)
    }

    fn back(&self) -> usize {
        self.hi.min(self.anchor - self.from)
    }
}

impl Default for SameDate {
    fn default() -> Self {
        SameDate {
            code: 0,
            anchor: 0,
            back: 0,
            at_line_start: false,
            bytes: Vec::new(),
            lead: 0,
            rest: None,
            hit: Hit::default(),
            read: 0,
            steps_left: 0,
            date: Span::NONE,
            v: 0,
            values: [Span::NONE; MAX_VALUES],
            vals: [0; MAX_VALUES],
            time: None,
            #[cfg(test)]
            answers: 0,
        }
    }
}

impl SameDate {
    /// Keeps the answer a search found around its first anchor (`read`, `steps_left`, `spans`:
    /// the machine's after it).
    pub(super) fn keep(
        &mut self,
        s: &Search,
        hit: Hit,
        date_group: u8,
        read: usize,
        steps_left: u32,
        spans: &Spans,
    ) {
        let back = s.back();
        let first = s.anchor - back;
        let lo = first.saturating_sub(1);
        let hi = read.max(s.anchor + 2).min(s.line.len());
        self.code = std::ptr::from_ref(s.code) as usize;
        self.anchor = s.anchor;
        self.back = back;
        self.at_line_start = first == 0;
        self.bytes.clear();
        self.bytes.extend_from_slice(&s.line[lo..hi]);
        self.lead = s.anchor - lo;
        self.rest = (read.max(s.anchor + 2) > s.line.len()).then(|| s.line.len() - s.anchor);
        self.hit = hit;
        self.read = read;
        self.steps_left = steps_left;
        self.date = spans.caps[usize::from(date_group)];
        self.v = s.code.values().min(MAX_VALUES);
        self.values = spans.values;
        self.vals = spans.vals;
        self.time = None;
    }

    /// The kept answer moved to this search's anchor, when the search would read the same
    /// bytes there: its hit, and the machine's read mark, steps and spans as the search leaves
    /// them.
    pub(super) fn answer(
        &mut self,
        s: &Search,
        date_group: u8,
        read: &mut usize,
        steps_left: &mut u32,
        spans: &mut Spans,
    ) -> Option<Hit> {
        if self.code != std::ptr::from_ref(s.code) as usize
            || s.back() != self.back
            || (s.anchor == self.back) != self.at_line_start
            || s.anchor < self.lead
        {
            return None;
        }
        let lo = s.anchor - self.lead;
        match self.rest {
            Some(rest) if s.line.len() != s.anchor + rest => return None,
            _ => {}
        }
        if !same_bytes(s.line.get(lo..lo + self.bytes.len())?, &self.bytes) {
            return None;
        }
        let delta = s.anchor.wrapping_sub(self.anchor);
        let moved = |x: usize| x.wrapping_add(delta);
        *read = moved(self.read);
        *steps_left = self.steps_left;
        let delta32 = delta as u32;
        spans.caps[usize::from(date_group)] = self.date.moved(delta32);
        for (d, k) in spans.values[..self.v].iter_mut().zip(&self.values) {
            *d = k.moved(delta32);
        }
        spans.vals = self.vals;
        #[cfg(test)]
        {
            self.answers += 1;
        }
        Some(Hit {
            start: moved(self.hit.start),
            end: moved(self.hit.end),
            date: (moved(self.hit.date.0), moved(self.hit.date.1)),
        })
    }
}

/// `a == b` for slices of one length, a word at a time and inline: a date's few dozen bytes,
/// compared on most lines, cost less than a call to the library's compare.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len();
    if n < 8 || b.len() != n {
        return a == b;
    }
    let word = |s: &[u8], i: usize| u64::from_le_bytes(s[i..i + 8].try_into().unwrap_or_default());
    let mut diff = 0;
    for i in (0..n - 7).step_by(8) {
        diff |= word(a, i) ^ word(b, i);
    }
    // The last word, overlapping the one before when the length is not a multiple of eight.
    diff |= word(a, n - 8) ^ word(b, n - 8);
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::same_bytes;

    #[test]
    fn same_bytes_is_slice_equality() {
        let a: Vec<u8> = (0..40u8).collect();
        for n in 0..=a.len() {
            assert!(same_bytes(&a[..n], &a[..n]));
            for i in 0..n {
                let mut b = a[..n].to_vec();
                b[i] ^= 0x20;
                assert!(!same_bytes(&a[..n], &b), "{n} bytes, byte {i} differs");
            }
        }
    }
}
