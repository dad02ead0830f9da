//! A template compiled for matching: its parsed nodes flattened into instructions, run by a
//! small backtracking machine with an explicit stack (no recursion, no allocation once warm).
//! It keeps Python `re`'s preferences exactly: alternatives in order, greedy repeats longest
//! first, and a field's lengths in the order its regex would try them — except lengths the very
//! next fixed byte already rules out, which are dropped before they cost a backtrack. A step
//! budget bounds every attempt.
use super::fields::{Cands, FROM_TEXT, Field};
use super::regex::{self, Assert, MAX_GROUPS, MAX_VALUES, Node, Program, Span, Spans};
use super::same_date::{SameDate, Search};
use super::template::Hit;

/// Steps one search may take (all its start positions together); past it the search fails.
const BUDGET: u32 = 50_000;
/// Copies a bounded repeat of a group may be unrolled into.
const MAX_UNROLL: u32 = 64;
/// Loop registers (one per unbounded repeat of a group).
const MAX_REGS: usize = 8;
const NO_FOLLOW: u16 = u16::MAX;

#[derive(Debug, Clone)]
enum Inst {
    Byte(u8),
    /// Either case of a lower-case letter.
    ByteFold(u8),
    Str {
        at: u32,
        len: u32,
        fold: bool,
    },
    Class(u16),
    /// `follow`: the class the byte right after the field must be in (the next instruction's),
    /// or NO_FOLLOW; `skip`: that instruction is a one-byte test, done once the length is chosen.
    Field {
        field: Field,
        slot: u8,
        follow: u16,
        skip: bool,
    },
    /// Try the next instruction, on failure `alt`; `guard`: the bytes the next instruction's
    /// branch can start with (NO_FOLLOW: any), so a branch that cannot start costs no choice.
    Split {
        alt: u32,
        guard: u16,
    },
    /// Try `alt`, on failure the next instruction.
    SplitLazy(u32),
    Jmp(u32),
    Open {
        cap: u8,
        value: u8,
    },
    Close {
        cap: u8,
        value: u8,
    },
    Assert(Assert),
    Rep {
        class: u16,
        min: u32,
        max: u32,
        greedy: bool,
    },
    BackRef(u8),
    Look {
        code: u16,
        behind: bool,
        negate: bool,
        width: u32,
    },
    /// Loop register := position (an unbounded repeat's iteration start).
    Mark(u8),
    /// Fail when the iteration took nothing (Python stops a repeat there).
    Progress(u8),
    Match,
}

const NONE: u8 = u8::MAX;

/// Compiled code of one template (and of its look-arounds).
#[derive(Debug)]
pub(super) struct Code {
    insts: Vec<Inst>,
    text: Vec<u8>,
    classes: Vec<[bool; 256]>,
    looks: Vec<Code>,
    groups: usize,
    values: usize,
    ci: bool,
    max_year_digit: u8,
    /// The first path may be run on its own (`Vm::first_path`): no look-around, lazy repeat or
    /// loop of a group in the code.
    first_path: bool,
    /// Per instruction: for a `Split`, the captures and values its branch writes (what skipping
    /// the branch restores); empty for the rest.
    writes: Vec<Box<[Write]>>,
    /// Per instruction: no capture or value is written before it (the code only jumps
    /// forward), so going back to it means clearing them all.
    clean: Vec<bool>,
    /// The one capture the caller reads after a match (a template's date group), when it reads
    /// one alone: a replay restores that one and leaves the others as they were.
    read_cap: Option<u8>,
}

/// A capture (`cap`) or value slot an instruction writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Write {
    cap: bool,
    slot: u8,
}

/// Slots one skipped branch may restore on the first path; a branch writing more is left to
/// the machine.
const MAX_SAVED: usize = 6;

/// What the first path of an attempt says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum First {
    Match(usize),
    NoMatch,
    /// A choice it made may have to be undone: the machine decides.
    Unknown,
}

/// The last match the fast path found, as bytes: an attempt's answer depends only on the
/// bytes from the one before its start to the furthest it read (and, if it read past the end,
/// on where the line ends), and on whether it starts the line. The next attempt of the same
/// code on the same bytes, at another place (an access log's date after addresses of other
/// lengths), takes the same match, shifted, without running.
#[derive(Clone, Debug, Default)]
pub(super) struct SameMatch {
    /// The code (its address); 0: none kept.
    code: usize,
    /// The bytes from the start (less one, unless at 0) to the furthest read, within the line
    /// (`len` of them), then zeros to a whole number of words.
    bytes: Vec<u8>,
    len: usize,
    /// Per word of `bytes`: a byte mask of those another line must repeat (all but the digits
    /// of `digits` and `checks`), one of the digits of `digits`, and one of those of `checks`.
    fixed: Vec<u64>,
    short: Vec<u64>,
    loose: Vec<u64>,
    at_line_start: bool,
    /// How far past the start it read, and whether that was past the line's end.
    reach: usize,
    /// The line's length after the start, when it read past the end.
    rest: Option<usize>,
    /// The match's end, after the start; steps spent.
    end: usize,
    steps: u32,
    start: usize,
    spans: Spans,
    /// Bits of `bytes` (bit i: `bytes[i]`) that are digits only a numeric field of the match
    /// read: another line may hold other digits there and still take the same path, when each
    /// of those fields takes the same length again (`checks`). Lines of the next second.
    relaxed: u128,
    checks: Vec<Check>,
    /// The fields of one or two digits, each read alone: their digits may differ on replay
    /// without comparing, each value's path known once seen (the seconds, minutes, hours, day
    /// and month of the next lines). `checks` holds the longer ones (a year, a fraction).
    digits: Vec<Digits>,
    /// Replays over other digits (tests count them).
    #[cfg(test)]
    pub(super) over_other_digits: u64,
}

/// A field whose digits may differ on replay: it must choose the same length and read as far.
#[derive(Clone, Copy, Debug)]
struct Check {
    slot: u8,
    field: Field,
    follow: u16,
    /// Its start and its read end, after the attempt's start; its length.
    at: usize,
    read: usize,
    len: usize,
    /// Its digits, as bits of the kept bytes.
    bits: u128,
}

impl Check {
    /// Some of its digits are among `diff`'s bits.
    fn changed(&self, diff: u128) -> bool {
        self.bits & diff != 0
    }
}

/// A field of one or two digits that no other part of the match reads: whether an attempt
/// takes the kept path, and the field's value, depend only on those digits, so each pair's
/// answer is kept once a line shows it.
#[derive(Clone, Debug)]
struct Digits {
    slot: u8,
    field: Field,
    follow: u16,
    /// Its first digit in the kept bytes; its start and its read end after the attempt's start.
    byte: usize,
    at: usize,
    read: usize,
    /// 1 or 2.
    len: usize,
    /// By the digits' value (one digit d: d·10): the field's value when the attempt takes the
    /// kept path with them, OTHER_PATH when it does not, UNSEEN until a line shows them.
    by_value: [i32; 100],
}

/// `Digits::by_value` entries that are no field's value (fields of digits are 0-99).
const UNSEEN: i32 = i32::MIN + 10;
const OTHER_PATH: i32 = i32::MIN + 11;

impl Digits {
    /// The path and value of the digits at `start + self.at` in `line`, learned from the field.
    fn learn(&mut self, code: &Code, line: &[u8], start: usize, value: usize) -> i32 {
        let at = start + self.at;
        let mut read = 0;
        let cands = field_lengths(code, self.field, self.follow, line, at, &mut read);
        let same =
            cands.as_slice().first().map(|&l| usize::from(l)) == Some(self.len) && read == start + self.read;
        let v = if same {
            self.field.value(&line[at..at + self.len])
        } else {
            OTHER_PATH
        };
        self.by_value[value] = v;
        v
    }
}

/// Bits of the bytes where `a` and `b` differ (bit i: byte i), for their first 128 bytes;
/// None when they differ beyond. Eight bytes at a time: lines of the next second differ from
/// the kept bytes in one or two.
fn diff_bits(a: &[u8], b: &[u8]) -> Option<u128> {
    debug_assert_eq!(a.len(), b.len());
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let mut diff = 0u128;
    let (mut ca, mut cb) = (a.chunks_exact(8), b.chunks_exact(8));
    for (i, (x, y)) in ca.by_ref().zip(cb.by_ref()).enumerate() {
        let x = u64::from_le_bytes(x.try_into().unwrap_or_default());
        let y = u64::from_le_bytes(y.try_into().unwrap_or_default());
        let v = x ^ y;
        if v == 0 {
            continue;
        }
        if i >= 16 {
            return None;
        }
        // The high bit of each byte of `v` that is not zero, gathered into eight bits.
        let nonzero = ((v & LOW7).wrapping_add(LOW7) | v) & !LOW7;
        let byte_bits = (nonzero >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56;
        diff |= u128::from(byte_bits as u8) << (8 * i);
    }
    let base = a.len() - ca.remainder().len();
    for (i, (x, y)) in ca.remainder().iter().zip(cb.remainder()).enumerate() {
        if x != y {
            if base + i >= 128 {
                return None;
            }
            diff |= 1u128 << (base + i);
        }
    }
    Some(diff)
}

/// The `:` at `q` has a digit on either side (where `%H:%M` may be).
pub(super) fn digit_colon_at(line: &[u8], q: usize) -> bool {
    q > 0 && line[q - 1].is_ascii_digit() && line.get(q + 1).is_some_and(u8::is_ascii_digit)
}

/// A field of the first path, as `keep` needs it: where it started (a slot written again in a
/// failed branch holds another field's), which, what may follow, how far it read.
#[derive(Clone, Copy, Debug)]
struct FieldRead {
    at: usize,
    field: Field,
    follow: u16,
    read: usize,
}

/// Positions an attempt read, as bits from the byte before its start (`Vm::first_path`).
#[derive(Clone, Copy, Debug, Default)]
struct Reads {
    base: usize,
    /// Read by anything but a numeric field on the path (or beyond the 128 bytes kept).
    exact: u128,
    /// Digits a numeric field took.
    fields: u128,
    /// Something was read beyond the 128 bytes the bits cover.
    wide: bool,
}

/// Bits `from..from + len` of a `Reads`/`SameMatch` mask (`from + len` ≤ 128).
fn mask(from: usize, len: usize) -> u128 {
    let ones = if len >= 128 { u128::MAX } else { (1u128 << len) - 1 };
    ones << from
}

impl Reads {
    fn bits(&mut self, from: usize, to: usize) -> u128 {
        let (from, to) = (from.max(self.base) - self.base, to.max(self.base) - self.base);
        if to > 128 {
            self.wide = true;
        }
        let (from, to) = (from.min(128), to.min(128));
        if from >= to {
            return 0;
        }
        mask(from, to - from)
    }

    fn exact(&mut self, from: usize, to: usize) {
        self.exact |= self.bits(from, to);
    }
}

impl Code {
    /// Value slots the code writes.
    pub(super) fn values(&self) -> usize {
        self.values
    }
}

impl SameMatch {
    #[allow(clippy::too_many_arguments)]
    fn keep(
        &mut self,
        code: &Code,
        line: &[u8],
        start: usize,
        end: usize,
        read: usize,
        steps: u32,
        spans: &Spans,
        reads: &Reads,
        fields: &[Option<FieldRead>; MAX_VALUES],
    ) {
        let lo = start.saturating_sub(1);
        let hi = read.min(line.len()).max(lo);
        self.relaxed = 0;
        self.checks.clear();
        self.digits.clear();
        // Bits of the digits of `digits`.
        let mut short = 0u128;
        if !reads.wide && reads.base == lo {
            let digits = (lo..hi)
                .filter(|&i| line[i].is_ascii_digit())
                .fold(0u128, |m, i| m | 1u128 << (i - lo));
            let relaxed = reads.fields & !reads.exact & digits;
            for (slot, f) in fields.iter().enumerate().take(code.values.min(MAX_VALUES)) {
                let (Some(f), Some((s, e))) = (f, spans.values[slot].get()) else {
                    continue;
                };
                if f.at != s || s < lo || e - lo >= 128 {
                    continue;
                }
                let own = mask(s - lo, e - s);
                if own & relaxed == 0 {
                    continue;
                }
                if own & !relaxed == 0 && e - s <= 2 {
                    let (_, value) = digit_pair(line[s], if e - s == 2 { line[s + 1] } else { b'0' });
                    let mut by_value = [UNSEEN; 100];
                    by_value[value] = spans.vals[slot];
                    self.digits.push(Digits {
                        slot: slot as u8,
                        field: f.field,
                        follow: f.follow,
                        byte: s - lo,
                        at: s - start,
                        read: f.read - start,
                        len: e - s,
                        by_value,
                    });
                    short |= own;
                } else {
                    self.checks.push(Check {
                        slot: slot as u8,
                        field: f.field,
                        follow: f.follow,
                        at: s - start,
                        read: f.read - start,
                        len: e - s,
                        bits: own,
                    });
                    self.relaxed |= own & relaxed;
                }
            }
        }
        self.code = std::ptr::from_ref(code) as usize;
        let n = hi - lo;
        self.len = n;
        self.bytes.clear();
        self.bytes.extend_from_slice(&line[lo..hi]);
        self.bytes.resize(n.div_ceil(8) * 8, 0);
        self.fixed.clear();
        self.short.clear();
        self.loose.clear();
        let bit = |m: u128, i: usize| i < 128 && m >> i & 1 == 1;
        for w in 0..n.div_ceil(8) {
            let (mut fixed, mut digits, mut loose) = (0u64, 0u64, 0u64);
            for i in (w * 8..w * 8 + 8).take_while(|&i| i < n) {
                let byte = 0xffu64 << (8 * (i - w * 8));
                if bit(self.relaxed, i) {
                    loose |= byte;
                } else if bit(short, i) {
                    digits |= byte;
                } else {
                    fixed |= byte;
                }
            }
            self.fixed.push(fixed);
            self.short.push(digits);
            self.loose.push(loose);
        }
        self.at_line_start = start == 0;
        self.reach = read.saturating_sub(start);
        self.rest = (read > line.len()).then(|| line.len() - start);
        self.end = end - start;
        self.steps = steps;
        self.start = start;
        let (g, v) = (code.groups.min(MAX_GROUPS - 1), code.values.min(MAX_VALUES));
        self.spans.caps[..=g].copy_from_slice(&spans.caps[..=g]);
        self.spans.values[..v].copy_from_slice(&spans.values[..v]);
        self.spans.vals[..v].copy_from_slice(&spans.vals[..v]);
    }

    /// The kept match moved to `start`, when the attempt there would read the same bytes.
    fn replay(
        &mut self,
        code: &Code,
        line: &[u8],
        start: usize,
        steps: u32,
        spans: &mut Spans,
    ) -> Option<usize> {
        if self.code != std::ptr::from_ref(code) as usize
            || (start == 0) != self.at_line_start
            || steps < self.steps
        {
            return None;
        }
        let lo = start.saturating_sub(1);
        match self.rest {
            Some(rest) if line.len() != start + rest => return None,
            None if line.len() < start + self.reach => return None,
            _ => {}
        }
        let got = line.get(lo..lo + self.len)?;
        // The bytes that must repeat, a word at a time and without a branch per word: the next
        // second differs in a digit or two on some lines and not on others, unforeseeably.
        let (mut wrong, mut short, mut loose) = (0u64, 0u64, 0u64);
        let word = |w: &[u8]| u64::from_le_bytes(w.try_into().unwrap_or_default());
        let mut words = got.chunks_exact(8);
        let masks = self.fixed.iter().zip(&self.short).zip(&self.loose);
        let mut kept = self.bytes.chunks_exact(8).zip(masks);
        for (w, (k, ((&f, &s), &l))) in words.by_ref().zip(kept.by_ref()) {
            let x = word(w) ^ word(k);
            wrong |= x & f;
            short |= x & s;
            loose |= x & l;
        }
        if let Some((k, ((&f, &s), &l))) = kept.next() {
            // The last bytes as one load (a copy to the stack and a load back stalls).
            let rest = words.remainder();
            let tail = match got.len().checked_sub(8) {
                Some(from) => word(&got[from..]) >> (8 * (8 - rest.len())),
                None => rest.iter().rev().fold(0, |t, &b| t << 8 | u64::from(b)),
            };
            let x = tail ^ word(k);
            wrong |= x & f;
            short |= x & s;
            loose |= x & l;
        }
        if wrong != 0 {
            return None;
        }
        #[cfg(test)]
        let other_digits = short | loose != 0;
        let v = code.values.min(MAX_VALUES);
        if short != 0 {
            // The short fields' values: known for digits seen before, learned once otherwise.
            let mut vals = self.spans.vals;
            let mut other_path = false;
            for k in 0..self.digits.len() {
                let d = &self.digits[k];
                let second = if d.len == 2 { got[d.byte + 1] } else { b'0' };
                let (digits, value) = digit_pair(got[d.byte], second);
                let mut val = d.by_value[value];
                if val == UNSEEN && digits {
                    val = self.digits[k].learn(code, line, start, value);
                }
                other_path |= !digits | (val == OTHER_PATH);
                vals[usize::from(self.digits[k].slot)] = val;
            }
            if other_path {
                return None;
            }
            // This line's digits are the ones kept now: the next line likely repeats them. (One
            // or two bytes each: copied as bytes, not by a call.)
            for d in &self.digits {
                self.bytes[d.byte] = got[d.byte];
                self.bytes[d.byte + d.len - 1] = got[d.byte + d.len - 1];
            }
            self.spans.vals = vals;
        }
        // The whole array: a fixed-size copy, without a call.
        spans.vals = self.spans.vals;
        if loose != 0 {
            // A longer field's digits differ (a fraction, a new year): each still a digit, and
            // the field still of the same length, reading as far.
            let diff = diff_bits(got, &self.bytes[..self.len])? & self.relaxed;
            let mut left = diff;
            while left != 0 {
                let i = left.trailing_zeros() as usize;
                if !got[i].is_ascii_digit() {
                    return None;
                }
                left &= left - 1;
            }
            for c in self.checks.iter().filter(|c| c.changed(diff)) {
                let at = start + c.at;
                let mut read = 0;
                let cands = field_lengths(code, c.field, c.follow, line, at, &mut read);
                if cands.as_slice().first().map(|&l| usize::from(l)) != Some(c.len) || read != start + c.read
                {
                    return None;
                }
            }
            // This line's digits are the ones kept now: the next line likely repeats them.
            self.bytes[..self.len].copy_from_slice(got);
            for c in self.checks.iter().filter(|c| c.changed(diff)) {
                let (slot, at) = (usize::from(c.slot), start + c.at);
                let val = c.field.value(&line[at..at + c.len]);
                spans.vals[slot] = val;
                self.spans.vals[slot] = val;
            }
        }
        #[cfg(test)]
        if other_digits {
            self.over_other_digits += 1;
        }
        let delta = (start as u32).wrapping_sub(self.start as u32);
        let shift = |s: Span| s.moved(delta);
        let g = code.groups.min(MAX_GROUPS - 1);
        match code.read_cap.map(usize::from) {
            Some(c) if c <= g => spans.caps[c] = shift(self.spans.caps[c]),
            _ => {
                for (d, s) in spans.caps[..=g].iter_mut().zip(&self.spans.caps[..=g]) {
                    *d = shift(*s);
                }
            }
        }
        for (d, s) in spans.values[..v].iter_mut().zip(&self.spans.values[..v]) {
            *d = shift(*s);
        }
        Some(start + self.end)
    }
}

/// Whether two bytes are digits, and their index in `Digits::by_value` (0 if they are not);
/// without a branch.
fn digit_pair(first: u8, second: u8) -> (bool, usize) {
    let (a, b) = (first.wrapping_sub(b'0'), second.wrapping_sub(b'0'));
    let digits = (a < 10) & (b < 10);
    (
        digits,
        usize::from(digits) * (usize::from(a) * 10 + usize::from(b)),
    )
}

#[derive(Clone, Copy)]
struct RepChoice {
    pc: usize,
    pos: usize,
    len: usize,
    stop: usize,
    greedy: bool,
    choices: u32,
}

/// The branch of a guarded `Split` the first path is in: where it started, and what to put
/// back when it fails before the rest of the attempt made another choice.
#[derive(Clone, Copy)]
struct Branch {
    alt: usize,
    pos: usize,
    choices: u32,
    n: usize,
    saved: [(Write, Span, i32); MAX_SAVED],
    /// `Reads::fields` when it was entered: digits fields took in a failed branch must repeat.
    fields: u128,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct CompileError(pub(super) String);

impl Code {
    /// The caller reads capture `cap` alone after a match.
    pub(super) fn reads_only(&mut self, cap: u8) {
        self.read_cap = Some(cap);
    }

    pub(super) fn compile(prog: &Program) -> Result<Code, CompileError> {
        let mut c = Code {
            insts: Vec::new(),
            text: Vec::new(),
            classes: Vec::new(),
            looks: Vec::new(),
            groups: prog.groups,
            values: prog.values.len(),
            ci: prog.ci,
            max_year_digit: prog.max_year_digit,
            first_path: false,
            writes: Vec::new(),
            clean: Vec::new(),
            read_cap: None,
        };
        let mut regs = 0u8;
        c.seq(&prog.seq, &mut regs)?;
        c.insts.push(Inst::Match);
        c.link_follows();
        c.plan_first_path();
        Ok(c)
    }

    /// Whether the first path can run alone, and what each `Split`'s branch writes.
    fn plan_first_path(&mut self) {
        self.first_path = self.insts.iter().enumerate().all(|(pc, i)| match i {
            Inst::Look { .. } | Inst::SplitLazy(_) | Inst::Mark(_) | Inst::Progress(_) => false,
            Inst::Split { alt, .. } | Inst::Jmp(alt) => *alt as usize > pc,
            _ => true,
        });
        self.writes = (0..self.insts.len())
            .map(|pc| match self.insts[pc] {
                Inst::Split { alt, .. } if alt as usize > pc => {
                    let mut w: Vec<Write> = Vec::new();
                    for i in &self.insts[pc + 1..alt as usize] {
                        let (cap, value) = match *i {
                            Inst::Open { cap, value } | Inst::Close { cap, value } => (cap, value),
                            Inst::Field { slot, .. } => (0, slot),
                            _ => continue,
                        };
                        for x in [
                            (cap != 0).then_some(Write { cap: true, slot: cap }),
                            (value != NONE).then_some(Write {
                                cap: false,
                                slot: value,
                            }),
                        ]
                        .into_iter()
                        .flatten()
                        {
                            if !w.contains(&x) {
                                w.push(x);
                            }
                        }
                    }
                    w.into_boxed_slice()
                }
                _ => Box::default(),
            })
            .collect();
        let mut clean = true;
        self.clean = (self.insts.iter())
            .map(|i| {
                let was = clean;
                clean &= match *i {
                    Inst::Open { cap, value } | Inst::Close { cap, value } => cap == 0 && value == NONE,
                    Inst::Field { .. } => false,
                    _ => true,
                };
                was
            })
            .collect();
    }

    fn class(&mut self, set: &[bool; 256]) -> u16 {
        match self.classes.iter().position(|c| c == set) {
            Some(i) => i as u16,
            None => {
                self.classes.push(*set);
                (self.classes.len() - 1) as u16
            }
        }
    }

    fn seq(&mut self, nodes: &[Node], regs: &mut u8) -> Result<(), CompileError> {
        for n in nodes {
            self.node(n, regs)?;
        }
        Ok(())
    }

    fn node(&mut self, n: &Node, regs: &mut u8) -> Result<(), CompileError> {
        match n {
            Node::Bytes { bytes, fold } => match (&bytes[..], fold) {
                ([b], false) => self.insts.push(Inst::Byte(*b)),
                ([b], true) => self.insts.push(Inst::ByteFold(*b)),
                (bs, fold) => {
                    let at = self.text.len() as u32;
                    self.text.extend_from_slice(bs);
                    self.insts.push(Inst::Str {
                        at,
                        len: bs.len() as u32,
                        fold: *fold,
                    });
                }
            },
            Node::Class(set) => {
                let i = self.class(set);
                self.insts.push(Inst::Class(i));
            }
            Node::Field { field, slot } => self.insts.push(Inst::Field {
                field: *field,
                slot: *slot,
                follow: NO_FOLLOW,
                skip: false,
            }),
            Node::Group(g) => {
                let (cap, value) = (g.cap.unwrap_or(0), g.value.unwrap_or(NONE));
                if cap != 0 || value != NONE {
                    self.insts.push(Inst::Open { cap, value });
                }
                self.alternatives(&g.alts, regs)?;
                if cap != 0 || value != NONE {
                    self.insts.push(Inst::Close { cap, value });
                }
            }
            Node::Repeat(r) => {
                if let Some(set) = one_byte(&r.node) {
                    let class = self.class(&set);
                    self.insts.push(Inst::Rep {
                        class,
                        min: r.min,
                        max: r.max,
                        greedy: r.greedy,
                    });
                    return Ok(());
                }
                if r.min > MAX_UNROLL || (r.max != u32::MAX && r.max - r.min > MAX_UNROLL) {
                    return Err(CompileError("a repeat of a group larger than 64".into()));
                }
                for _ in 0..r.min {
                    self.node(&r.node, regs)?;
                }
                if r.max == u32::MAX {
                    if usize::from(*regs) >= MAX_REGS {
                        return Err(CompileError("too many unbounded repeats of groups".into()));
                    }
                    let reg = *regs;
                    *regs += 1;
                    let top = self.insts.len();
                    let guard = self.guard(std::slice::from_ref(&r.node));
                    self.insts.push(if r.greedy {
                        Inst::Split { alt: 0, guard }
                    } else {
                        Inst::SplitLazy(0)
                    });
                    self.insts.push(Inst::Mark(reg));
                    self.node(&r.node, regs)?;
                    self.insts.push(Inst::Progress(reg));
                    self.insts.push(Inst::Jmp(top as u32));
                    let end = self.insts.len() as u32;
                    self.patch(top, end);
                } else {
                    let mut splits = Vec::new();
                    let guard = self.guard(std::slice::from_ref(&r.node));
                    for _ in r.min..r.max {
                        splits.push(self.insts.len());
                        self.insts.push(if r.greedy {
                            Inst::Split { alt: 0, guard }
                        } else {
                            Inst::SplitLazy(0)
                        });
                        self.node(&r.node, regs)?;
                    }
                    let end = self.insts.len() as u32;
                    for s in splits {
                        self.patch(s, end);
                    }
                }
            }
            Node::BackRef(g) => self.insts.push(Inst::BackRef(*g)),
            Node::Assert(a) => self.insts.push(Inst::Assert(*a)),
            Node::Look(l) => {
                let mut sub = Code {
                    insts: Vec::new(),
                    text: Vec::new(),
                    classes: Vec::new(),
                    looks: Vec::new(),
                    groups: self.groups,
                    values: self.values,
                    ci: self.ci,
                    max_year_digit: self.max_year_digit,
                    first_path: false,
                    writes: Vec::new(),
                    clean: Vec::new(),
                    read_cap: None,
                };
                let mut sub_regs = 0;
                sub.alternatives(&l.alts, &mut sub_regs)?;
                sub.insts.push(Inst::Match);
                sub.link_follows();
                sub.plan_first_path();
                self.looks.push(sub);
                self.insts.push(Inst::Look {
                    code: (self.looks.len() - 1) as u16,
                    behind: l.behind,
                    negate: l.negate,
                    width: l.width as u32,
                });
            }
        }
        Ok(())
    }

    /// `a|b|c`: Split(→b) a Jmp(end) Split(→c) b Jmp(end) c.
    fn alternatives(&mut self, alts: &[Vec<Node>], regs: &mut u8) -> Result<(), CompileError> {
        let mut jumps = Vec::new();
        for (i, alt) in alts.iter().enumerate() {
            let last = i + 1 == alts.len();
            let split = self.insts.len();
            if !last {
                let guard = self.guard(alt);
                self.insts.push(Inst::Split { alt: 0, guard });
            }
            self.seq(alt, regs)?;
            if !last {
                jumps.push(self.insts.len());
                self.insts.push(Inst::Jmp(0));
                let next = self.insts.len() as u32;
                self.patch(split, next);
            }
        }
        let end = self.insts.len() as u32;
        for j in jumps {
            self.patch(j, end);
        }
        Ok(())
    }

    fn patch(&mut self, at: usize, to: u32) {
        match &mut self.insts[at] {
            Inst::Split { alt: a, .. } | Inst::SplitLazy(a) | Inst::Jmp(a) => *a = to,
            _ => unreachable!("only jumps are patched"),
        }
    }

    /// The class of bytes `seq` must start with, when it cannot match empty.
    fn guard(&mut self, seq: &[Node]) -> u16 {
        let mut set = [false; 256];
        match regex::first_of_seq(seq, self.ci, &mut set) {
            Some(false) => self.class(&set),
            _ => NO_FOLLOW,
        }
    }

    /// A field followed by a byte-consuming instruction only keeps lengths that byte allows.
    fn link_follows(&mut self) {
        for i in 0..self.insts.len().saturating_sub(1) {
            let follow = match &self.insts[i + 1] {
                Inst::Byte(b) => Some(single(*b, false)),
                Inst::ByteFold(b) => Some(single(*b, true)),
                Inst::Str { at, fold, .. } => Some(single(self.text[*at as usize], *fold)),
                Inst::Class(c) => Some(self.classes[usize::from(*c)]),
                _ => None,
            };
            let one_byte = matches!(
                self.insts[i + 1],
                Inst::Byte(_) | Inst::ByteFold(_) | Inst::Class(_)
            );
            if let (Some(set), Inst::Field { .. }) = (follow, &self.insts[i]) {
                let idx = self.class(&set);
                if let Inst::Field { follow, skip, .. } = &mut self.insts[i] {
                    *follow = idx;
                    *skip = one_byte;
                }
            }
        }
    }
}

fn single(b: u8, fold: bool) -> [bool; 256] {
    let mut s = [false; 256];
    s[usize::from(b)] = true;
    if fold {
        s[usize::from(b.to_ascii_uppercase())] = true;
        s[usize::from(b.to_ascii_lowercase())] = true;
    }
    s
}

/// A node that always takes exactly one byte, as a set.
fn one_byte(n: &Node) -> Option<[bool; 256]> {
    match n {
        Node::Class(set) => Some(**set),
        Node::Bytes { bytes, fold } if bytes.len() == 1 => Some(single(bytes[0], *fold)),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug)]
enum Frame {
    Alt {
        pc: u32,
        pos: u32,
    },
    Cands {
        pc: u32,
        pos: u32,
        slot: u8,
        field: Field,
        next: u8,
        cands: Cands,
    },
    Rep {
        pc: u32,
        pos: u32,
        len: u32,
        stop: u32,
        greedy: bool,
    },
    Cap {
        slot: u8,
        old: Span,
    },
    Val {
        slot: u8,
        old: Span,
        val: i32,
    },
    Reg {
        reg: u8,
        old: u32,
    },
}

/// A machine's reusable state: the backtrack stack, captures, registers.
#[derive(Clone, Debug, Default)]
pub(super) struct Vm {
    frames: Vec<Frame>,
    pub(super) spans: Spans,
    regs: [u32; MAX_REGS],
    steps: u32,
    /// The furthest byte any attempt of the current search looked at, plus one.
    pub(super) read: usize,
    /// For look-arounds: a machine of their own.
    nested: Option<Box<Vm>>,
    /// The line's `:`s between digits, once per line (`new_line` forgets them).
    colons: Option<Vec<usize>>,
    colons_known: Option<usize>,
    /// Several templates search each line: their `:`s between digits are listed once.
    pub(super) share_colons: bool,
    pub(super) attempts: u64,
    /// The last matches of the fast path, for the next attempt on the same bytes: one that
    /// read past the line's end and one that did not (a search bounded where the last date
    /// ended, and one over the whole line, alternate in an access log).
    pub(super) same_match: [SameMatch; 2],
    /// The last whole search kept from its first anchor, when one template searches alone
    /// (`same_date_on`): several would each need their own.
    pub(super) same_date: [SameDate; 2],
    pub(super) same_date_on: bool,
    /// The one of them that answered this line's search or kept its answer.
    pub(super) same_date_line: Option<usize>,
    /// The fields of the current first path, per value slot (`SameMatch::keep`).
    field_reads: [Option<FieldRead>; MAX_VALUES],
    /// Tests compare the fast path with the machine alone.
    #[cfg(test)]
    pub(super) machine_only: bool,
    /// Tests of the attempts' own memories search without `SameDate`.
    #[cfg(test)]
    pub(super) no_same_date: bool,
    /// Attempts the fast path decided, those it left to the machine, and kept matches replayed.
    #[cfg(test)]
    pub(super) first_path_counts: (u64, u64, u64),
}

impl Vm {
    /// A new line: what was learned about the last one goes.
    pub(super) fn new_line(&mut self) {
        self.colons_known = None;
        self.same_date_line = None;
    }

    /// Positions of `:` with a digit on either side (where `%H:%M` may be), found once per line;
    /// give the list back with `put_digit_colons`.
    pub(super) fn take_digit_colons(&mut self, line: &[u8]) -> Vec<usize> {
        let mut list = self.colons.take().unwrap_or_default();
        // Known for this line, and for this much of it (a bounded search sees a shorter line).
        if self.colons_known != Some(line.len()) {
            list.clear();
            list.extend(memchr::memchr_iter(b':', line).filter(|&q| digit_colon_at(line, q)));
            self.colons_known = Some(line.len());
        }
        list
    }

    pub(super) fn put_digit_colons(&mut self, list: Vec<usize>) {
        self.colons = Some(list);
    }

    #[cfg(test)]
    pub(super) fn steps_left(&self) -> u32 {
        self.steps
    }

    /// Whether a search with `code` may take or keep a `SameDate` answer: one template searches
    /// alone, and the code reads nothing before the byte ahead of a start (no look-behind).
    pub(super) fn same_date_for(&self, code: &Code) -> bool {
        #[cfg(test)]
        if self.machine_only || self.no_same_date {
            return false;
        }
        self.same_date_on && code.first_path
    }

    /// The `SameDate` answer for this search, the machine left as the search would leave it.
    pub(super) fn same_date_answer(&mut self, s: &Search, date_group: u8) -> Option<Hit> {
        let k = s.kind();
        let hit = self.same_date[k].answer(s, date_group, &mut self.read, &mut self.steps, &mut self.spans);
        self.same_date_line = hit.map(|_| k);
        hit
    }

    /// Keeps this search's answer, found around its first anchor.
    pub(super) fn keep_same_date(&mut self, s: &Search, hit: Hit, date_group: u8) {
        let k = s.kind();
        self.same_date[k].keep(s, hit, date_group, self.read, self.steps, &self.spans);
        self.same_date_line = Some(k);
    }

    /// Starts a search: a fresh step budget and read mark.
    pub(super) fn begin(&mut self) {
        self.steps = BUDGET;
        self.read = 0;
    }

    /// One attempt at exactly `start`; the match end, spans filled.
    pub(super) fn attempt(&mut self, code: &Code, line: &[u8], start: usize) -> Option<usize> {
        self.attempts += 1;
        #[cfg(test)]
        let fast = code.first_path && !self.machine_only;
        #[cfg(not(test))]
        let fast = code.first_path;
        if fast {
            let replayed = self
                .same_match
                .iter_mut()
                .position(|m| m.replay(code, line, start, self.steps, &mut self.spans).is_some());
            if let Some(k) = replayed {
                #[cfg(test)]
                {
                    self.first_path_counts.2 += 1;
                }
                let m = &self.same_match[k];
                self.read = self.read.max(start + m.reach);
                self.steps -= m.steps;
                return Some(start + m.end);
            }
            let first = self.first_path(code, line, start);
            #[cfg(test)]
            if first == First::Unknown {
                self.first_path_counts.1 += 1;
            } else {
                self.first_path_counts.0 += 1;
            }
            match first {
                First::Match(end) => return Some(end),
                First::NoMatch => return None,
                First::Unknown => {}
            }
        }
        self.backtracking(code, line, start)
    }

    fn clear_spans(&mut self, code: &Code) {
        for s in &mut self.spans.caps[..=code.groups.min(MAX_GROUPS - 1)] {
            *s = Span::NONE;
        }
        for s in &mut self.spans.values[..code.values.min(MAX_VALUES)] {
            *s = Span::NONE;
        }
    }

    /// The fast path of an attempt: the machine's first path, without its stack. Every choice
    /// is taken as the machine takes it first; a match is then the machine's match (its first
    /// path that succeeds). A failure is final when no choice was made, and a failure inside
    /// the branch of the last guarded `Split` (an optional tail such as `(?: %ExY)?`, the
    /// first of two alternatives) skips that branch as the machine would, when nothing else was
    /// chosen since it was entered. Anything else is `Unknown`. It reads, writes and counts
    /// steps exactly as the machine's first path does, so `read` and the budget come out the
    /// same.
    fn first_path(&mut self, code: &Code, line: &[u8], start: usize) -> First {
        self.clear_spans(code);
        let mut pc = 0usize;
        let mut pos = start;
        // This attempt's own reach; the search's is the larger of both.
        let mut read = 0;
        let mut steps = self.steps;
        let mut choices = 0u32;
        let mut branch: Option<Branch> = None;
        let mut rep: Option<RepChoice> = None;
        let mut reads = Reads {
            base: start.saturating_sub(1),
            ..Reads::default()
        };
        self.field_reads[..code.values.min(MAX_VALUES)].fill(None);
        loop {
            if steps == 0 {
                return First::Unknown;
            }
            steps -= 1;
            let ok = match &code.insts[pc] {
                Inst::Byte(b) => {
                    read = read.max(pos + 1);
                    reads.exact(pos, pos + 1);
                    let ok = line.get(pos) == Some(b);
                    pos += usize::from(ok);
                    ok
                }
                Inst::ByteFold(b) => {
                    read = read.max(pos + 1);
                    reads.exact(pos, pos + 1);
                    let ok = line.get(pos).is_some_and(|c| c.to_ascii_lowercase() == *b);
                    pos += usize::from(ok);
                    ok
                }
                Inst::Str { at, len, fold } => {
                    reads.exact(pos, pos + *len as usize);
                    text_at(code, *at, *len, *fold, line, &mut pos, &mut read)
                }
                Inst::Class(c) => {
                    read = read.max(pos + 1);
                    reads.exact(pos, pos + 1);
                    if line
                        .get(pos)
                        .is_some_and(|&b| code.classes[usize::from(*c)][usize::from(b)])
                    {
                        pos += 1;
                        true
                    } else {
                        false
                    }
                }
                Inst::Field {
                    field,
                    slot,
                    follow,
                    skip,
                } => {
                    let mut own = 0;
                    let cands = field_lengths(code, *field, *follow, line, pos, &mut own);
                    read = read.max(own);
                    match cands.as_slice() {
                        [] => {
                            reads.exact(pos, own);
                            false
                        }
                        [first, rest @ ..] => {
                            choices += u32::from(!rest.is_empty());
                            let end = pos + usize::from(*first);
                            if field.is_numeric() {
                                reads.fields |= reads.bits(pos, end);
                                reads.exact(end, own);
                                self.field_reads[usize::from(*slot)] = Some(FieldRead {
                                    at: pos,
                                    field: *field,
                                    follow: *follow,
                                    read: own,
                                });
                            } else {
                                reads.exact(pos, own);
                            }
                            self.spans.values[usize::from(*slot)] = span(pos, end);
                            self.spans.vals[usize::from(*slot)] = field.value(&line[pos..end]);
                            pos = end;
                            if *skip {
                                pos += 1;
                                pc += 1;
                            }
                            true
                        }
                    }
                }
                Inst::Split { alt, guard } => {
                    if *guard != NO_FOLLOW {
                        read = read.max(pos + 1);
                        reads.exact(pos, pos + 1);
                        if !line
                            .get(pos)
                            .is_some_and(|&b| code.classes[usize::from(*guard)][usize::from(b)])
                        {
                            pc = *alt as usize;
                            continue;
                        }
                    }
                    if let Some(b) = &branch {
                        if pc < b.alt {
                            // A choice inside the branch: past what the fast path follows.
                            return First::Unknown;
                        }
                        // The branch was taken to its end: a choice that stays.
                        choices += 1;
                    }
                    let writes = &code.writes[pc];
                    if writes.len() > MAX_SAVED {
                        return First::Unknown;
                    }
                    let mut saved = [(Write { cap: false, slot: 0 }, Span::NONE, 0); MAX_SAVED];
                    for (s, w) in saved.iter_mut().zip(writes.iter()) {
                        *s = if w.cap {
                            (*w, self.spans.caps[usize::from(w.slot)], 0)
                        } else {
                            let i = usize::from(w.slot);
                            (*w, self.spans.values[i], self.spans.vals[i])
                        };
                    }
                    branch = Some(Branch {
                        alt: *alt as usize,
                        pos,
                        choices,
                        n: writes.len(),
                        saved,
                        fields: reads.fields,
                    });
                    true
                }
                Inst::Jmp(to) => {
                    pc = *to as usize;
                    continue;
                }
                Inst::Open { cap, value } => {
                    if *cap != 0 {
                        self.spans.caps[usize::from(*cap)] = span(pos, u32::MAX as usize);
                    }
                    if *value != NONE {
                        self.spans.values[usize::from(*value)] = span(pos, u32::MAX as usize);
                        self.spans.vals[usize::from(*value)] = FROM_TEXT;
                    }
                    true
                }
                Inst::Close { cap, value } => {
                    if *cap != 0 {
                        self.spans.caps[usize::from(*cap)].end = pos as u32;
                    }
                    if *value != NONE {
                        self.spans.values[usize::from(*value)].end = pos as u32;
                    }
                    true
                }
                Inst::Assert(a) => {
                    read = read.max(pos + 1);
                    regex::assert(*a, line, pos)
                }
                Inst::Rep {
                    class,
                    min,
                    max,
                    greedy,
                } => {
                    let run = run_of(code, *class, *max, line, pos, &mut read);
                    reads.exact(pos, pos + run + 1);
                    let min = *min as usize;
                    if run < min {
                        false
                    } else {
                        let (len, stop) = if *greedy { (run, min) } else { (min, run) };
                        if len != stop {
                            if rep.is_none() && branch.is_none() && code.clean[pc] {
                                // A repeat before anything is written (`^[^\[]*\[`, `\W{0,2}`):
                                // its other lengths are tried here, as the machine tries them.
                                rep = Some(RepChoice {
                                    pc,
                                    pos,
                                    len,
                                    stop,
                                    greedy: *greedy,
                                    choices,
                                });
                            }
                            choices += 1;
                        }
                        pos += len;
                        true
                    }
                }
                Inst::BackRef(g) => {
                    let cap = self.spans.caps[usize::from(*g)];
                    if let Some((s, e)) = cap.get() {
                        reads.exact(s, e);
                        reads.exact(pos, pos + (e - s));
                    }
                    same_again(code, cap, line, &mut pos, &mut read)
                }
                Inst::Look { .. } | Inst::SplitLazy(_) | Inst::Mark(_) | Inst::Progress(_) => {
                    return First::Unknown;
                }
                Inst::Match => {
                    let past_end = usize::from(read > line.len());
                    self.same_match[past_end].keep(
                        code,
                        line,
                        start,
                        pos,
                        read,
                        self.steps - steps,
                        &self.spans,
                        &reads,
                        &self.field_reads,
                    );
                    self.read = self.read.max(read);
                    self.steps = steps;
                    return First::Match(pos);
                }
            };
            if ok {
                pc += 1;
                continue;
            }
            match branch.take() {
                Some(b) if pc < b.alt && choices == b.choices => {
                    reads.exact |= reads.fields & !b.fields;
                    reads.fields = b.fields;
                    for &(w, old, val) in &b.saved[..b.n] {
                        let i = usize::from(w.slot);
                        if w.cap {
                            self.spans.caps[i] = old;
                        } else {
                            self.spans.values[i] = old;
                            self.spans.vals[i] = val;
                        }
                    }
                    (pc, pos) = (b.alt, b.pos);
                }
                Some(_) => return First::Unknown,
                None => match &mut rep {
                    Some(r) if choices == r.choices + 1 => {
                        r.len = if r.greedy { r.len - 1 } else { r.len + 1 };
                        reads.exact |= reads.fields;
                        reads.fields = 0;
                        (pc, pos) = (r.pc + 1, r.pos + r.len);
                        if r.len == r.stop {
                            choices = r.choices;
                            rep = None;
                        }
                        self.clear_spans(code);
                    }
                    _ if choices > 0 => return First::Unknown,
                    _ => {
                        self.read = self.read.max(read);
                        self.steps = steps;
                        return First::NoMatch;
                    }
                },
            }
        }
    }

    /// The whole machine: every choice, with its stack.
    fn backtracking(&mut self, code: &Code, line: &[u8], start: usize) -> Option<usize> {
        self.frames.clear();
        self.clear_spans(code);
        let mut pc = 0usize;
        let mut pos = start;
        let mut read = self.read;
        let mut steps = self.steps;
        let result = loop {
            if steps == 0 {
                break None;
            }
            steps -= 1;
            let ok = match &code.insts[pc] {
                Inst::Byte(b) => {
                    read = read.max(pos + 1);
                    if line.get(pos) == Some(b) {
                        pos += 1;
                        true
                    } else {
                        false
                    }
                }
                Inst::ByteFold(b) => {
                    read = read.max(pos + 1);
                    if line.get(pos).is_some_and(|c| c.to_ascii_lowercase() == *b) {
                        pos += 1;
                        true
                    } else {
                        false
                    }
                }
                Inst::Str { at, len, fold } => text_at(code, *at, *len, *fold, line, &mut pos, &mut read),
                Inst::Class(c) => {
                    read = read.max(pos + 1);
                    if line
                        .get(pos)
                        .is_some_and(|&b| code.classes[usize::from(*c)][usize::from(b)])
                    {
                        pos += 1;
                        true
                    } else {
                        false
                    }
                }
                Inst::Field {
                    field,
                    slot,
                    follow,
                    skip,
                } => {
                    let cands = field_lengths(code, *field, *follow, line, pos, &mut read);
                    match cands.as_slice() {
                        [] => false,
                        [first, rest @ ..] => {
                            let slot = *slot;
                            if !self.frames.is_empty() {
                                self.frames.push(Frame::Val {
                                    slot,
                                    old: self.spans.values[usize::from(slot)],
                                    val: self.spans.vals[usize::from(slot)],
                                });
                            }
                            if !rest.is_empty() {
                                self.frames.push(Frame::Cands {
                                    pc: pc as u32 + 1,
                                    pos: pos as u32,
                                    slot,
                                    field: *field,
                                    next: 1,
                                    cands,
                                });
                            }
                            let end = pos + usize::from(*first);
                            self.spans.values[usize::from(slot)] = span(pos, end);
                            self.spans.vals[usize::from(slot)] = field.value(&line[pos..end]);
                            pos += usize::from(*first);
                            if *skip {
                                // The one-byte test after the field already passed (`follow`).
                                pos += 1;
                                pc += 1;
                            }
                            true
                        }
                    }
                }
                Inst::Split { alt, guard } => {
                    if *guard != NO_FOLLOW {
                        read = read.max(pos + 1);
                        if !line
                            .get(pos)
                            .is_some_and(|&b| code.classes[usize::from(*guard)][usize::from(b)])
                        {
                            pc = *alt as usize;
                            continue;
                        }
                    }
                    self.frames.push(Frame::Alt {
                        pc: *alt,
                        pos: pos as u32,
                    });
                    true
                }
                Inst::SplitLazy(alt) => {
                    self.frames.push(Frame::Alt {
                        pc: pc as u32 + 1,
                        pos: pos as u32,
                    });
                    pc = *alt as usize;
                    continue;
                }
                Inst::Jmp(to) => {
                    pc = *to as usize;
                    continue;
                }
                Inst::Open { cap, value } => {
                    // Undo records only matter when a choice below could come back here.
                    let undo = !self.frames.is_empty();
                    if *cap != 0 {
                        let s = &mut self.spans.caps[usize::from(*cap)];
                        if undo {
                            self.frames.push(Frame::Cap { slot: *cap, old: *s });
                        }
                        *s = span(pos, u32::MAX as usize);
                    }
                    if *value != NONE {
                        let s = &mut self.spans.values[usize::from(*value)];
                        if undo {
                            let val = self.spans.vals[usize::from(*value)];
                            self.frames.push(Frame::Val {
                                slot: *value,
                                old: *s,
                                val,
                            });
                        }
                        *s = span(pos, u32::MAX as usize);
                        self.spans.vals[usize::from(*value)] = FROM_TEXT;
                    }
                    true
                }
                Inst::Close { cap, value } => {
                    let undo = !self.frames.is_empty();
                    if *cap != 0 {
                        let s = &mut self.spans.caps[usize::from(*cap)];
                        if undo {
                            self.frames.push(Frame::Cap { slot: *cap, old: *s });
                        }
                        s.end = pos as u32;
                    }
                    if *value != NONE {
                        let s = &mut self.spans.values[usize::from(*value)];
                        if undo {
                            let val = self.spans.vals[usize::from(*value)];
                            self.frames.push(Frame::Val {
                                slot: *value,
                                old: *s,
                                val,
                            });
                        }
                        s.end = pos as u32;
                    }
                    true
                }
                Inst::Assert(a) => {
                    read = read.max(pos + 1);
                    regex::assert(*a, line, pos)
                }
                Inst::Rep {
                    class,
                    min,
                    max,
                    greedy,
                } => {
                    let run = run_of(code, *class, *max, line, pos, &mut read);
                    let min = *min as usize;
                    if run < min {
                        false
                    } else {
                        let (len, stop) = if *greedy { (run, min) } else { (min, run) };
                        if len != stop {
                            self.frames.push(Frame::Rep {
                                pc: pc as u32 + 1,
                                pos: pos as u32,
                                len: len as u32,
                                stop: stop as u32,
                                greedy: *greedy,
                            });
                        }
                        pos += len;
                        true
                    }
                }
                Inst::BackRef(g) => {
                    same_again(code, self.spans.caps[usize::from(*g)], line, &mut pos, &mut read)
                }
                Inst::Look {
                    code: sub,
                    behind,
                    negate,
                    width,
                } => {
                    read = line.len() + 1;
                    let sub = &code.looks[usize::from(*sub)];
                    let nested = self.nested.get_or_insert_with(Default::default);
                    nested.spans = self.spans.clone();
                    nested.steps = steps;
                    let hit = if *behind {
                        pos.checked_sub(*width as usize)
                            .is_some_and(|from| nested.attempt(sub, line, from) == Some(pos))
                    } else {
                        nested.attempt(sub, line, pos).is_some()
                    };
                    steps = nested.steps;
                    hit != *negate
                }
                Inst::Mark(r) => {
                    // Always recorded: the loop's own Split is below it.
                    self.frames.push(Frame::Reg {
                        reg: *r,
                        old: self.regs[usize::from(*r)],
                    });
                    self.regs[usize::from(*r)] = pos as u32;
                    true
                }
                Inst::Progress(r) => pos as u32 != self.regs[usize::from(*r)],
                Inst::Match => break Some(pos),
            };
            if ok {
                pc += 1;
                continue;
            }
            match self.backtrack(line) {
                Some((p, q)) => (pc, pos) = (p, q),
                None => break None,
            }
        };
        self.read = read;
        self.steps = steps;
        result
    }

    /// Undoes to the last choice and takes its next option: (pc, pos), or None when none is left.
    fn backtrack(&mut self, line: &[u8]) -> Option<(usize, usize)> {
        loop {
            match self.frames.pop()? {
                Frame::Alt { pc, pos } => return Some((pc as usize, pos as usize)),
                Frame::Cands {
                    pc,
                    pos,
                    slot,
                    field,
                    next,
                    cands,
                } => {
                    let lens = cands.as_slice();
                    let len = lens[usize::from(next)];
                    if usize::from(next) + 1 < lens.len() {
                        self.frames.push(Frame::Cands {
                            pc,
                            pos,
                            slot,
                            field,
                            next: next + 1,
                            cands,
                        });
                    }
                    let (pos, end) = (pos as usize, pos as usize + usize::from(len));
                    self.spans.values[usize::from(slot)] = span(pos, end);
                    // The line is the one the frame was made on: the machine holds no other.
                    if let Some(text) = line.get(pos..end) {
                        self.spans.vals[usize::from(slot)] = field.value(text);
                    }
                    return Some((pc as usize, end));
                }
                Frame::Rep {
                    pc,
                    pos,
                    len,
                    stop,
                    greedy,
                } => {
                    let len = if greedy { len - 1 } else { len + 1 };
                    if len != stop {
                        self.frames.push(Frame::Rep {
                            pc,
                            pos,
                            len,
                            stop,
                            greedy,
                        });
                    }
                    return Some((pc as usize, (pos + len) as usize));
                }
                Frame::Cap { slot, old } => self.spans.caps[usize::from(slot)] = old,
                Frame::Val { slot, old, val } => {
                    self.spans.values[usize::from(slot)] = old;
                    self.spans.vals[usize::from(slot)] = val;
                }
                Frame::Reg { reg, old } => self.regs[usize::from(reg)] = old,
            }
        }
    }
}

/// `Str`: the fixed text at `pos`, read past on a match.
#[inline(always)]
fn text_at(
    code: &Code,
    at: u32,
    len: u32,
    fold: bool,
    line: &[u8],
    pos: &mut usize,
    read: &mut usize,
) -> bool {
    let want = &code.text[at as usize..(at + len) as usize];
    *read = (*read).max(*pos + want.len());
    let same = line.get(*pos..*pos + want.len()).is_some_and(|got| {
        if fold {
            got.eq_ignore_ascii_case(want)
        } else {
            got == want
        }
    });
    if same {
        *pos += want.len();
    }
    same
}

/// `BackRef`: the text group `cap` took, again at `pos`.
#[inline(always)]
fn same_again(code: &Code, cap: Span, line: &[u8], pos: &mut usize, read: &mut usize) -> bool {
    let Some((s, e)) = cap.get() else { return false };
    let n = e - s;
    *read = (*read).max(*pos + n);
    let same = line.get(*pos..*pos + n).is_some_and(|got| {
        if code.ci {
            got.eq_ignore_ascii_case(&line[s..e])
        } else {
            got == &line[s..e]
        }
    });
    if same {
        *pos += n;
    }
    same
}

/// `Rep`: how many bytes of the class follow `pos`, up to `max`.
#[inline(always)]
fn run_of(code: &Code, class: u16, max: u32, line: &[u8], pos: usize, read: &mut usize) -> usize {
    let set = &code.classes[usize::from(class)];
    let limit = (max as usize).min(line.len().saturating_sub(pos));
    let run = line[pos..pos + limit]
        .iter()
        .take_while(|&&b| set[usize::from(b)])
        .count();
    *read = (*read).max(pos + run + 1);
    run
}

/// The lengths a field can take at `pos`, in the machine's order: the field's candidates, less
/// those the byte after cannot follow (`follow`); `read` grows by what that looked at.
#[inline(always)]
fn field_lengths(code: &Code, field: Field, follow: u16, line: &[u8], pos: usize, read: &mut usize) -> Cands {
    let mut cands = Cands::default();
    field.candidates(line, pos, code.ci, code.max_year_digit, &mut cands);
    *read = (*read).max(pos + field.reads());
    if follow != NO_FOLLOW {
        let longest = cands.as_slice().iter().max().copied().unwrap_or(0);
        *read = (*read).max(pos + usize::from(longest) + 1);
        let set = &code.classes[usize::from(follow)];
        cands.retain(|l| {
            line.get(pos + usize::from(l))
                .is_some_and(|&b| set[usize::from(b)])
        });
    }
    cands
}

fn span(start: usize, end: usize) -> Span {
    Span {
        start: start as u32,
        end: end as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Leftmost match of `pattern` in `line`, as (start, end).
    fn find(pattern: &str, line: &str) -> Option<(usize, usize)> {
        let prog = regex::parse(pattern, regex::wants_ci(pattern), 2).unwrap();
        let code = Code::compile(&prog).unwrap();
        let mut vm = Vm::default();
        vm.begin();
        (0..=line.len()).find_map(|at| vm.attempt(&code, line.as_bytes(), at).map(|e| (at, e)))
    }

    fn group1(pattern: &str, line: &str) -> Option<String> {
        let prog = regex::parse(pattern, false, 2).unwrap();
        let code = Code::compile(&prog).unwrap();
        let mut vm = Vm::default();
        vm.begin();
        vm.attempt(&code, line.as_bytes(), 0)?;
        let (s, e) = vm.spans.caps[1].get()?;
        Some(line[s..e].to_string())
    }

    #[test]
    fn python_preferences() {
        assert_eq!(find("a|ab", "ab"), Some((0, 1)), "first alternative wins");
        assert_eq!(find("a*", "aaa"), Some((0, 3)));
        assert_eq!(find("a*?b", "aab"), Some((0, 3)));
        assert_eq!(find("x{2,3}", "xxxx"), Some((0, 3)));
        assert_eq!(find("x{,2}y", "xxy"), Some((0, 3)));
        assert_eq!(
            find("a{b", "a{b"),
            Some((0, 3)),
            "a brace that is no quantifier is text"
        );
        assert_eq!(find(r"(?P<s>[-/])\d(?P=s)", "1-2-3"), Some((1, 4)));
        assert_eq!(find(r"(?P<s>[-/])\d(?P=s)", "1-2/3"), None);
        assert_eq!(find(r"(?<=^\[)\d+", "[123]"), Some((1, 4)));
        assert_eq!(find(r"\d+(?=\])", "12 34]"), Some((3, 5)));
        assert_eq!(find(r"(?<!x)\d", "x1 2"), Some((3, 4)));
        assert_eq!(find(r"(?:ab)+", "xababa"), Some((1, 5)));
        assert_eq!(find(r"(?:ab)*?c", "ababc"), Some((0, 5)));
        assert_eq!(find(r"(?:ab){1,2}", "ababab"), Some((0, 4)));
        assert_eq!(
            find(r"(?:a|)*b", "aab"),
            Some((0, 3)),
            "an empty iteration ends the repeat"
        );
        assert_eq!(find(r"[^\[]*\[", "abc [x"), Some((0, 5)));
        assert_eq!(find(r"(?i)abc", "xABC"), Some((1, 4)));
        assert_eq!(
            find(r"%b %d", "JUL 12"),
            Some((0, 6)),
            "name fields make it case-insensitive"
        );
        assert_eq!(find(r"\bab", "cab ab"), Some((4, 6)));
    }

    #[test]
    fn fields_backtrack_like_python() {
        // %m on "10" first takes "1", then "10" when the separator does not follow.
        assert_eq!(group1(r"(%m)-", "10-"), Some("10".into()));
        assert_eq!(group1(r"(%d) ", "31 "), Some("31".into()));
        assert_eq!(group1(r"(%H):", "23:"), Some("23".into()));
        assert_eq!(
            group1(r"(%H)", "23:"),
            Some("2".into()),
            "no separator after: the first choice stays"
        );
        assert_eq!(
            group1(r"(%H)(?:x|:)", "23:"),
            Some("23".into()),
            "backtracks through an alternation"
        );
        assert_eq!(group1(r"(%m)(?P<s>-)%d(?P=s)", "10-3-"), Some("10".into()));
    }

    /// (start, end) of the whole match and of every capture group, as Python's `re` reports them.
    fn groups(pattern: &str, line: &str) -> Option<Vec<Option<(usize, usize)>>> {
        let prog = regex::parse(pattern, regex::wants_ci(pattern), 2).unwrap();
        let code = Code::compile(&prog).unwrap();
        let mut vm = Vm::default();
        vm.begin();
        let (at, end) =
            (0..=line.len()).find_map(|at| vm.attempt(&code, line.as_bytes(), at).map(|e| (at, e)))?;
        let mut out = vec![Some((at, end))];
        out.extend((1..=prog.groups).map(|g| vm.spans.caps[g].get()));
        Some(out)
    }

    #[test]
    fn captures_follow_pythons_order_of_choices() {
        // Values checked with CPython 3.11's re.search(...).span(g).
        assert_eq!(
            groups("(a|ab)(c|bcd)", "abcd"),
            Some(vec![Some((0, 4)), Some((0, 1)), Some((1, 4))]),
            "the first alternative stays when the rest can still match"
        );
        assert_eq!(
            groups("(a*)(a*)", "aaa"),
            Some(vec![Some((0, 3)), Some((0, 3)), Some((3, 3))]),
            "greedy: the first repeat takes all"
        );
        assert_eq!(
            groups("(a*?)(a*)", "aaa"),
            Some(vec![Some((0, 3)), Some((0, 0)), Some((0, 3))]),
            "lazy: the first repeat takes nothing"
        );
        assert_eq!(
            groups("(?:(a)|b)+", "ab"),
            Some(vec![Some((0, 2)), Some((0, 1))]),
            "a group keeps its last iteration's text"
        );
        assert_eq!(
            groups(r"(\d+)x|(\d+)y", "12y"),
            Some(vec![Some((0, 3)), None, Some((0, 2))]),
            "a failed alternative leaves no capture behind"
        );
        assert_eq!(groups("(x)?y", "y"), Some(vec![Some((0, 1)), None]));
    }

    /// Patterns that make a backtracking matcher explode, on lines they almost match.
    const RUNAWAYS: [&str; 6] = [
        "(?:a|a)*b",
        "(?:a*)*b",
        "(?:(?:a|aa)+)+b",
        r"(?:a|a)*(?=b)",
        r"(?<!x)(?:a|a)*\1?b",
        "(?:a|a)*(?:a|a)*(?:a|a)*b",
    ];

    #[test]
    fn a_runaway_pattern_stops_at_its_budget() {
        let line = "a".repeat(40);
        assert_eq!(find("(?:a|a)*b", &line), None);
        for p in RUNAWAYS {
            let Ok(prog) = regex::parse(p, false, 2) else {
                continue;
            };
            let code = Code::compile(&prog).unwrap();
            let mut vm = Vm::default();
            for len in [0, 1, 30, 200, 4000] {
                let line = "a".repeat(len);
                vm.begin();
                let hit = (0..=line.len()).find_map(|at| vm.attempt(&code, line.as_bytes(), at));
                assert_eq!(hit, None, "{p} on {len} a's");
                if len >= 30 {
                    assert_eq!(vm.steps_left(), 0, "{p} on {len} a's gave up at the budget");
                }
            }
            // A fresh search gets a fresh budget: the same machine still finds a real match.
            vm.begin();
            assert!(vm.attempt(&code, b"ab", 0).is_some(), "{p}");
        }
    }

    #[test]
    fn no_allocation_once_warm() {
        use crate::sys::alloc_count::allocations;
        let prog = regex::parse(r"^(?:\W{0,2})?(%b %d %H:%M:%S(?:\.%f)?)(?=\b|\W|$)", false, 2).unwrap();
        let code = Code::compile(&prog).unwrap();
        let look = regex::parse(r"(?<=\[)(?:a|a)*(%d/%b/%Y)", false, 2).unwrap();
        let look = Code::compile(&look).unwrap();
        let lines: [&[u8]; 4] = [
            b"Jul 12 08:56:39.123 host sshd[1]: x",
            b"Jul 12 08:56:39 host sshd[1]: x",
            b"[12/Jul/2022:08:56:39 +0200] x",
            b"no date here at all, 12:30 is no date either",
        ];
        let mut vm = Vm::default();
        let run = |vm: &mut Vm| {
            for line in lines {
                for code in [&code, &look] {
                    vm.new_line();
                    vm.begin();
                    let _ = (0..=line.len()).find_map(|at| vm.attempt(code, line, at));
                    let colons = vm.take_digit_colons(line);
                    vm.put_digit_colons(colons);
                }
            }
        };
        run(&mut vm);
        assert_eq!(allocations(|| run(&mut vm)), 0);
    }

    #[test]
    fn diff_bits_marks_each_differing_byte_as_the_byte_loop_would() {
        let naive = |a: &[u8], b: &[u8]| -> Option<u128> {
            let mut d = 0u128;
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                if x != y {
                    if i >= 128 {
                        return None;
                    }
                    d |= 1u128 << i;
                }
            }
            Some(d)
        };
        let base: Vec<u8> = (0..150u32).map(|i| (i * 7 % 251) as u8).collect();
        for len in [0, 1, 7, 8, 9, 30, 64, 127, 128, 129, 150] {
            let a = &base[..len];
            assert_eq!(diff_bits(a, a), Some(0));
            for at in 0..len {
                for flip in [0x01u8, 0x80, 0xff, 0x7f] {
                    let mut b = a.to_vec();
                    b[at] ^= flip;
                    assert_eq!(
                        diff_bits(a, &b),
                        naive(a, &b),
                        "len {len}, byte {at}, flip {flip:#x}"
                    );
                    if at + 3 < len {
                        b[at + 3] ^= 0x10;
                        assert_eq!(diff_bits(a, &b), naive(a, &b), "len {len}, bytes {at}+3");
                    }
                }
            }
        }
    }
}
