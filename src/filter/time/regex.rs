//! The regex around the `%` fields of a datepattern (`^[^\[]*\[({DATE})`, `(?P<_sep>[-/.])`,
//! `(?:\.%f)?`, …) in Python `re` syntax, parsed once into nodes with the fields as nodes of their
//! own; `vm` compiles the nodes for matching, `template` reads their widths and first bytes to
//! decide where a search may start.
use super::fields::{Field, Key};

/// Capture groups (with group 0 unused) and value slots a template may use.
pub(super) const MAX_GROUPS: usize = 32;
pub(super) const MAX_VALUES: usize = 24;

/// Bytes that continue a word (Python's `\w`; any non-ASCII byte counts as a letter).
#[inline]
pub(super) fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || !b.is_ascii()
}

#[derive(Debug)]
pub(super) enum Node {
    /// Fixed text; `fold`: compared ignoring ASCII case (stored lower-case).
    Bytes {
        bytes: Box<[u8]>,
        fold: bool,
    },
    /// One byte of a set.
    Class(Box<[bool; 256]>),
    /// A `%` field; its text goes to value slot `slot`.
    Field {
        field: Field,
        slot: u8,
    },
    Group(Box<Group>),
    Repeat(Box<Repeat>),
    /// `(?P=name)`, `\1`: the text group N took.
    BackRef(u8),
    Assert(Assert),
    Look(Box<Look>),
}

#[derive(Debug)]
pub(super) struct Group {
    /// Capture number, for capturing groups.
    pub(super) cap: Option<u8>,
    /// A named group called like a field (`(?P<H>…)`) also fills that value.
    pub(super) value: Option<u8>,
    pub(super) alts: Vec<Vec<Node>>,
}

#[derive(Debug)]
pub(super) struct Repeat {
    pub(super) node: Node,
    pub(super) min: u32,
    /// `u32::MAX`: unbounded.
    pub(super) max: u32,
    pub(super) greedy: bool,
}

#[derive(Debug)]
pub(super) struct Look {
    pub(super) behind: bool,
    pub(super) negate: bool,
    pub(super) alts: Vec<Vec<Node>>,
    /// Lookbehind: the fixed width Python requires.
    pub(super) width: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Assert {
    Start,
    End,
    WordBoundary,
    NotWordBoundary,
    /// fail2ban's `(?=^|\b|\W)` in front of a date.
    DateStart,
    /// fail2ban's `(?=\b|\W|$)` after a date.
    DateEnd,
}

/// A parsed pattern: its nodes and what the matcher needs to size its state.
#[derive(Debug)]
pub(super) struct Program {
    pub(super) seq: Vec<Node>,
    pub(super) groups: usize,
    /// Key of each value slot.
    pub(super) values: Vec<Key>,
    pub(super) ci: bool,
    /// `%ExY`'s highest third digit (years 2000 to 20N9).
    pub(super) max_year_digit: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    pub(super) start: u32,
    pub(super) end: u32,
}

impl Span {
    pub(super) const NONE: Span = Span {
        start: u32::MAX,
        end: u32::MAX,
    };

    /// Moved by `delta` positions (a wrapping add: positions fit in u32); NONE stays NONE.
    pub(super) fn moved(self, delta: u32) -> Span {
        let moved = |x: u32| if x == u32::MAX { x } else { x.wrapping_add(delta) };
        Span {
            start: moved(self.start),
            end: moved(self.end),
        }
    }

    pub(super) fn get(self) -> Option<(usize, usize)> {
        (self.start != u32::MAX && self.end != u32::MAX).then_some((self.start as usize, self.end as usize))
    }
}

/// Captures and values of one match: where each field's text is, and what it means
/// (`Field::value`).
#[derive(Clone, Debug)]
pub(super) struct Spans {
    pub(super) caps: [Span; MAX_GROUPS],
    pub(super) values: [Span; MAX_VALUES],
    pub(super) vals: [i32; MAX_VALUES],
}

impl Default for Spans {
    fn default() -> Self {
        Spans {
            caps: [Span::NONE; MAX_GROUPS],
            values: [Span::NONE; MAX_VALUES],
            vals: [0; MAX_VALUES],
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ParseError(pub String);

// ---- parsing ---------------------------------------------------------------------------------

/// Parses a datepattern's regex (fields included). `ci`: fail2ban's `(?iu)` (set when the pattern
/// has a name field or a `(?i)`).
pub(super) fn parse(pattern: &str, ci: bool, max_year_digit: u8) -> Result<Program, ParseError> {
    let mut p = Parser {
        s: pattern.as_bytes(),
        i: 0,
        ci,
        groups: 0,
        names: Vec::new(),
        values: Vec::new(),
    };
    let alts = p.alternation(0)?;
    if p.i < p.s.len() {
        return Err(p.err("unbalanced parenthesis `)`"));
    }
    let seq = if alts.len() == 1 {
        alts.into_iter().next().unwrap_or_default()
    } else {
        vec![Node::Group(Box::new(Group {
            cap: None,
            value: None,
            alts,
        }))]
    };
    Ok(Program {
        seq,
        groups: p.groups,
        values: p.values,
        ci,
        max_year_digit,
    })
}

/// Whether fail2ban would match this pattern case-insensitively: a name field (`%a %A %b %B %p
/// %c`, not after another `%`) or an `(?i…)` flag group anywhere.
pub(super) fn wants_ci(pattern: &str) -> bool {
    let b = pattern.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            match b.get(i + 1) {
                Some(b'a' | b'A' | b'b' | b'B' | b'p' | b'c') => return true,
                Some(b'%') => i += 1,
                _ => {}
            }
        }
        i += 1;
    }
    flag_group(pattern).is_some_and(|f| f.contains('i'))
}

/// The first `(?flags)` group (letters only), as fail2ban's RE_GLOBALFLAGS finds it.
pub(super) fn flag_group(pattern: &str) -> Option<&str> {
    let mut rest = pattern;
    while let Some(at) = rest.find("(?") {
        let after = &rest[at + 2..];
        let n = after.bytes().take_while(u8::is_ascii_lowercase).count();
        if n > 0 && after.as_bytes().get(n) == Some(&b')') {
            return Some(&after[..n]);
        }
        rest = &rest[at + 2..];
    }
    None
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    ci: bool,
    groups: usize,
    names: Vec<(String, u8)>,
    values: Vec<Key>,
}

impl Parser<'_> {
    fn err(&self, what: &str) -> ParseError {
        ParseError(format!("{what} at position {}", self.i))
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, text: &str) -> bool {
        if self.s[self.i..].starts_with(text.as_bytes()) {
            self.i += text.len();
            true
        } else {
            false
        }
    }

    fn alternation(&mut self, depth: usize) -> Result<Vec<Vec<Node>>, ParseError> {
        if depth > 50 {
            return Err(self.err("groups nested too deep"));
        }
        let mut alts = vec![self.sequence(depth)?];
        while self.peek() == Some(b'|') {
            self.i += 1;
            alts.push(self.sequence(depth)?);
        }
        Ok(alts)
    }

    fn sequence(&mut self, depth: usize) -> Result<Vec<Node>, ParseError> {
        let mut seq: Vec<Node> = Vec::new();
        while let Some(c) = self.peek() {
            if c == b'|' || c == b')' {
                break;
            }
            let Some(atom) = self.atom(depth)? else {
                continue;
            };
            let atom = self.quantified(atom)?;
            // Merge runs of fixed text into one node.
            if let (
                Some(Node::Bytes { bytes, fold }),
                Node::Bytes {
                    bytes: more,
                    fold: f2,
                },
            ) = (seq.last_mut(), &atom)
                && *fold == *f2
            {
                let mut v = bytes.to_vec();
                v.extend_from_slice(more);
                *bytes = v.into_boxed_slice();
                continue;
            }
            seq.push(atom);
        }
        Ok(seq)
    }

    fn literal(&self, b: u8) -> Node {
        let fold = self.ci && b.is_ascii_alphabetic();
        Node::Bytes {
            bytes: Box::new([if fold { b.to_ascii_lowercase() } else { b }]),
            fold,
        }
    }

    /// One atom, or None for something that matches nothing (a comment).
    fn atom(&mut self, depth: usize) -> Result<Option<Node>, ParseError> {
        let c = self.peek().ok_or_else(|| self.err("unexpected end"))?;
        self.i += 1;
        Ok(Some(match c {
            b'(' => return self.group(depth),
            b'[' => Node::Class(Box::new(self.class()?)),
            b'.' => {
                let mut set = [true; 256];
                set[usize::from(b'\n')] = false;
                Node::Class(Box::new(set))
            }
            b'^' => Node::Assert(Assert::Start),
            b'$' => Node::Assert(Assert::End),
            b'\\' => self.escape()?,
            b'%' => self.field()?,
            b'*' | b'+' | b'?' => return Err(self.err("nothing to repeat")),
            b'{' if self.quantifier_ahead() => return Err(self.err("nothing to repeat")),
            other => self.literal(other),
        }))
    }

    fn field(&mut self) -> Result<Node, ParseError> {
        if self.eat("%") {
            return Ok(self.literal(b'%'));
        }
        // `{EPOCH}` and `{LEPOCH}`, which the template turned into `%\x01E` and `%\x01L`.
        if self.peek() == Some(1) {
            let field = match self.s.get(self.i + 1) {
                Some(b'E') => Field::Epoch,
                Some(b'L') => Field::LongEpoch,
                _ => return Err(self.err("bad epoch token")),
            };
            self.i += 2;
            let slot = self.value_slot(field.key(""))?;
            return Ok(Node::Field { field, slot });
        }
        let start = self.i;
        let len = if self.s[self.i..].starts_with(b"Ex") { 3 } else { 1 };
        let directive = self
            .s
            .get(start..start + len)
            .and_then(|d| std::str::from_utf8(d).ok())
            .ok_or_else(|| self.err("`%` at the end: write `%%` for a percent sign"))?;
        let field = Field::from_directive(directive).ok_or_else(|| {
            ParseError(format!(
                "`%{directive}` at position {} is not a date field (fields: %Y %y %m %d %e %H %k %I %l %M %S %f %p \
                 %a %A %b %B %j %U %W %w %z %Z and the %Ex… forms; `%%` for a percent sign)",
                start - 1
            ))
        })?;
        self.i += len;
        let slot = self.value_slot(field.key(directive))?;
        Ok(Node::Field { field, slot })
    }

    fn value_slot(&mut self, key: Key) -> Result<u8, ParseError> {
        if self.values.contains(&key) {
            return Err(self.err("the same date field twice (Python refuses a group name twice)"));
        }
        if self.values.len() >= MAX_VALUES {
            return Err(self.err("too many date fields"));
        }
        self.values.push(key);
        Ok((self.values.len() - 1) as u8)
    }

    fn group(&mut self, depth: usize) -> Result<Option<Node>, ParseError> {
        let mut cap = None;
        let mut value = None;
        if self.eat("?#") {
            while let Some(c) = self.peek() {
                self.i += 1;
                if c == b')' {
                    return Ok(None);
                }
            }
            return Err(self.err("unterminated comment"));
        }
        if self.eat("?P=") {
            let name = self.name(b')')?;
            let (_, n) = self
                .names
                .iter()
                .find(|(n, _)| *n == name)
                .ok_or_else(|| self.err(&format!("unknown group name {name:?}")))?;
            return Ok(Some(Node::BackRef(*n)));
        }
        let look = if self.eat("?=") {
            Some((false, false))
        } else if self.eat("?!") {
            Some((false, true))
        } else if self.eat("?<=") {
            Some((true, false))
        } else if self.eat("?<!") {
            Some((true, true))
        } else {
            None
        };
        if let Some((behind, negate)) = look {
            let alts = self.alternation(depth + 1)?;
            self.close()?;
            let width = if behind {
                let w: Vec<_> = alts.iter().map(|a| seq_width(a)).collect();
                match w.first() {
                    Some(&(lo, Some(hi))) if lo == hi && w.iter().all(|&x| x == (lo, Some(hi))) => lo,
                    _ => return Err(self.err("look-behind requires fixed-width pattern")),
                }
            } else {
                0
            };
            return Ok(Some(Node::Look(Box::new(Look {
                behind,
                negate,
                alts,
                width,
            }))));
        }
        if self.eat("?P<") {
            let name = self.name(b'>')?;
            cap = Some(self.new_group()?);
            if let Some(key) = Key::from_group_name(&name) {
                value = Some(self.value_slot(key)?);
            }
            self.names.push((name, cap.unwrap_or(0)));
        } else if self.eat("?:") {
        } else if self.peek() == Some(b'?') {
            // `(?flags)`: fail2ban moves the first one to the front; the caller already took ci.
            let rest = &self.s[self.i + 1..];
            let n = rest.iter().take_while(|c| c.is_ascii_lowercase()).count();
            if n > 0 && rest.get(n) == Some(&b')') {
                self.i += n + 2;
                return Ok(None);
            }
            return Err(self.err("unsupported group: banjo's datepatterns know (?:…), (?P<name>…), (?P=name), (?=…), (?!…), (?<=…), (?<!…), (?#…) and a leading (?i)"));
        } else {
            cap = Some(self.new_group()?);
        }
        let alts = self.alternation(depth + 1)?;
        self.close()?;
        Ok(Some(Node::Group(Box::new(Group { cap, value, alts }))))
    }

    fn new_group(&mut self) -> Result<u8, ParseError> {
        self.groups += 1;
        if self.groups >= MAX_GROUPS {
            return Err(self.err("too many groups"));
        }
        Ok(self.groups as u8)
    }

    fn close(&mut self) -> Result<(), ParseError> {
        if self.eat(")") {
            Ok(())
        } else {
            Err(self.err("missing `)`"))
        }
    }

    fn name(&mut self, end: u8) -> Result<String, ParseError> {
        let start = self.i;
        while let Some(c) = self.peek() {
            self.i += 1;
            if c == end {
                let name = String::from_utf8_lossy(&self.s[start..self.i - 1]).into_owned();
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                    return Err(self.err("bad group name"));
                }
                return Ok(name);
            }
        }
        Err(self.err("unterminated group name"))
    }

    fn escape(&mut self) -> Result<Node, ParseError> {
        let c = self.peek().ok_or_else(|| self.err("`\\` at the end"))?;
        self.i += 1;
        Ok(match c {
            b'b' => Node::Assert(Assert::WordBoundary),
            b'B' => Node::Assert(Assert::NotWordBoundary),
            b'A' => Node::Assert(Assert::Start),
            b'Z' => Node::Assert(Assert::End),
            b'1'..=b'9' => {
                let n = c - b'0';
                if usize::from(n) > self.groups {
                    return Err(self.err("back-reference to a group not yet defined"));
                }
                Node::BackRef(n)
            }
            _ => match class_escape(c) {
                Some(set) => Node::Class(Box::new(set)),
                None => {
                    let b = self.escaped_byte(c)?;
                    self.literal(b)
                }
            },
        })
    }

    /// `\n`, `\t`, `\x41`, `\.`, …: the byte an escape stands for.
    fn escaped_byte(&mut self, c: u8) -> Result<u8, ParseError> {
        Ok(match c {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'f' => 0x0c,
            b'v' => 0x0b,
            b'a' => 0x07,
            b'0' => 0,
            b'x' => {
                let hex = self
                    .s
                    .get(self.i..self.i + 2)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| self.err("bad \\x escape"))?;
                self.i += 2;
                hex
            }
            c if c.is_ascii_alphanumeric() => return Err(self.err(&format!("bad escape \\{}", c as char))),
            c => c,
        })
    }

    fn class(&mut self) -> Result<[bool; 256], ParseError> {
        let mut set = [false; 256];
        let negate = self.eat("^");
        let mut first = true;
        loop {
            let c = self
                .peek()
                .ok_or_else(|| self.err("unterminated character set"))?;
            self.i += 1;
            if c == b']' && !first {
                break;
            }
            first = false;
            let lo = if c == b'\\' {
                let e = self.peek().ok_or_else(|| self.err("`\\` at the end"))?;
                self.i += 1;
                if let Some(s) = class_escape(e) {
                    for (d, x) in set.iter_mut().zip(s) {
                        *d |= x;
                    }
                    continue;
                }
                self.escaped_byte(e)?
            } else {
                c
            };
            let range_end = self.s.get(self.i + 1).copied();
            if self.peek() == Some(b'-') && range_end.is_some_and(|e| e != b']') {
                self.i += 1;
                let mut hi = self.peek().unwrap_or(0);
                self.i += 1;
                if hi == b'\\' {
                    let e = self.peek().ok_or_else(|| self.err("`\\` at the end"))?;
                    self.i += 1;
                    hi = self.escaped_byte(e)?;
                }
                if hi < lo {
                    return Err(self.err("bad character range"));
                }
                for b in lo..=hi {
                    set[usize::from(b)] = true;
                }
            } else {
                set[usize::from(lo)] = true;
            }
        }
        if self.ci {
            for b in b'a'..=b'z' {
                let (l, u) = (usize::from(b), usize::from(b.to_ascii_uppercase()));
                let either = set[l] || set[u];
                set[l] = either;
                set[u] = either;
            }
        }
        if negate {
            for x in set.iter_mut() {
                *x = !*x;
            }
        }
        Ok(set)
    }

    fn quantifier_ahead(&self) -> bool {
        // `{n}`, `{n,}`, `{,m}`, `{n,m}` at self.i (just after `{`).
        let rest = &self.s[self.i..];
        let Some(end) = rest.iter().position(|&c| c == b'}') else {
            return false;
        };
        let inner = &rest[..end];
        !inner.is_empty()
            && inner.iter().all(|&c| c.is_ascii_digit() || c == b',')
            && inner.iter().filter(|&&c| c == b',').count() <= 1
            && inner != b","
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, ParseError> {
        let (min, max) = match self.peek() {
            Some(b'*') => (0, u32::MAX),
            Some(b'+') => (1, u32::MAX),
            Some(b'?') => (0, 1),
            Some(b'{') => {
                self.i += 1;
                if !self.quantifier_ahead() {
                    self.i -= 1;
                    return Ok(atom);
                }
                let end = self.i + self.s[self.i..].iter().position(|&c| c == b'}').unwrap_or(0);
                let inner = std::str::from_utf8(&self.s[self.i..end]).unwrap_or_default();
                let num = |t: &str, default: u32| -> Result<u32, ParseError> {
                    if t.is_empty() {
                        Ok(default)
                    } else {
                        t.parse().map_err(|_| self.err("repeat count too large"))
                    }
                };
                let (lo, hi) = match inner.split_once(',') {
                    Some((a, b)) => (num(a, 0)?, num(b, u32::MAX)?),
                    None => {
                        let n = num(inner, 0)?;
                        (n, n)
                    }
                };
                if hi < lo {
                    return Err(self.err("min repeat greater than max repeat"));
                }
                self.i = end;
                (lo, hi)
            }
            _ => return Ok(atom),
        };
        self.i += 1;
        if matches!(atom, Node::Assert(_) | Node::Look(_)) && max > 1 {
            return Err(self.err("nothing to repeat"));
        }
        let greedy = !self.eat("?");
        if self.peek() == Some(b'+') || matches!(self.peek(), Some(b'*' | b'?')) {
            return Err(self.err("multiple repeat"));
        }
        Ok(Node::Repeat(Box::new(Repeat {
            node: atom,
            min,
            max,
            greedy,
        })))
    }
}

/// `\d \D \s \S \w \W` as byte sets.
fn class_escape(c: u8) -> Option<[bool; 256]> {
    let set = |f: fn(u8) -> bool| {
        let mut s = [false; 256];
        for (i, x) in s.iter_mut().enumerate() {
            *x = f(i as u8);
        }
        s
    };
    Some(match c {
        b'd' => set(|b| b.is_ascii_digit()),
        b'D' => set(|b| !b.is_ascii_digit()),
        b's' => set(is_space),
        b'S' => set(|b| !is_space(b)),
        b'w' => set(is_word),
        b'W' => set(|b| !is_word(b)),
        _ => return None,
    })
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

// ---- widths (for look-behind and the search's anchors) --------------------------------------

/// (shortest, longest) a sequence can match; None when unbounded.
pub(super) fn seq_width(seq: &[Node]) -> (usize, Option<usize>) {
    seq.iter().fold((0, Some(0)), |(lo, hi), n| {
        let (a, b) = node_width(n);
        (lo + a, hi.zip(b).map(|(x, y)| x + y))
    })
}

pub(super) fn node_width(n: &Node) -> (usize, Option<usize>) {
    match n {
        Node::Bytes { bytes, .. } => (bytes.len(), Some(bytes.len())),
        Node::Class(_) => (1, Some(1)),
        Node::Field { field, .. } => field.width(),
        Node::Group(g) => alts_width(&g.alts),
        Node::Repeat(r) => {
            let (a, b) = node_width(&r.node);
            let hi = match (b, r.max) {
                (Some(0), _) => Some(0),
                (_, u32::MAX) => None,
                (Some(b), m) => Some(b * m as usize),
                (None, _) => None,
            };
            (a * r.min as usize, hi)
        }
        // Unknown at parse time: the group's width would do, but nothing needs it yet.
        Node::BackRef(_) => (0, None),
        Node::Assert(_) | Node::Look(_) => (0, Some(0)),
    }
}

pub(super) fn alts_width(alts: &[Vec<Node>]) -> (usize, Option<usize>) {
    let mut lo = usize::MAX;
    let mut hi = Some(0);
    for a in alts {
        let (x, y) = seq_width(a);
        lo = lo.min(x);
        hi = hi.zip(y).map(|(p, q)| p.max(q));
    }
    (if lo == usize::MAX { 0 } else { lo }, hi)
}

// ---- first bytes (for the search's start test and the machine's guarded choices) ------------

/// Adds the first bytes of `seq` to `set`; Some(nullable), or None when unknown.
pub(super) fn first_of_seq(seq: &[Node], ci: bool, set: &mut [bool; 256]) -> Option<bool> {
    for n in seq {
        if !first_of_node(n, ci, set)? {
            return Some(false);
        }
    }
    Some(true)
}

pub(super) fn first_of_node(n: &Node, ci: bool, set: &mut [bool; 256]) -> Option<bool> {
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

/// Zero-width tests; `line` ends where the search ends (Python's `endpos`).
#[inline]
pub(super) fn assert(a: Assert, line: &[u8], pos: usize) -> bool {
    let before = pos.checked_sub(1).and_then(|i| line.get(i)).copied();
    let here = line.get(pos).copied();
    let word_before = before.is_some_and(is_word);
    let word_here = here.is_some_and(is_word);
    match a {
        Assert::Start => pos == 0,
        Assert::End => pos == line.len() || (pos + 1 == line.len() && here == Some(b'\n')),
        Assert::WordBoundary => word_before != word_here,
        Assert::NotWordBoundary => word_before == word_here,
        // (?=^|\b|\W)
        Assert::DateStart => pos == 0 || word_before != word_here || here.is_some_and(|b| !is_word(b)),
        // (?=\b|\W|$)
        Assert::DateEnd => !(word_before && word_here),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_patterns_say_why() {
        for (p, why) in [
            ("%Q", "not a date field"),
            ("(ab", "missing `)`"),
            ("ab)", "unbalanced"),
            ("*a", "nothing to repeat"),
            ("[ab", "unterminated"),
            (r"(?<=a+)b", "fixed-width"),
            ("%H %H", "twice"),
            ("(?(x)a|b)", "unsupported group"),
            ("%", "at the end"),
        ] {
            let e = parse(p, false, 2).unwrap_err();
            assert!(e.0.contains(why), "{p}: {e}");
        }
    }

    #[test]
    fn widths_bound_what_a_pattern_can_take() {
        let w = |p: &str| seq_width(&parse(p, false, 2).unwrap().seq);
        assert_eq!(w("%H:%M:%S"), (5, Some(8)));
        assert_eq!(w("(?:%a )?%b"), (3, Some(7)));
        assert_eq!(w(r"[^\[]*\["), (1, None));
    }
}
