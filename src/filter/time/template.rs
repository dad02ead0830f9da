//! Date templates as fail2ban builds them (its datetemplate.py and datedetector.py): a
//! datepattern line becomes a template with fail2ban's word or line boundaries, flags, name and
//! date group; fail2ban's default list is built here in its order, each unanchored template
//! preceded by its `{^LN-BEG}` twin. Templates are compiled once; `search` is per line.
use std::sync::{Arc, OnceLock};

use super::fields::{Field, Key};
use super::regex::{self, Assert, Group, Node, Program, Repeat, first_of_node, first_of_seq};
use super::same_date::Search;
use super::vm::{Code, Vm};

pub(super) const LINE_BEGIN: u8 = 8;
pub(super) const LINE_END: u8 = 4;
pub(super) const WORD_BEGIN: u8 = 2;
pub(super) const WORD_END: u8 = 1;

/// How a template's match becomes a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Convert {
    /// The `%` fields (fail2ban's `reGroupDictStrptime`).
    Fields,
    /// `@` + 24 hex digits (daemontools' TAI64N label).
    Tai64n,
    /// An empty date (`{NONE}`): the time is "now".
    None,
}

/// Where a template may start: fail2ban's `wordBegin` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Begin {
    /// No boundary added.
    Free,
    /// `(?=^|\b|\W)`: at a word start.
    Word,
    /// `{^LN-BEG}`: `^(?:\W{0,2})?`, the line start after at most two non-word characters.
    Line,
}

#[derive(Debug)]
pub(crate) struct Template {
    /// fail2ban's name, e.g. `{^LN-BEG}MON Day 24hour:Minute:Second`: shown by test-filter.
    pub(super) name: String,
    prog: Program,
    code: Code,
    /// Capture group holding the date text (the part cut out of the line).
    date_group: u8,
    pub(super) flags: u8,
    /// fail2ban prefers line-anchored twins of its defaults (100) over the rest (1).
    pub(super) weight: f64,
    pub(super) convert: Convert,
    /// Where a search tries: a byte every match has at a bounded distance from its start
    /// limits it to around that byte's occurrences (the `:` of `%H:%M:%S`).
    starts: Starts,
    /// Bytes a match can start with; None when it can start with anything.
    first: Option<Box<[bool; 256]>>,
    /// Every match holds a `:` between two digits (`%H:%M`): a line without one is passed over
    /// without a search.
    needs_digit_colon: bool,
}

#[derive(Clone, Debug)]
struct Anchor {
    byte: u8,
    /// Offsets of that byte from the match start.
    lo: usize,
    hi: usize,
    /// What the bytes right before and after it must be (the `\d` around `%H:%M`), when known.
    before: Option<Box<[bool; 256]>>,
    after: Option<Box<[bool; 256]>>,
    /// It is a `:` between digits (`%H:%M`): the line's list of those is shared by all templates.
    digit_colon: bool,
}

impl Anchor {
    /// The byte at `q` may be this anchor of a match (its neighbours fit).
    fn fits(&self, line: &[u8], q: usize) -> bool {
        let ok = |set: &Option<Box<[bool; 256]>>, at: Option<usize>| match set {
            None => true,
            Some(set) => at.and_then(|i| line.get(i)).is_some_and(|&b| set[usize::from(b)]),
        };
        ok(&self.before, q.checked_sub(1)) && ok(&self.after, Some(q + 1))
    }
}

/// Where a template's matches can start.
#[derive(Debug)]
enum Starts {
    /// fail2ban's TAI64N, searched directly: `@` and 24 lower-case hex digits, not followed by a
    /// word byte; `line_begin`: after at most two leading non-word bytes only.
    Tai64n {
        line_begin: bool,
    },
    /// Only at the line start.
    LineStart,
    /// Around a fixed byte.
    Around(Anchor),
    /// fail2ban's EPOCH (`long`: LEPOCH), searched directly: at the line start, after a leading
    /// `[` or after `audit(`; `line_begin`: after at most two leading non-word bytes only.
    Epoch {
        long: bool,
        line_begin: bool,
    },
    Anywhere,
}

/// A template's hit in a line: the whole match (for the detector's memory) and the date text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Hit {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) date: (usize, usize),
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

impl Template {
    /// A datepattern line as fail2ban's `DatePatternRegex(pattern)` reads it.
    pub(super) fn pattern(pattern: &str) -> Result<Template, TemplateError> {
        Template::build(pattern, Begin::Word, true)
    }

    fn build(pattern: &str, mut begin: Begin, mut end: bool) -> Result<Template, TemplateError> {
        let mut text = pattern.trim();
        if let Some(rest) = text.strip_prefix("{UNB}") {
            text = rest;
            begin = Begin::Free;
            end = false;
        }
        if begin != Begin::Free
            && let Some(rest) = text.strip_prefix("{^LN-BEG}")
        {
            text = rest;
            begin = Begin::Line;
        }
        let mut name = display_name(text);
        let ci = regex::wants_ci(text);
        let (regex_text, flag_group) = strip_flag_group(text);
        let bound_begin = begin != Begin::Free && !no_word_bound_begin(&regex_text);
        let bound_end = end && !no_word_bound_end(&regex_text);
        let wrapped = if has_group(&regex_text) {
            regex_text.clone()
        } else {
            wrap_in_group(&regex_text)
        };
        let mut flags = 0;
        let mut seq = Vec::new();
        if bound_begin {
            if begin == Begin::Line {
                flags |= LINE_BEGIN;
                seq.push(Node::Assert(Assert::Start));
                seq.push(not_word_up_to_two());
                if !name.starts_with("{^LN-BEG}") {
                    name = format!("{{^LN-BEG}}{name}");
                }
            } else {
                flags |= WORD_BEGIN;
                seq.push(Node::Assert(Assert::DateStart));
            }
        }
        if bound_end {
            flags |= WORD_END;
        }
        if flags & (LINE_BEGIN | WORD_BEGIN) == 0 && line_bound_begin(&wrapped) {
            flags |= LINE_BEGIN;
        }
        if line_bound_end(&wrapped) {
            flags |= LINE_END;
        }
        let body = del_word_bounds(&wrapped);
        let _ = flag_group;
        let prog = regex::parse(&body, ci, max_year_digit())
            .map_err(|e| TemplateError(format!("datepattern `{pattern}`: {e}")))?;
        seq.extend(prog.seq);
        if bound_end {
            seq.push(Node::Assert(Assert::DateEnd));
        }
        let convert = if prog.groups == 1 && regex::seq_width(&seq) == (0, Some(0)) {
            Convert::None
        } else {
            Convert::Fields
        };
        Template::finish(name, Program { seq, ..prog }, 1, flags, convert)
    }

    fn finish(
        name: String,
        prog: Program,
        date_group: u8,
        flags: u8,
        convert: Convert,
    ) -> Result<Template, TemplateError> {
        let starts = if matches!(prog.seq.first(), Some(Node::Assert(Assert::Start))) {
            Starts::LineStart
        } else {
            anchor(&prog.seq, prog.ci).map_or(Starts::Anywhere, Starts::Around)
        };
        let first = first_set(&prog.seq, prog.ci);
        let needs_digit_colon = match &starts {
            Starts::Around(a) => a.digit_colon,
            _ => anchor(&prog.seq, prog.ci).is_some_and(|a| a.digit_colon),
        };
        let mut code =
            Code::compile(&prog).map_err(|e| TemplateError(format!("datepattern `{name}`: {e}")))?;
        // `search` reads the date group alone.
        code.reads_only(date_group);
        Ok(Template {
            name,
            prog,
            code,
            date_group,
            flags,
            weight: 1.0,
            convert,
            starts,
            first,
            needs_digit_colon,
        })
    }

    /// fail2ban's `DateEpoch`: Unix seconds (`long`: or milli-/microseconds), at the line start
    /// (after `[` too) or after `audit(`; `line_begin`: only at the line start.
    fn epoch(line_begin: bool, long: bool) -> Template {
        let field = if long { Field::LongEpoch } else { Field::Epoch };
        let key = if long { Key::LongEpoch } else { Key::Epoch };
        let date = Node::Group(Box::new(Group {
            cap: Some(1),
            value: None,
            alts: vec![vec![Node::Field { field, slot: 0 }]],
        }));
        let base = if long { "LongEpoch" } else { "Epoch" };
        let (seq, name, flags) = if line_begin {
            let seq = vec![
                Node::Assert(Assert::Start),
                not_word_up_to_two(),
                date,
                Node::Assert(Assert::DateEnd),
            ];
            (seq, format!("{{^LN-BEG}}{base}"), LINE_BEGIN | WORD_END)
        } else {
            let behind = |text: &[u8], width| {
                let mut alt = vec![Node::Assert(Assert::Start)];
                alt.extend(text.iter().map(|&b| Node::Bytes {
                    bytes: Box::new([b]),
                    fold: false,
                }));
                Node::Look(Box::new(regex::Look {
                    behind: true,
                    negate: false,
                    alts: vec![alt],
                    width,
                }))
            };
            let audit = Node::Look(Box::new(regex::Look {
                behind: true,
                negate: false,
                alts: vec![vec![
                    Node::Assert(Assert::WordBoundary),
                    Node::Bytes {
                        bytes: Box::new(*b"audit("),
                        fold: false,
                    },
                ]],
                width: 6,
            }));
            let start = Node::Group(Box::new(Group {
                cap: None,
                value: None,
                alts: vec![
                    vec![Node::Assert(Assert::Start)],
                    vec![behind(b"[", 1)],
                    vec![audit],
                ],
            }));
            let seq = vec![start, date, Node::Assert(Assert::DateEnd)];
            (seq, base.to_string(), WORD_END)
        };
        let prog = Program {
            seq,
            groups: 1,
            values: vec![key],
            ci: false,
            max_year_digit: max_year_digit(),
        };
        let mut t =
            Template::finish(name, prog, 1, flags, Convert::Fields).expect("the epoch template compiles");
        t.starts = Starts::Epoch { long, line_begin };
        t
    }

    /// fail2ban's `DateTai64n`: `@` and 24 lower-case hex digits.
    fn tai64n(line_begin: bool) -> Template {
        let date = Node::Group(Box::new(Group {
            cap: Some(1),
            value: None,
            alts: vec![vec![
                Node::Bytes {
                    bytes: Box::new(*b"@"),
                    fold: false,
                },
                Node::Field {
                    field: Field::Tai64nLabel,
                    slot: 0,
                },
            ]],
        }));
        let mut seq = Vec::new();
        let (name, mut flags) = if line_begin {
            seq.push(Node::Assert(Assert::Start));
            seq.push(not_word_up_to_two());
            ("{^LN-BEG}TAI64N".to_string(), LINE_BEGIN)
        } else {
            ("TAI64N".to_string(), 0)
        };
        seq.push(date);
        seq.push(Node::Assert(Assert::DateEnd));
        flags |= WORD_END;
        let prog = Program {
            seq,
            groups: 1,
            values: vec![Key::Tai64nLabel],
            ci: false,
            max_year_digit: max_year_digit(),
        };
        let mut t =
            Template::finish(name, prog, 1, flags, Convert::Tai64n).expect("the TAI64N template compiles");
        t.starts = Starts::Tai64n { line_begin };
        t
    }

    /// `{EPOCH}`/`{LEPOCH}` inside a pattern: fail2ban's `DateEpoch(pattern=…)`, the whole
    /// pattern being the date text.
    fn epoch_pattern(pattern: &str) -> Result<Template, TemplateError> {
        let text = format!("({})", pattern.trim());
        let ci = regex::wants_ci(&text);
        let bound_begin = !no_word_bound_begin(&text);
        let bound_end = !no_word_bound_end(&text);
        let mut flags = 0;
        let mut seq = Vec::new();
        if bound_begin {
            flags |= WORD_BEGIN;
            seq.push(Node::Assert(Assert::DateStart));
        }
        if line_bound_begin(&text) {
            flags |= LINE_BEGIN;
        }
        if line_bound_end(&text) {
            flags |= LINE_END;
        }
        let body = replace_epoch_tokens(&del_word_bounds(&text));
        let prog = regex::parse(&body, ci, max_year_digit())
            .map_err(|e| TemplateError(format!("datepattern `{pattern}`: {e}")))?;
        seq.extend(prog.seq);
        if bound_end {
            flags |= WORD_END;
            seq.push(Node::Assert(Assert::DateEnd));
        }
        Template::finish(
            pattern.trim().to_string(),
            Program { seq, ..prog },
            1,
            flags,
            Convert::Fields,
        )
    }

    /// False when this template cannot match `line` (from its start), seen without a search:
    /// a line-start template whose first byte does not fit, or a `%H:%M` template on a line
    /// without a `:` between digits (`digit_colon`, asked once per line).
    pub(super) fn may_match(&self, line: &[u8], digit_colon: &mut impl FnMut() -> bool) -> bool {
        if let (Starts::LineStart, Some(first)) = (&self.starts, &self.first)
            && !line.first().is_some_and(|&b| first[usize::from(b)])
        {
            return false;
        }
        !self.needs_digit_colon || digit_colon()
    }

    pub(super) fn line_anchored(&self) -> bool {
        self.flags & (LINE_BEGIN | LINE_END) != 0
    }

    pub(super) fn keys(&self) -> &[Key] {
        &self.prog.values
    }

    /// Python's `regex.search(line, from, to)`: the leftmost match starting in `from..=to`,
    /// with `to` taken as the end of the line. `vm.read` tells how far into the line it looked.
    pub(super) fn search(&self, line: &[u8], from: usize, to: usize, vm: &mut Vm) -> Option<Hit> {
        let line = &line[..to.min(line.len())];
        let to = line.len();
        vm.begin();
        if from > to {
            return None;
        }
        let try_at = |p: usize, vm: &mut Vm| -> Option<Hit> {
            if let Some(first) = &self.first
                && !line.get(p).is_some_and(|&b| first[usize::from(b)])
            {
                vm.read = vm.read.max(p + 1);
                return None;
            }
            let end = vm.attempt(&self.code, line, p)?;
            let date = vm.spans.caps[usize::from(self.date_group)]
                .get()
                .unwrap_or((p, end));
            Some(Hit { start: p, end, date })
        };
        match &self.starts {
            Starts::Tai64n { line_begin } => {
                let hit = tai64n_at(line, from, *line_begin);
                vm.read = match hit {
                    Some(h) => h.end + 1,
                    None => line.len() + 1,
                };
                hit
            }
            Starts::LineStart => {
                if from == 0 {
                    try_at(0, vm)
                } else {
                    None
                }
            }
            Starts::Around(a) => {
                // One template alone stops at its first fitting `:`; the line's list pays off when
                // several templates search it.
                let colons = (a.digit_colon && vm.share_colons).then(|| vm.take_digit_colons(line));
                let mut next = from;
                let mut around = |q: usize, vm: &mut Vm| -> Option<Hit> {
                    if !a.fits(line, q) {
                        return None;
                    }
                    let lo = q.saturating_sub(a.hi).max(next);
                    let hi = q.checked_sub(a.lo)?;
                    for p in lo..=hi {
                        if let Some(h) = try_at(p, vm) {
                            return Some(h);
                        }
                    }
                    next = next.max(hi + 1);
                    None
                };
                let hit = match &colons {
                    Some(list) => list
                        .iter()
                        .filter(|&&q| q >= from && q + 1 < to)
                        .find_map(|&q| around(q, vm)),
                    None => {
                        let mut anchors = memchr::memchr_iter(a.byte, &line[from..]).map(|q| q + from);
                        let first = anchors.next();
                        let same = first
                            .filter(|_| vm.same_date_for(&self.code))
                            .map(|anchor| Search {
                                code: &self.code,
                                line,
                                from,
                                anchor,
                                hi: a.hi,
                            });
                        if let Some(s) = &same
                            && let Some(h) = vm.same_date_answer(s, self.date_group)
                        {
                            return Some(h);
                        }
                        match first.and_then(|q| around(q, vm)) {
                            Some(h) => {
                                if let Some(s) = &same {
                                    vm.keep_same_date(s, h, self.date_group);
                                }
                                Some(h)
                            }
                            None => anchors.find_map(|q| around(q, vm)),
                        }
                    }
                };
                if let Some(list) = colons {
                    vm.put_digit_colons(list);
                }
                if hit.is_none() {
                    vm.read = line.len() + 1;
                }
                hit
            }
            Starts::Epoch { long, line_begin } => {
                let hit = epoch_at(line, from, *long, *line_begin, vm);
                vm.read = match hit {
                    Some(h) => h.end + 1,
                    None => line.len() + 1,
                };
                hit
            }
            Starts::Anywhere => {
                let Some(first) = &self.first else {
                    return (from..=to).find_map(|p| try_at(p, vm));
                };
                let mut p = from;
                while p < to {
                    match line[p..].iter().position(|&b| first[usize::from(b)]) {
                        Some(i) => p += i,
                        None => break,
                    }
                    if let Some(h) = try_at(p, vm) {
                        return Some(h);
                    }
                    p += 1;
                }
                vm.read = line.len() + 1;
                None
            }
        }
    }
}

/// `^(?:\W{0,2})?(@[0-9a-f]{24})(?=\b|\W|$)` (or without the `^` part: anywhere), as the
/// regex would find it: for the line start, the longest non-word lead first.
fn tai64n_at(line: &[u8], from: usize, line_begin: bool) -> Option<Hit> {
    let label = |at: usize| -> Option<Hit> {
        let l: &[u8; 25] = line.get(at..at + 25)?.try_into().ok()?;
        let end = at + 25;
        let (_, hex) = l.split_first()?;
        (l[0] == b'@'
            && lower_hex24(hex.try_into().ok()?)
            && !line.get(end).is_some_and(|&b| regex::is_word(b)))
        .then_some((at, end))
        .map(|(s, e)| Hit {
            start: if line_begin { 0 } else { s },
            end: e,
            date: (s, e),
        })
    };
    if line_begin {
        if from > 0 {
            return None;
        }
        let lead = line.iter().take(2).take_while(|&&b| !regex::is_word(b)).count();
        return (0..=lead).rev().find_map(label);
    }
    memchr::memchr_iter(b'@', line.get(from..)?).find_map(|q| label(q + from))
}

/// fail2ban's epoch regexes, directly: `(?:^|(?<=^\[)|(?<=\baudit\())EPOCH(?=\b|\W|$)`, or with
/// `line_begin` `^(?:\W{0,2})?EPOCH(?=\b|\W|$)` (their `(?(square)…)` conditions never reject a
/// match). The date text is the value of the template's one field.
fn epoch_at(line: &[u8], from: usize, long: bool, line_begin: bool, vm: &mut Vm) -> Option<Hit> {
    let field = if long { Field::LongEpoch } else { Field::Epoch };
    let at = |p: usize, vm: &mut Vm| -> Option<usize> {
        let mut cands = super::fields::Cands::default();
        field.candidates(line, p, false, 0, &mut cands);
        let len = cands
            .as_slice()
            .iter()
            .map(|&l| usize::from(l))
            .find(|&l| regex::assert(Assert::DateEnd, line, p + l))?;
        vm.spans.values[0] = regex::Span {
            start: p as u32,
            end: (p + len) as u32,
        };
        vm.spans.vals[0] = super::fields::FROM_TEXT;
        Some(p + len)
    };
    if line_begin {
        if from > 0 {
            return None;
        }
        let lead = line.iter().take(2).take_while(|&&b| !regex::is_word(b)).count();
        return (0..=lead).rev().find_map(|p| {
            at(p, vm).map(|end| Hit {
                start: 0,
                end,
                date: (p, end),
            })
        });
    }
    static AUDIT: OnceLock<memchr::memmem::Finder<'static>> = OnceLock::new();
    let audit = AUDIT.get_or_init(|| memchr::memmem::Finder::new(b"audit("));
    let after_audit = audit
        .find_iter(line)
        .filter(|&q| q == 0 || !regex::is_word(line[q - 1]))
        .map(|q| q + 6);
    let square = (line.first() == Some(&b'[')).then_some(1);
    [0].into_iter()
        .chain(square)
        .chain(after_audit)
        .filter(|&p| p >= from)
        .find_map(|p| {
            at(p, vm).map(|end| Hit {
                start: p,
                end,
                date: (p, end),
            })
        })
}

/// 24 bytes of `[0-9a-f]`, eight at a time.
fn lower_hex24(b: &[u8; 24]) -> bool {
    b.chunks_exact(8).all(|c| {
        let x = u64::from_be_bytes(c.try_into().unwrap_or_default());
        lower_hex8(x)
    })
}

/// Eight bytes (as one word) all `0-9` or `a-f` (SWAR: per-byte range tests without carries).
fn lower_hex8(x: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    if x & HIGH != 0 {
        return false;
    }
    // Every byte is below 0x80, so adding at most 0x7f never carries into the next byte.
    let at_least = |v: u64, k: u64| (v + ONES * (0x80 - k)) & HIGH;
    let digit = at_least(x, u64::from(b'0')) & !at_least(x, u64::from(b'9') + 1);
    let letter = at_least(x, u64::from(b'a')) & !at_least(x, u64::from(b'f') + 1);
    digit | letter == HIGH
}

/// `(?:\W{0,2})?` after `^`.
fn not_word_up_to_two() -> Node {
    let mut set = [false; 256];
    for (i, x) in set.iter_mut().enumerate() {
        *x = !regex::is_word(i as u8);
    }
    Node::Repeat(Box::new(Repeat {
        node: Node::Class(Box::new(set)),
        min: 0,
        max: 2,
        greedy: true,
    }))
}

/// `%ExY` takes 2000 to the end of the decade of three years from now, as fail2ban (it reads
/// the clock once, when the filter is built).
fn max_year_digit() -> u8 {
    static DIGIT: OnceLock<u8> = OnceLock::new();
    *DIGIT.get_or_init(|| {
        let year = jiff::Zoned::now().year() as i32 + 3;
        ((year - 2000) / 10).clamp(0, 9) as u8
    })
}

/// The template name fail2ban shows: each `%X` by its name (`%d` → `Day`).
fn display_name(pattern: &str) -> String {
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('%') {
            out.push('%');
            rest = r;
            continue;
        }
        let len = if after.starts_with("Ex") { 3 } else { 1 };
        match after
            .get(..len)
            .and_then(|d| Some((d, Field::from_directive(d)?)))
        {
            Some((d, f)) => {
                out.push_str(&f.name(d));
                rest = &after[len..];
            }
            None => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// fail2ban's RE_GLOBALFLAGS: the first `(?flags)` group, taken out of the text.
fn strip_flag_group(text: &str) -> (String, Option<String>) {
    match regex::flag_group(text) {
        Some(f) => {
            let group = format!("(?{f})");
            (text.replacen(&group, "", 1), Some(f.to_string()))
        }
        None => (text.to_string(), None),
    }
}

/// The load-time checks fail2ban runs on a template's regex text (datetemplate.py); compiled
/// once, never per line.
struct TextChecks {
    no_bound_begin: fancy_regex::Regex,
    no_bound_end: fancy_regex::Regex,
    line_begin: fancy_regex::Regex,
    line_end: fancy_regex::Regex,
    del_bounds: fancy_regex::Regex,
    grouped: fancy_regex::Regex,
}

fn checks() -> &'static TextChecks {
    static CHECKS: OnceLock<TextChecks> = OnceLock::new();
    CHECKS.get_or_init(|| {
        let re = |s: &str| fancy_regex::Regex::new(s).expect("fail2ban's own regex");
        TextChecks {
            no_bound_begin: re(r"^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^)"),
            no_bound_end: re(r"(?<!\\)(?:\$\)?|\\b|\\s|\*\*\)*)$"),
            line_begin: re(r"^(?:\(\?\w+\))?(?:\^|\((?:\?:)?\^(?!\|))"),
            line_end: re(r"(?<![\\\|])(?:\$\)?)$"),
            del_bounds: re(r"^\(*(?:\(\?\w+\))?\(*\*\*|(?<!\\)\*\*\)*$"),
            grouped: re(r"(?<!(?:\(\?))(?<!\\)\((?!\?)"),
        }
    })
}

fn is_match(re: &fancy_regex::Regex, text: &str) -> bool {
    re.is_match(text).unwrap_or(false)
}

fn no_word_bound_begin(text: &str) -> bool {
    is_match(&checks().no_bound_begin, text)
}

fn no_word_bound_end(text: &str) -> bool {
    is_match(&checks().no_bound_end, text)
}

fn line_bound_begin(text: &str) -> bool {
    is_match(&checks().line_begin, text)
}

fn line_bound_end(text: &str) -> bool {
    is_match(&checks().line_end, text)
}

fn has_group(text: &str) -> bool {
    is_match(&checks().grouped, text)
}

/// `**` at either end means "no boundary here": fail2ban deletes the marker.
fn del_word_bounds(text: &str) -> String {
    checks()
        .del_bounds
        .replace_all(text, |c: &fancy_regex::Captures<'_>| c[0].replace("**", ""))
        .into_owned()
}

/// fail2ban's RE_GROUP: `^` and flag groups in front and `$` at the end stay outside; the rest
/// becomes group 1, the date text.
fn wrap_in_group(text: &str) -> String {
    let mut lead = 0;
    let b = text.as_bytes();
    let flag_len = |at: usize| -> usize {
        let rest = &b[at..];
        if rest.starts_with(b"(?") {
            let n = rest[2..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                .count();
            if n > 0 && rest.get(2 + n) == Some(&b')') {
                return n + 3;
            }
        }
        0
    };
    lead += flag_len(lead);
    if b.get(lead) == Some(&b'^') {
        lead += 1;
    }
    lead += flag_len(lead);
    let tail = usize::from(text.len() > lead && text.ends_with('$'));
    format!(
        "{}({}){}",
        &text[..lead],
        &text[lead..text.len() - tail],
        &text[text.len() - tail..]
    )
}

/// `{EPOCH}`/`{LEPOCH}` (any case, not escaped) as the parser's epoch fields.
fn replace_epoch_tokens(text: &str) -> String {
    let mut out = String::new();
    let mut i = 0;
    let upper = text.to_ascii_uppercase();
    while i < text.len() {
        let escaped = i > 0 && text.as_bytes()[i - 1] == b'\\';
        if !escaped && upper[i..].starts_with("{LEPOCH}") {
            out.push_str("%\u{1}L");
            i += 8;
        } else if !escaped && upper[i..].starts_with("{EPOCH}") {
            out.push_str("%\u{1}E");
            i += 7;
        } else {
            let c = text[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The first byte a match can take: None when a match can start with anything (or nothing).
fn first_set(seq: &[Node], ci: bool) -> Option<Box<[bool; 256]>> {
    let mut set = Box::new([false; 256]);
    let nullable = first_of_seq(seq, ci, &mut set)?;
    (!nullable).then_some(set)
}

/// A byte all matches contain at a bounded offset from their start (fixed text, not folded),
/// preferring punctuation (rarer in lines than letters or digits), with what must stand next to
/// it. Groups with one alternative (the date group) are looked into.
fn anchor(seq: &[Node], ci: bool) -> Option<Anchor> {
    let mut walk = AnchorWalk {
        lo: 0,
        hi: Some(0),
        best: None,
        groups: Vec::new(),
        ci,
    };
    walk.seq(seq, None);
    walk.best
}

struct AnchorWalk {
    lo: usize,
    hi: Option<usize>,
    best: Option<Anchor>,
    /// Widths of the capture groups passed (for back-references).
    groups: Vec<(u8, (usize, Option<usize>))>,
    ci: bool,
}

impl AnchorWalk {
    /// False once the walk must stop (an unbounded offset, or punctuation found). `prev`: the
    /// node before `seq`'s first one.
    fn seq<'a>(&mut self, seq: &'a [Node], mut prev: Option<&'a Node>) -> bool {
        for (i, n) in seq.iter().enumerate() {
            let Some(h) = self.hi else { return false };
            match n {
                Node::Group(g) if g.alts.len() == 1 => {
                    let (lo0, hi0) = (self.lo, self.hi);
                    if !self.seq(&g.alts[0], prev) {
                        return false;
                    }
                    if let Some(c) = g.cap {
                        self.groups
                            .push((c, (self.lo - lo0, self.hi.zip(hi0).map(|(a, b)| a - b))));
                    }
                    prev = g.alts[0].last().or(prev);
                    continue;
                }
                Node::Bytes { bytes, fold } if !*fold || !bytes[0].is_ascii_alphabetic() => {
                    let b = bytes[0];
                    let after = if bytes.len() > 1 {
                        let mut set = Box::new([false; 256]);
                        set[usize::from(bytes[1])] = true;
                        if *fold {
                            set[usize::from(bytes[1].to_ascii_uppercase())] = true;
                        }
                        Some(set)
                    } else {
                        seq.get(i + 1).and_then(|next| first_bytes(next, self.ci))
                    };
                    let before = prev.and_then(last_bytes);
                    let digits = |s: &Option<Box<[bool; 256]>>| {
                        s.as_ref()
                            .is_some_and(|s| (0..=255u8).all(|x| s[usize::from(x)] == x.is_ascii_digit()))
                    };
                    let cand = Anchor {
                        byte: b,
                        lo: self.lo,
                        hi: h,
                        digit_colon: b == b':' && digits(&before) && digits(&after),
                        before,
                        after,
                    };
                    let punct = !b.is_ascii_alphanumeric() && b != b' ';
                    if punct {
                        self.best = Some(cand);
                        return false;
                    }
                    if self.best.is_none() {
                        self.best = Some(cand);
                    }
                }
                _ => {}
            }
            let (a, b) = match n {
                Node::BackRef(g) => self
                    .groups
                    .iter()
                    .find(|(c, _)| c == g)
                    .map_or((0, None), |&(_, w)| w),
                n => regex::node_width(n),
            };
            self.lo += a;
            self.hi = b.map(|b| h + b);
            prev = Some(n);
        }
        true
    }
}

/// The bytes a node's match can end with, when it always takes at least one.
fn last_bytes(n: &Node) -> Option<Box<[bool; 256]>> {
    let mut set = Box::new([false; 256]);
    match n {
        Node::Bytes { bytes, fold } => {
            let b = *bytes.last()?;
            set[usize::from(b)] = true;
            if *fold {
                set[usize::from(b.to_ascii_uppercase())] = true;
            }
        }
        Node::Class(s) => *set = **s,
        Node::Field { field, .. } if field.is_numeric() => {
            for d in b'0'..=b'9' {
                set[usize::from(d)] = true;
            }
        }
        _ => return None,
    }
    Some(set)
}

/// The bytes a node's match starts with, when it always takes at least one.
fn first_bytes(n: &Node, ci: bool) -> Option<Box<[bool; 256]>> {
    let mut set = Box::new([false; 256]);
    match first_of_node(n, ci, &mut set) {
        Some(false) => Some(set),
        _ => None,
    }
}

// ---- fail2ban's default templates ------------------------------------------------------------

/// datedetector.py's DEFAULT_TEMPLATES, in its order.
const DEFAULT_PATTERNS: [&str; 17] = [
    r"%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%a )?%b %d %ExY %k:%M:%S(?:\.%f)?",
    r"%d(?P<_sep>[-/])%m(?P=_sep)(?:%ExY|%Exy) %k:%M:%S",
    r"%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?",
    r"%m/%d/%ExY:%H:%M:%S",
    r"%m-%d-%ExY %k:%M:%S(?:\.%f)?",
    "EPOCH",
    r"{^LN-BEG}%H:%M:%S",
    r"^<%m/%d/%Exy@%H:%M:%S>",
    r"%Exy%Exm%Exd  ?%H:%M:%S",
    r"%b %d, %ExY %I:%M:%S %p",
    r"^%b-%d-%Exy %k:%M:%S",
    r"%ExY%Exm%Exd(?:T|  ?)%ExH%ExM%ExS(?:[.,]%f)?(?:\s*%z)?",
    r"(?:%Z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    r"(?:%z )?(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?",
    "TAI64N",
];

/// One pattern of the datepattern language that is not `{^LN-BEG}`, `{DEFAULT}`, `{NONE}` or
/// has no `{DATE}`: fail2ban's `_getPatternTemplate`.
pub(super) fn from_pattern(pattern: &str) -> Result<Template, TemplateError> {
    let key = if pattern.contains('%') {
        pattern.to_string()
    } else {
        pattern.to_ascii_uppercase()
    };
    if key.contains("EPOCH") {
        if has_epoch_token(pattern) {
            return Template::epoch_pattern(pattern);
        }
        match key.as_str() {
            "EPOCH" => return Ok(Template::epoch(false, false)),
            "{^LN-BEG}EPOCH" | "^EPOCH" => return Ok(Template::epoch(true, false)),
            "LEPOCH" => return Ok(Template::epoch(false, true)),
            "{^LN-BEG}LEPOCH" | "^LEPOCH" => return Ok(Template::epoch(true, true)),
            _ => {}
        }
    }
    match key.as_str() {
        "TAI64N" => Ok(Template::tai64n(false)),
        "{^LN-BEG}TAI64N" | "^TAI64N" => Ok(Template::tai64n(true)),
        "{NONE}" => Template::build("{UNB}^", Begin::Word, true),
        _ => Template::pattern(pattern),
    }
}

fn has_epoch_token(pattern: &str) -> bool {
    let upper = pattern.to_ascii_uppercase();
    ["{EPOCH}", "{LEPOCH}"].iter().any(|t| {
        upper
            .match_indices(t)
            .any(|(i, _)| i == 0 || pattern.as_bytes()[i - 1] != b'\\')
    })
}

/// The `{^LN-BEG}` twin of a default template (`_getAnchoredTemplate`).
fn anchored_twin(pattern: &str) -> Template {
    let mut t = match pattern {
        "EPOCH" => Template::epoch(true, false),
        "TAI64N" => Template::tai64n(true),
        p => Template::pattern(&format!("{{^LN-BEG}}{p}")).expect("fail2ban's default templates compile"),
    };
    t.weight = 100.0;
    t
}

/// fail2ban's cached default list: the `{^LN-BEG}` twins first (weight 100), then all 17.
pub(super) fn defaults() -> &'static [Arc<Template>] {
    static LIST: OnceLock<Vec<Arc<Template>>> = OnceLock::new();
    LIST.get_or_init(|| {
        let originals = default_originals();
        let mut twins = Vec::new();
        for (p, t) in DEFAULT_PATTERNS.iter().zip(originals) {
            if !t.name.starts_with("{^LN-BEG}") && !t.name.starts_with('^') {
                twins.push(Arc::new(anchored_twin(p)));
            }
        }
        twins.extend(originals.iter().cloned());
        twins
    })
}

/// The 17 default templates themselves (what `{DATE}` alone stands for).
pub(super) fn default_originals() -> &'static [Arc<Template>] {
    static LIST: OnceLock<Vec<Arc<Template>>> = OnceLock::new();
    LIST.get_or_init(|| {
        DEFAULT_PATTERNS
            .iter()
            .map(|p| Arc::new(from_pattern(p).expect("fail2ban's default templates compile")))
            .collect()
    })
}

/// `PREFIX{DATE}SUFFIX`: one template per default, its pattern (without its boundaries) in
/// place of `{DATE}`. EPOCH and TAI64N have no pattern: fail2ban puts their names there, so
/// `^{DATE}` gives `^EPOCH` (the line-start epoch template) and `{DATE}` plain `EPOCH`, while
/// anything longer names a pattern that only matches the word itself.
pub(super) fn with_date(pre_match: &str) -> Result<Vec<Template>, TemplateError> {
    let mut out = Vec::new();
    for p in DEFAULT_PATTERNS {
        let inner = match p {
            "EPOCH" => "Epoch",
            "TAI64N" => "TAI64N",
            p => unbound(p),
        };
        out.push(from_pattern(&replace_date_token(pre_match, inner))?);
    }
    Ok(out)
}

/// fail2ban's `unboundPattern`: a default pattern without its own anchors.
fn unbound(p: &str) -> &str {
    let p = p.strip_prefix("{UNB}").unwrap_or(p);
    p.strip_prefix("{^LN-BEG}").unwrap_or(p)
}

/// `{DATE}` (any case, not after `\`) replaced by `date`.
fn replace_date_token(pattern: &str, date: &str) -> String {
    let upper = pattern.to_ascii_uppercase();
    let mut out = String::new();
    let mut last = 0;
    for (i, _) in upper.match_indices("{DATE}") {
        if i > 0 && pattern.as_bytes()[i - 1] == b'\\' {
            continue;
        }
        out.push_str(&pattern[last..i]);
        out.push_str(date);
        last = i + 6;
    }
    out.push_str(&pattern[last..]);
    out
}

pub(super) fn has_date_token(pattern: &str) -> bool {
    pattern.to_ascii_uppercase().contains("{DATE}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(t: &Template, line: &str) -> Option<(usize, usize, String)> {
        let mut vm = Vm::default();
        let h = t.search(line.as_bytes(), 0, line.len(), &mut vm)?;
        Some((h.start, h.end, line[h.date.0..h.date.1].to_string()))
    }

    #[test]
    fn default_list_has_fail2bans_order_twins_first() {
        let names: Vec<&str> = defaults().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names.len(), 31);
        assert_eq!(
            names[0],
            "{^LN-BEG}ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?"
        );
        assert_eq!(names[7], "{^LN-BEG}Epoch");
        assert_eq!(names[13], "{^LN-BEG}TAI64N");
        assert_eq!(
            names[14],
            "ExYear(?P<_sep>[-/.])Month(?P=_sep)Day(?:T|  ?)24hour:Minute:Second(?:[.,]Microseconds)?(?:\\s*Zone offset)?"
        );
        assert_eq!(names[21], "Epoch");
        assert_eq!(names[22], "{^LN-BEG}24hour:Minute:Second");
        assert_eq!(names[30], "TAI64N");
        assert!(
            defaults()[..14]
                .iter()
                .all(|t| t.weight == 100.0 && t.flags & LINE_BEGIN != 0)
        );
        let line_begin: Vec<usize> = defaults()
            .iter()
            .enumerate()
            .filter(|(_, t)| t.flags & LINE_BEGIN != 0)
            .map(|(i, _)| i)
            .collect();
        assert_eq!(
            line_begin,
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 22, 23, 26]
        );
    }

    #[test]
    fn boundaries_and_date_groups_as_fail2ban_builds_them() {
        let t = Template::pattern("%H:%M:%S").unwrap();
        assert_eq!(t.flags, WORD_BEGIN | WORD_END);
        assert_eq!(hit(&t, "at 12:34:56 x"), Some((3, 11, "12:34:56".into())));
        assert_eq!(
            hit(&t, "a12:34:56"),
            None,
            "no word boundary before the 1, and 4:56 lacks seconds"
        );
        let t = Template::pattern("{^LN-BEG}%H:%M:%S").unwrap();
        assert_eq!(t.flags, LINE_BEGIN | WORD_END);
        assert_eq!(hit(&t, "[12:34:56] x"), Some((0, 9, "12:34:56".into())));
        assert_eq!(hit(&t, "x 12:34:56"), None);
        let t = Template::pattern(r"^[^\[]*\[({DATE})").ok();
        assert!(
            t.is_some(),
            "{{DATE}} patterns go through with_date, but parse as text too"
        );
        let t = Template::pattern(r"^<co ts=(%d)").unwrap();
        assert_eq!(t.flags & LINE_BEGIN, LINE_BEGIN);
        let t = Template::pattern("**%H:%M**").unwrap();
        assert_eq!(t.flags, 0, "** removes both boundaries");
        assert_eq!(hit(&t, "a12:34b"), Some((1, 6, "12:34".into())));
        let t = Template::pattern("%H:%M$").unwrap();
        assert_eq!(t.flags & LINE_END, LINE_END);
    }

    #[test]
    fn date_patterns_replace_date_with_each_default() {
        let list = with_date(r"^[^\[]*\[({DATE})").unwrap();
        assert_eq!(list.len(), 17);
        let apache = "192.0.2.1 - - [Thu Jul 11 01:21:41 2013] x";
        let (s, e, date) = list.iter().find_map(|t| hit(t, apache)).unwrap();
        assert_eq!((s, e), (0, 39));
        assert_eq!(date, "Thu Jul 11 01:21:41 2013");
        let murmur = with_date("^<W>{DATE}").unwrap();
        let h = murmur
            .iter()
            .find_map(|t| hit(t, "<W>2015-11-29 16:18:21.143 1 => x"))
            .unwrap();
        assert_eq!(h.2, "<W>2015-11-29 16:18:21.143");
    }

    #[test]
    fn epoch_and_tai64n() {
        let e = from_pattern("EPOCH").unwrap();
        assert_eq!(
            hit(&e, "1700000000.5 x"),
            Some((0, 10, "1700000000".into())),
            "fraction needs 3-6 digits"
        );
        assert_eq!(hit(&e, "[1700000000] x").map(|h| h.2), Some("1700000000".into()));
        assert_eq!(
            hit(&e, "type=AVC msg=audit(1700000000.123:42): x").map(|h| h.2),
            Some("1700000000.123".into())
        );
        assert_eq!(hit(&e, "x 1700000000 y"), None);
        let l = from_pattern("{^LN-BEG}EPOCH").unwrap();
        assert_eq!(l.name, "{^LN-BEG}Epoch");
        assert_eq!(hit(&l, "[1700000000] x").map(|h| h.2), Some("1700000000".into()));
        let t = from_pattern("{^LN-BEG}TAI64N").unwrap();
        assert_eq!(
            hit(&t, "@4000000059f5194706e649ec x").map(|h| h.2),
            Some("@4000000059f5194706e649ec".into())
        );
        assert_eq!(
            hit(&t, "@4000000059F5194706E649EC x"),
            None,
            "fail2ban reads lower-case hex only"
        );
        let p = from_pattern(r"^\[{EPOCH}\]").unwrap();
        assert_eq!(
            hit(&p, "[1700000000] x").map(|h| h.2),
            Some("[1700000000]".into())
        );
    }

    #[test]
    fn anchors_speed_the_search_without_changing_it() {
        let t = &default_originals()[1];
        let Starts::Around(a) = &t.starts else {
            panic!("`:` is fixed text of %k:%M:%S")
        };
        assert_eq!(a.byte, b':');
        assert!(a.fits(b"12:34", 2) && !a.fits(b"https://", 5));
        let line = "host x: Jul 12 08:56:39 y";
        assert_eq!(hit(t, line).map(|h| h.2), Some("Jul 12 08:56:39".into()));
    }
}
