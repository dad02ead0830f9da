//! Date templates as fail2ban builds them (its datetemplate.py and datedetector.py): a
//! datepattern line becomes a template with fail2ban's word or line boundaries, flags, name and
//! date group; fail2ban's default list is built here in its order, each unanchored template
//! preceded by its `{^LN-BEG}` twin. Templates are compiled once; `search` is per line.
use std::sync::{Arc, OnceLock};

use super::fields::{Field, Key};
use super::regex::{self, Assert, Group, Matcher, Node, Program, Repeat, Spans};

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
    /// Capture group holding the date text (the part cut out of the line).
    date_group: u8,
    pub(super) flags: u8,
    /// fail2ban prefers line-anchored twins of its defaults (100) over the rest (1).
    pub(super) weight: f64,
    pub(super) convert: Convert,
    /// Only ever matches at position 0.
    anchored: bool,
    /// A byte every match has, at a bounded distance from its start: starts are only tried
    /// around its occurrences (the `:` of `%H:%M:%S`).
    anchor: Option<Anchor>,
    /// Bytes a match can start with; None when it can start with anything.
    first: Option<Box<[bool; 256]>>,
}

#[derive(Clone, Copy, Debug)]
struct Anchor {
    byte: u8,
    /// Offsets of that byte from the match start.
    lo: usize,
    hi: usize,
}

/// A template's hit in a line: the whole match (for the detector's memory) and the date text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
        Ok(Template::finish(name, Program { seq, ..prog }, 1, flags, convert))
    }

    fn finish(name: String, prog: Program, date_group: u8, flags: u8, convert: Convert) -> Template {
        let anchored = matches!(prog.seq.first(), Some(Node::Assert(Assert::Start)));
        let anchor = anchor(&prog.seq, prog.ci);
        let first = first_set(&prog.seq, prog.ci);
        Template {
            name,
            prog,
            date_group,
            flags,
            weight: 1.0,
            convert,
            anchored,
            anchor,
            first,
        }
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
        Template::finish(name, prog, 1, flags, Convert::Fields)
    }

    /// fail2ban's `DateTai64n`: `@` and 24 lower-case hex digits.
    fn tai64n(line_begin: bool) -> Template {
        let mut hex = [false; 256];
        for b in b"0123456789abcdef" {
            hex[usize::from(*b)] = true;
        }
        let date = Node::Group(Box::new(Group {
            cap: Some(1),
            value: None,
            alts: vec![vec![
                Node::Bytes {
                    bytes: Box::new(*b"@"),
                    fold: false,
                },
                Node::Repeat(Box::new(Repeat {
                    node: Node::Class(Box::new(hex)),
                    min: 24,
                    max: 24,
                    greedy: true,
                })),
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
            values: Vec::new(),
            ci: false,
            max_year_digit: max_year_digit(),
        };
        Template::finish(name, prog, 1, flags, Convert::Tai64n)
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
        Ok(Template::finish(
            pattern.trim().to_string(),
            Program { seq, ..prog },
            1,
            flags,
            Convert::Fields,
        ))
    }

    pub(super) fn line_anchored(&self) -> bool {
        self.flags & (LINE_BEGIN | LINE_END) != 0
    }

    pub(super) fn keys(&self) -> &[Key] {
        &self.prog.values
    }

    /// Python's `regex.search(line, from, to)`: the leftmost match starting in `from..=to`,
    /// with `to` taken as the end of the line.
    pub(super) fn search(&self, line: &[u8], from: usize, to: usize, spans: &mut Spans) -> Option<Hit> {
        let line = &line[..to.min(line.len())];
        let to = line.len();
        if from > to {
            return None;
        }
        let mut m = Matcher::new(&self.prog, line, spans);
        let try_at = |p: usize, m: &mut Matcher<'_>| -> Option<Hit> {
            if let Some(first) = &self.first
                && !line.get(p).is_some_and(|&b| first[usize::from(b)])
            {
                return None;
            }
            let end = m.at(&self.prog.seq, p)?;
            let date = m.spans.caps[usize::from(self.date_group)]
                .get()
                .unwrap_or((p, end));
            Some(Hit { start: p, end, date })
        };
        if self.anchored {
            return if from == 0 { try_at(0, &mut m) } else { None };
        }
        match self.anchor {
            Some(a) => {
                let mut next = from;
                for q in memchr::memchr_iter(a.byte, &line[from..]).map(|q| q + from) {
                    let lo = q.saturating_sub(a.hi).max(next);
                    let Some(hi) = q.checked_sub(a.lo) else { continue };
                    for p in lo..=hi {
                        if let Some(h) = try_at(p, &mut m) {
                            return Some(h);
                        }
                    }
                    next = next.max(hi + 1);
                }
                None
            }
            None => (from..=to).find_map(|p| try_at(p, &mut m)),
        }
    }
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

/// Adds the first bytes of `seq` to `set`; Some(nullable), or None when unknown.
fn first_of_seq(seq: &[Node], ci: bool, set: &mut [bool; 256]) -> Option<bool> {
    for n in seq {
        if !first_of_node(n, ci, set)? {
            return Some(false);
        }
    }
    Some(true)
}

fn first_of_node(n: &Node, ci: bool, set: &mut [bool; 256]) -> Option<bool> {
    match n {
        Node::Bytes { bytes, fold } => {
            let b = *bytes.first()?;
            set[usize::from(b)] = true;
            if *fold {
                set[usize::from(b.to_ascii_uppercase())] = true;
            }
            Some(false)
        }
        Node::Class(s) => {
            for (d, x) in set.iter_mut().zip(s.iter()) {
                *d |= x;
            }
            Some(false)
        }
        Node::Field { field, .. } => {
            field.first_bytes(ci, set);
            Some(field.width().0 == 0)
        }
        Node::Group(g) => {
            let mut nullable = false;
            for alt in &g.alts {
                nullable |= first_of_seq(alt, ci, set)?;
            }
            Some(nullable)
        }
        Node::Repeat(r) => {
            let inner = first_of_node(&r.node, ci, set)?;
            Some(inner || r.min == 0)
        }
        Node::BackRef(_) => None,
        Node::Assert(_) | Node::Look(_) => Some(true),
    }
}

/// A byte all matches contain at a bounded offset from their start (fixed text, not folded),
/// preferring punctuation (rarer in lines than letters or digits). Groups with one alternative
/// (the date group) are looked into.
fn anchor(seq: &[Node], _ci: bool) -> Option<Anchor> {
    let mut walk = AnchorWalk {
        lo: 0,
        hi: Some(0),
        best: None,
    };
    walk.seq(seq);
    walk.best
}

struct AnchorWalk {
    lo: usize,
    hi: Option<usize>,
    best: Option<Anchor>,
}

impl AnchorWalk {
    /// False once the walk must stop (an unbounded offset, or punctuation found).
    fn seq(&mut self, seq: &[Node]) -> bool {
        for n in seq {
            let Some(h) = self.hi else { return false };
            match n {
                Node::Group(g) if g.alts.len() == 1 => {
                    if !self.seq(&g.alts[0]) {
                        return false;
                    }
                    continue;
                }
                Node::Bytes { bytes, fold } if !*fold || !bytes[0].is_ascii_alphabetic() => {
                    let b = bytes[0];
                    let cand = Anchor {
                        byte: b,
                        lo: self.lo,
                        hi: h,
                    };
                    let punct = !b.is_ascii_alphanumeric() && b != b' ';
                    if punct {
                        self.best = Some(cand);
                        return false;
                    }
                    self.best.get_or_insert(cand);
                }
                _ => {}
            }
            let (a, b) = regex::node_width(n);
            self.lo += a;
            self.hi = b.map(|b| h + b);
        }
        true
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
        let mut spans = Spans::default();
        let h = t.search(line.as_bytes(), 0, line.len(), &mut spans)?;
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
        let a = t.anchor.expect("`:` is fixed text of %k:%M:%S");
        assert_eq!(a.byte, b':');
        let line = "host x: Jul 12 08:56:39 y";
        assert_eq!(hit(t, line).map(|h| h.2), Some("Jul 12 08:56:39".into()));
    }
}
