//! fail2ban's regex dialect → a regex the Rust engines accept.
//!
//! fail2ban writes Python `re` syntax plus tags: `<HOST>` and friends for the address to ban,
//! `<F-NAME>…</F-NAME>` and `<F-PORT/>`-style self-closed tags for named captures,
//! `<SKIPLINES>` for the lines a multi-line failure may skip. This module rewrites one pattern
//! in a single pass that knows where character classes start and end (Python and Rust read
//! `[`, `&&`, `{` and `\<` differently there) and says which engine the result needs; it
//! compiles nothing itself. The tag expansions are fail2ban's own (server/failregex.py).

/// fail2ban's IPv4 alternative (IPAddr.IP_4_RE), captured without a `::ffff:` mapping prefix.
/// ASCII digits (fail2ban's `\d` is Unicode, but an address never has other digits): the
/// smaller class keeps the capture engines fast.
const IP4: &str = r"(?:[0-9]{1,3}\.){3}[0-9]{1,3}";
/// fail2ban's IPv6 alternative. Its `(?<=:):` look-behind always holds (every repetition ends
/// in ':'), so a plain ':' is equivalent and keeps the pattern on the linear-time engine.
const IP6: &str = r"(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:)";
/// fail2ban's host-name alternative.
const DNS: &str = r"[\w\-.^_]*\w";

/// Which kinds of address a tag admits, in fail2ban's order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostTag {
    /// `<HOST>`: IPv4 or IPv6 (optionally in brackets) or a host name.
    Host,
    /// `<ADDR>`: an IPv4 or IPv6 address (optionally in brackets), no names.
    Addr,
    /// `<IP4>`.
    Ip4,
    /// `<IP6>`.
    Ip6,
    /// `<DNS>`: a host name only.
    Dns,
    /// `<SUBNET>`: an address with an optional `/prefix`.
    Subnet,
}

/// One pattern rewritten for the Rust engines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translated {
    /// The regex text, with tags replaced by named groups.
    pub regex: String,
    /// One entry per address tag, in order; entry k owns groups `ip4_k`, `ip6_k`, `dns_k`
    /// (k = 0 has the plain names `ip4`, `ip6`, `dns` as fail2ban names them).
    pub hosts: Vec<HostTag>,
    /// Names of `<F-…>` captures, lower-cased as fail2ban does (`<F-USER>` → `user`).
    pub fields: Vec<String>,
    /// How many `<SKIPLINES>` the pattern has (groups `skiplines0`, `skiplines1`, …).
    pub skiplines: usize,
    /// The pattern needs look-around, back-references, conditionals or atomic groups: only
    /// the backtracking engine runs it.
    pub needs_fallback: bool,
}

/// Rewrites fail2ban tags and Python-only syntax. Errors name what cannot be expressed.
pub fn translate(pattern: &str) -> Result<Translated, String> {
    let mut t = Translator {
        out: String::with_capacity(pattern.len() + 64),
        hosts: Vec::new(),
        fields: Vec::new(),
        open_fields: Vec::new(),
        skiplines: 0,
        repeatable: false,
    };
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        let consumed = match c {
            '\\' => t.escape(rest)?,
            '[' => t.class(rest)?,
            '(' => t.group_open(rest)?,
            '{' => t.brace(rest),
            '}' | ']' => {
                // literal in Python; Rust wants them escaped outside a class
                t.push_literal(c);
                1
            }
            '<' => t.tag(rest)?,
            _ => {
                t.out.push(c);
                t.repeatable = !matches!(c, '|' | '^' | '*' | '+' | '?');
                c.len_utf8()
            }
        };
        rest = &rest[consumed..];
    }
    let needs_fallback = needs_fallback(&t.out);
    Ok(Translated {
        regex: t.out,
        hosts: t.hosts,
        fields: t.fields,
        skiplines: t.skiplines,
        needs_fallback,
    })
}

struct Translator {
    out: String,
    hosts: Vec<HostTag>,
    fields: Vec<String>,
    /// `<F-NAME>` tags opened and not yet closed (fail2ban closes only what was opened).
    open_fields: Vec<String>,
    skiplines: usize,
    /// Whether what was just written can take a quantifier (decides whether `{` is one).
    repeatable: bool,
}

impl Translator {
    fn push_literal(&mut self, c: char) {
        if regex_syntax::is_meta_character(c) {
            self.out.push('\\');
        }
        self.out.push(c);
        self.repeatable = true;
    }

    /// An escape outside a character class.
    fn escape(&mut self, rest: &str) -> Result<usize, String> {
        let mut chars = rest.chars();
        chars.next();
        let Some(c) = chars.next() else {
            return Err("the pattern ends with a lone backslash".into());
        };
        self.repeatable = true;
        match c {
            // Python's end of text; Rust spells it \z
            'Z' => self.out.push_str(r"\z"),
            // literal in Python, word boundaries in Rust
            '<' | '>' => self.out.push(c),
            '0' => return Ok(1 + octal(&rest[1..], &mut self.out)),
            '1'..='9' => {
                // a back-reference \1 … \99 (the fallback engine runs it)
                let digits = rest[1..].bytes().take(2).take_while(u8::is_ascii_digit).count();
                self.out.push_str(&rest[..1 + digits]);
                return Ok(1 + digits);
            }
            c if c.is_ascii_alphabetic() => {
                self.out.push('\\');
                self.out.push(c);
            }
            c => self.push_literal(c),
        }
        Ok(1 + c.len_utf8())
    }

    /// A whole character class `[…]`, rewritten item by item.
    fn class(&mut self, rest: &str) -> Result<usize, String> {
        let b = rest.as_bytes();
        let mut i = 1;
        self.out.push('[');
        if b.get(i) == Some(&b'^') {
            self.out.push('^');
            i += 1;
        }
        // `]` first in a class is a literal in Python
        let mut items: Vec<ClassItem> = Vec::new();
        if b.get(i) == Some(&b']') {
            items.push(ClassItem::Char(']'));
            i += 1;
        }
        loop {
            let Some(c) = rest[i..].chars().next() else {
                return Err("a character class `[` is never closed".into());
            };
            match c {
                ']' => {
                    i += 1;
                    break;
                }
                '\\' => {
                    let (item, len) = class_escape(&rest[i..])?;
                    items.push(item);
                    i += len;
                }
                '-' => {
                    items.push(ClassItem::Dash);
                    i += 1;
                }
                c => {
                    items.push(ClassItem::Char(c));
                    i += c.len_utf8();
                }
            }
        }
        write_class(&items, &mut self.out)?;
        self.out.push(']');
        self.repeatable = true;
        Ok(i)
    }

    fn group_open(&mut self, rest: &str) -> Result<usize, String> {
        self.repeatable = false;
        // Python's back-reference by name, in the fallback engine's spelling
        if let Some(after) = rest.strip_prefix("(?P=")
            && let Some(end) = after.find(')')
        {
            self.out.push_str(r"\k<");
            self.out.push_str(&after[..end]);
            self.out.push('>');
            self.repeatable = true;
            return Ok(4 + end + 1);
        }
        // a named group, as both engines spell it
        if let Some(after) = rest.strip_prefix("(?P<")
            && let Some(end) = after.find('>')
        {
            self.out.push_str(&rest[..4 + end + 1]);
            return Ok(4 + end + 1);
        }
        // a comment
        if let Some(after) = rest.strip_prefix("(?#") {
            let end = after.find(')').ok_or("a comment `(?#` is never closed")?;
            return Ok(3 + end + 1);
        }
        // a conditional on a group name: `(?(name)yes|no)` → fancy-regex's `(?(<name>)yes|no)`
        if let Some(after) = rest.strip_prefix("(?(")
            && let Some(end) = after.find(')')
        {
            let name = &after[..end];
            if !name.is_empty() && !name.bytes().all(|b| b.is_ascii_digit()) {
                self.out.push_str("(?(<");
                self.out.push_str(name);
                self.out.push_str(">)");
                return Ok(3 + end + 1);
            }
        }
        // inline flags: Python's a (ASCII), L (locale) and u (Unicode) have no Rust meaning
        if let Some(after) = rest.strip_prefix("(?")
            && after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '-')
        {
            let end = after
                .find([')', ':'])
                .ok_or("an inline flag group `(?` is never closed")?;
            let flags: String = after[..end]
                .chars()
                .filter(|c| !matches!(c, 'a' | 'L' | 'u'))
                .collect();
            if flags.is_empty() || flags == "-" {
                // nothing left: a bare group or nothing at all
                if after[end..].starts_with(':') {
                    self.out.push_str("(?:");
                }
                return Ok(2 + end + 1);
            }
            self.out.push_str("(?");
            self.out.push_str(&flags);
            self.out.push_str(&after[end..end + 1]);
            return Ok(2 + end + 1);
        }
        self.out.push('(');
        Ok(1)
    }

    /// `{` is a quantifier in Python only in the forms `{m}`, `{m,}`, `{,n}`, `{m,n}` and `{,}`
    /// after something repeatable; anywhere else it is a literal.
    fn brace(&mut self, rest: &str) -> usize {
        let Some(end) = rest.find('}') else {
            self.push_literal('{');
            return 1;
        };
        let body = &rest[1..end];
        let (lo, hi) = match body.split_once(',') {
            Some((lo, hi)) => (lo, Some(hi)),
            None => (body, None),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        let quantifier =
            self.repeatable && digits(lo) && hi.is_none_or(digits) && !(lo.is_empty() && hi.is_none());
        if !quantifier {
            self.push_literal('{');
            return 1;
        }
        self.out.push('{');
        self.out.push_str(if lo.is_empty() { "0" } else { lo });
        if let Some(hi) = hi {
            self.out.push(',');
            self.out.push_str(hi);
        }
        self.out.push('}');
        // a lazy or possessive marker may follow; another quantifier may not
        self.repeatable = false;
        end + 1
    }

    fn tag(&mut self, rest: &str) -> Result<usize, String> {
        // fail2ban's FTAG_CRE: `</?[\w\-]+/?>`
        let Some(len) = tag_len(rest) else {
            self.push_literal('<');
            return Ok(1);
        };
        let name = &rest[1..len - 1];
        self.repeatable = true;
        let host = match name {
            "HOST" => Some(HostTag::Host),
            "ADDR" | "F-ADDR/" => Some(HostTag::Addr),
            "IP4" | "F-IP4/" => Some(HostTag::Ip4),
            "IP6" | "F-IP6/" => Some(HostTag::Ip6),
            "DNS" | "F-DNS/" => Some(HostTag::Dns),
            "SUBNET" | "F-SUBNET/" => Some(HostTag::Subnet),
            _ => None,
        };
        if let Some(kind) = host {
            host_group(kind, self.hosts.len(), &mut self.out);
            self.hosts.push(kind);
            return Ok(len);
        }
        match name {
            "SKIPLINES" => {
                let n = self.skiplines;
                self.skiplines += 1;
                self.out.push_str(&format!(r"\n(?P<skiplines{n}>(?:(?:.*\n)*?))"));
                return Ok(len);
            }
            "CIDR" | "F-CIDR/" => {
                self.out.push_str(r"(?P<cidr>\d+)");
                return Ok(len);
            }
            "F-ID/" => {
                self.out.push_str(r"(?P<fid>\S+)");
                return Ok(len);
            }
            "F-PORT/" => {
                self.out.push_str(r"(?P<fport>\w+)");
                return Ok(len);
            }
            _ => {}
        }
        // `<F-NAME>` / `</F-NAME>`: upper case only, as fail2ban's FCUSTNAME_CRE
        let (close, custom) = match name.strip_prefix('/') {
            Some(n) => (true, n),
            None => (false, name),
        };
        if let Some(field) = custom.strip_prefix("F-")
            && !field.is_empty()
            && field
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            if close {
                return Ok(match self.open_fields.iter().position(|f| f == field) {
                    Some(i) => {
                        self.open_fields.remove(i);
                        self.out.push(')');
                        len
                    }
                    // not opened: fail2ban leaves it as it is (literal text)
                    None => {
                        self.push_literal('<');
                        1
                    }
                });
            }
            let group = field_name(field)?;
            self.out.push_str("(?P<");
            self.out.push_str(&group);
            self.out.push('>');
            self.open_fields.push(field.to_string());
            self.fields.push(group);
            self.repeatable = false;
            return Ok(len);
        }
        // Not a tag banjo knows: `<` is an ordinary character (e.g. `user=<\S+>`).
        self.push_literal('<');
        Ok(1)
    }
}

/// Length of a `</?[\w\-]+/?>` tag at the start of `rest`, if there is one.
fn tag_len(rest: &str) -> Option<usize> {
    let mut i = 1;
    let b = rest.as_bytes();
    if b.get(i) == Some(&b'/') {
        i += 1;
    }
    let start = i;
    for c in rest[i..].chars() {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            i += c.len_utf8();
        } else {
            break;
        }
    }
    if i == start {
        return None;
    }
    if b.get(i) == Some(&b'/') {
        i += 1;
    }
    (b.get(i) == Some(&b'>')).then_some(i + 1)
}

/// `\0`, `\01`, `\012`: Python's octal escapes (up to three digits after the backslash).
fn octal(after_backslash: &str, out: &mut String) -> usize {
    let digits = after_backslash
        .bytes()
        .take(3)
        .take_while(|b| (b'0'..=b'7').contains(b))
        .count();
    let value = u32::from_str_radix(&after_backslash[..digits], 8).unwrap_or(0);
    out.push_str(&format!(r"\x{{{value:x}}}"));
    digits
}

/// One member of a character class as Python reads it.
#[derive(Debug, Clone, PartialEq)]
enum ClassItem {
    Char(char),
    /// An unescaped `-`: a range between its neighbours, or a literal at an end.
    Dash,
    /// Text already in Rust class syntax that is a set, not one character (`\d`, `\w`, …).
    Set(String),
}

/// A backslash escape inside a class → the item it stands for, and the bytes it took.
fn class_escape(rest: &str) -> Result<(ClassItem, usize), String> {
    let mut chars = rest.chars();
    chars.next();
    let Some(c) = chars.next() else {
        return Err("a character class ends with a lone backslash".into());
    };
    let simple = |ch: char| Ok((ClassItem::Char(ch), 1 + c.len_utf8()));
    match c {
        'd' | 'D' | 's' | 'S' | 'w' | 'W' => Ok((ClassItem::Set(format!("\\{c}")), 2)),
        // a backspace in a class, as in Python
        'b' => simple('\u{8}'),
        'n' => simple('\n'),
        't' => simple('\t'),
        'r' => simple('\r'),
        'f' => simple('\u{c}'),
        'v' => simple('\u{b}'),
        'a' => simple('\u{7}'),
        '0'..='7' => {
            let mut s = String::new();
            let n = octal(&rest[1..], &mut s);
            let value = u32::from_str_radix(&rest[1..1 + n], 8).unwrap_or(0);
            let ch = char::from_u32(value).ok_or("bad octal escape in a class")?;
            Ok((ClassItem::Char(ch), 1 + n))
        }
        'x' | 'u' | 'U' => {
            let width = match c {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let hex = rest
                .get(2..2 + width)
                .ok_or("a hex escape in a class is cut short")?;
            let value =
                u32::from_str_radix(hex, 16).map_err(|_| format!("bad hex escape \\{c}{hex} in a class"))?;
            let ch = char::from_u32(value).ok_or_else(|| format!("\\{c}{hex} is not a character"))?;
            Ok((ClassItem::Char(ch), 2 + width))
        }
        c if c.is_ascii_alphanumeric() => Err(format!("bad escape \\{c} in a character class")),
        c => simple(c),
    }
}

/// Writes class members in Rust syntax: ranges stay ranges, every other `-` and every
/// character Rust gives a meaning inside a class (`[`, `&&`, `~~`, `--`, `^`) is escaped.
fn write_class(items: &[ClassItem], out: &mut String) -> Result<(), String> {
    let endpoint = |item: Option<&ClassItem>| match item {
        Some(ClassItem::Char(c)) => Some(*c),
        Some(ClassItem::Dash) => Some('-'),
        _ => None,
    };
    let mut i = 0;
    while i < items.len() {
        let ranged = items.get(i + 1) == Some(&ClassItem::Dash) && i + 2 < items.len();
        if ranged {
            let (Some(a), Some(b)) = (endpoint(items.get(i)), endpoint(items.get(i + 2))) else {
                return Err("bad character range: a range needs a single character on both sides".into());
            };
            if a > b {
                return Err(format!("bad character range {a}-{b}"));
            }
            class_char(a, out);
            out.push('-');
            class_char(b, out);
            i += 3;
            continue;
        }
        match &items[i] {
            ClassItem::Char(c) => class_char(*c, out),
            ClassItem::Dash => class_char('-', out),
            ClassItem::Set(s) => out.push_str(s),
        }
        i += 1;
    }
    Ok(())
}

fn class_char(c: char, out: &mut String) {
    if matches!(c, '[' | ']' | '\\' | '-' | '^' | '&' | '~') {
        out.push('\\');
    }
    out.push(c);
}

fn field_name(raw: &str) -> Result<String, String> {
    let name: String = raw
        .chars()
        .map(|c| if c == '-' { '_' } else { c.to_ascii_lowercase() })
        .collect();
    // fail2ban's R_MAP: the failure id and port have fixed group names
    let name = match name.as_str() {
        "id" => "fid".to_string(),
        "port" => "fport".to_string(),
        _ => name,
    };
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(format!(
            "<F-{raw}>: a capture name must start with a letter and hold letters, digits, '-' or '_'"
        ))
    }
}

/// Group names for the k-th address tag.
pub fn host_group_names(k: usize) -> [String; 3] {
    if k == 0 {
        ["ip4".into(), "ip6".into(), "dns".into()]
    } else {
        [format!("ip4_{k}"), format!("ip6_{k}"), format!("dns_{k}")]
    }
}

/// Name of the prefix-length group of the k-th address tag.
pub fn cidr_group_name(k: usize) -> String {
    if k == 0 {
        "cidr".to_string()
    } else {
        format!("cidr_{k}")
    }
}

/// fail2ban's R_HOST expansions (brackets optional around either address family).
fn host_group(kind: HostTag, k: usize, out: &mut String) {
    let [ip4, ip6, dns] = host_group_names(k);
    let v4 = format!(r"(?:::f{{4,6}}:)?(?P<{ip4}>{IP4})");
    let v6 = format!(r"(?P<{ip6}>{IP6})");
    let addr = format!(r"\[?(?:{v4}|{v6})\]?");
    let body = match kind {
        HostTag::Host => format!(r"{addr}|(?P<{dns}>{DNS})"),
        HostTag::Addr => addr,
        HostTag::Ip4 => v4,
        HostTag::Ip6 => v6,
        HostTag::Dns => format!(r"(?P<{dns}>{DNS})"),
        HostTag::Subnet => {
            let cidr = cidr_group_name(k);
            format!(r"\[?(?:{v4}|{v6})(?:/(?P<{cidr}>\d+))?\]?")
        }
    };
    out.push_str("(?:");
    out.push_str(&body);
    out.push(')');
}

/// A linear-engine regex that matches at least every text `regex` (a fallback pattern)
/// matches: look-arounds dropped, back-references as `(?s:.*)`, a conditional as the
/// alternation of its branches, atomic groups as plain ones. Its required literals are
/// required by `regex` too, so fallback patterns get a prefilter like the others.
pub fn relax(regex: &str) -> String {
    let b = regex.as_bytes();
    let mut out = String::with_capacity(regex.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &regex[i..];
        if rest.starts_with("\\k<") {
            let end = rest.find('>').map_or(rest.len(), |e| e + 1);
            out.push_str("(?s:.*)");
            i += end;
        } else if b[i] == b'\\' && b.get(i + 1).is_some_and(|c| c.is_ascii_digit() && *c != b'0') {
            let digits = rest[1..].bytes().take_while(u8::is_ascii_digit).count();
            out.push_str("(?s:.*)");
            i += 1 + digits;
        } else if b[i] == b'\\' {
            let len = rest[1..].chars().next().map_or(1, |c| 1 + c.len_utf8());
            out.push_str(&rest[..len]);
            i += len;
        } else if b[i] == b'[' {
            let len = class_len(rest);
            out.push_str(&rest[..len]);
            i += len;
        } else if ["(?=", "(?!", "(?<=", "(?<!"].iter().any(|p| rest.starts_with(p)) {
            // the assertion goes; a following quantifier would then have nothing to repeat
            i += group_len(rest);
            out.push_str("(?:)");
        } else if let Some(after) = rest.strip_prefix("(?(") {
            let end = after.find(')').map_or(after.len(), |e| e + 1);
            out.push_str("(?:");
            i += 3 + end;
        } else if rest.starts_with("(?>") {
            out.push_str("(?:");
            i += 3;
        } else {
            let c = rest.chars().next().unwrap_or('\0');
            out.push(c);
            i += c.len_utf8().max(1);
        }
    }
    out
}

/// Length of the character class at the start of `s` (Rust syntax, as `translate` writes).
fn class_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 1;
    let mut depth = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' => depth += 1,
            b']' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// Length of the group opened at the start of `s`, up to its closing parenthesis.
fn group_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut depth = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'[' => {
                i += class_len(&s[i..]);
                continue;
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    b.len()
}

/// Look-around, back-references, conditionals and atomic groups are the constructs the
/// linear-time engine rejects.
fn needs_fallback(regex: &str) -> bool {
    let b = regex.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                if let Some(&c) = b.get(i + 1)
                    && (c.is_ascii_digit() && c != b'0' || c == b'k')
                {
                    return true;
                }
                i += 2;
                continue;
            }
            b'(' if b.get(i + 1) == Some(&b'?') => {
                let rest = &b[i + 2..];
                if [&b"="[..], b"!", b"<=", b"<!", b"(", b">"]
                    .iter()
                    .any(|p| rest.starts_with(p))
                {
                    return true;
                }
            }
            b'[' => {
                // skip a character class: look-around syntax inside it is literal
                i += 1;
                if b.get(i) == Some(&b'^') {
                    i += 1;
                }
                if b.get(i) == Some(&b']') {
                    i += 1;
                }
                while i < b.len() && b[i] != b']' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rx(p: &str) -> String {
        translate(p).unwrap().regex
    }

    #[test]
    fn host_tag_becomes_fail2ban_groups() {
        let t = translate("from <HOST> port").unwrap();
        assert!(t.regex.contains("(?P<ip4>"));
        assert!(t.regex.contains("(?P<ip6>"));
        assert!(t.regex.contains("(?P<dns>"));
        assert_eq!(t.hosts, vec![HostTag::Host]);
        assert!(!t.needs_fallback);
    }

    #[test]
    fn second_host_tag_gets_numbered_groups() {
        let t = translate("a <HOST>|b <ADDR>").unwrap();
        assert!(t.regex.contains("(?P<ip4_1>"));
        assert_eq!(t.hosts, vec![HostTag::Host, HostTag::Addr]);
    }

    #[test]
    fn field_tags_become_lowercase_named_groups() {
        let t = translate("user <F-USER>\\S+</F-USER> <F-ALT-USER>x</F-ALT-USER>").unwrap();
        assert!(t.regex.contains("(?P<user>\\S+)"));
        assert!(t.regex.contains("(?P<alt_user>x)"));
        assert_eq!(t.fields, vec!["user", "alt_user"]);
    }

    #[test]
    fn self_closed_tags_expand_as_in_fail2ban() {
        assert_eq!(rx("<F-PORT/>"), r"(?P<fport>\w+)");
        assert_eq!(rx("<F-ID/>"), r"(?P<fid>\S+)");
        assert!(rx("<F-ADDR/>:<F-CIDR/>").contains("(?P<cidr>"));
        assert_eq!(translate("<F-IP4/>").unwrap().hosts, vec![HostTag::Ip4]);
        assert_eq!(rx("<F-ID>\\d+</F-ID>"), r"(?P<fid>\d+)");
    }

    #[test]
    fn unopened_close_tags_and_lower_case_tags_stay_literal() {
        assert_eq!(rx("a</F-USER>"), "a</F-USER>");
        assert_eq!(rx("<F-user>"), "<F-user>");
    }

    #[test]
    fn angle_brackets_that_are_not_tags_stay() {
        let t = translate("user=<[^>]*>, rip=<HOST>").unwrap();
        assert!(t.regex.starts_with("user=<[^>]*>, rip="), "{}", t.regex);
    }

    #[test]
    fn python_only_syntax_is_rewritten() {
        assert_eq!(rx(r"x\Z"), r"x\z");
        assert_eq!(rx(r"a{,3}"), r"a{0,3}");
        assert_eq!(rx(r"a{,}"), r"a{0,}");
        assert_eq!(rx(r"a{}"), r"a\{\}");
        assert_eq!(rx(r"({[^}]+})"), r"(\{[^}]+\})");
        assert_eq!(
            rx(r"\({{(?:\d+,){3}\d+},\d+}\)"),
            r"\(\{\{(?:\d+,){3}\d+\},\d+\}\)"
        );
        assert_eq!(rx(r"\<x\>"), "<x>");
        assert_eq!(rx(r"a(?#note)b"), "ab");
        assert_eq!(rx(r"\0"), r"\x{0}");
    }

    #[test]
    fn classes_are_read_as_python_reads_them() {
        assert_eq!(rx(r"[^[]*\["), r"[^\[]*\[");
        assert_eq!(rx(r"[]a]"), r"[\]a]");
        assert_eq!(rx(r"[a-z-]"), r"[a-z\-]");
        assert_eq!(rx(r"[-a]"), r"[\-a]");
        assert_eq!(rx(r"[\w.-]"), r"[\w.\-]");
        assert_eq!(rx(r"[&&~~]"), r"[\&\&\~\~]");
        assert_eq!(rx(r"[\b\<]"), "[\u{8}<]");
        assert_eq!(rx(r"[a\-z]"), r"[a\-z]");
        assert_eq!(rx(r"[!--]"), r"[!-\-]");
        assert!(translate(r"[\w-.]").is_err());
        assert!(translate(r"[z-a]").is_err());
        assert!(translate(r"[abc").is_err());
    }

    #[test]
    fn every_rewrite_compiles_in_rust() {
        for p in [
            r"^[^[]*\[<HOST>\](?::\d+)?: SASL ((?i)LOGIN|PLAIN) authentication failed",
            r"to (Horde|{[^}]+}) \[",
            r"(?: \({{(?:\d+,){3}\d+},\d+}\))?$",
            r"[[:alpha:]]+x",
            r"<ADDR>(?::<F-PORT/>)? to",
        ] {
            let t = translate(p).unwrap();
            regex::Regex::new(&t.regex).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
    }

    #[test]
    fn conditionals_name_their_group_for_the_fallback_engine() {
        let t = translate(r"(?P<c>x)?(?(c)y|z)").unwrap();
        assert_eq!(t.regex, r"(?P<c>x)?(?(<c>)y|z)");
        assert!(t.needs_fallback);
        let re = fancy_regex::Regex::new(&t.regex).unwrap();
        assert!(re.is_match("xy").unwrap() && re.is_match("z").unwrap() && !re.is_match("y").unwrap());
    }

    #[test]
    fn lookaround_and_backrefs_need_the_fallback_engine() {
        assert!(translate(r"foo(?!bar)").unwrap().needs_fallback);
        assert!(translate(r"(?<=x)y").unwrap().needs_fallback);
        assert!(translate(r"(?P<a>x)(?P=a)").unwrap().needs_fallback);
        assert!(translate(r"(a)\1").unwrap().needs_fallback);
        assert!(translate(r"(?>a)").unwrap().needs_fallback);
        assert!(!translate(r"[(?!]x\d\\1").unwrap().needs_fallback);
        assert!(!translate(r"(?P<x>a)(?:b)(?i)c").unwrap().needs_fallback);
    }

    #[test]
    fn skiplines_become_numbered_lazy_line_groups() {
        let t = translate("a<SKIPLINES>b<SKIPLINES>c").unwrap();
        assert_eq!(t.skiplines, 2);
        assert!(t.regex.contains(r"\n(?P<skiplines0>(?:(?:.*\n)*?))"));
        assert!(t.regex.contains("(?P<skiplines1>"));
    }

    #[test]
    fn relaxed_fallback_patterns_run_on_the_linear_engine() {
        for p in [
            r"^Failed (?P<c>invalid )?(?P<u>\S+|(?(c)(?:(?! from ).)*?|[^:]+)) from (?P=u)[(?!]x",
            r"(?<=a)b(?<!c)d(?>e)\1",
        ] {
            let t = translate(p).unwrap();
            let relaxed = relax(&t.regex);
            let re = regex::Regex::new(&relaxed).unwrap_or_else(|e| panic!("{relaxed}: {e}"));
            assert!(!needs_fallback(&relaxed), "{relaxed}");
            let _ = re;
        }
        assert_eq!(relax(r"a(?!b(c))d"), "a(?:)d");
        assert_eq!(relax(r"(?P<x>a)\k<x>"), "(?P<x>a)(?s:.*)");
    }

    #[test]
    fn python_inline_flags_without_rust_meaning_are_dropped() {
        assert_eq!(rx("(?a)x"), "x");
        assert_eq!(rx("(?ai)x"), "(?i)x");
        assert_eq!(rx("(?u:x)"), "(?:x)");
    }

    /// Pieces of Python regex syntax and fail2ban tags, glued at random (xorshift64*, fixed
    /// seed): the rewrite and both engines must take or refuse each, never panic.
    #[test]
    fn garbage_patterns_never_panic() {
        const PIECES: &[&str] = &[
            "[",
            "]",
            "[^",
            "(",
            ")",
            "(?:",
            "(?P<a>",
            "(?P=a)",
            "(?(a)",
            "(?#",
            "(?!",
            "(?<=",
            "(?i)",
            "(?a)",
            "{",
            "}",
            "{,3}",
            "{2}",
            "{,}",
            "\\",
            "\\Z",
            "\\<",
            "\\d",
            "\\0",
            "\\1",
            "-",
            "a-z",
            "&&",
            "~~",
            "^",
            "$",
            "|",
            "*",
            "+?",
            ".",
            "<HOST>",
            "<ADDR>",
            "<F-USER>",
            "</F-USER>",
            "<F-PORT/>",
            "<SKIPLINES>",
            "<F-MLFID>",
            "</F-MLFID>",
            "<CIDR>",
            "<x>",
            "é",
            " ",
            "\n",
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let mut compiled = 0;
        for _ in 0..3000 {
            let n = next() % 12;
            let pattern: String = (0..n)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect();
            if let Ok(p) = crate::filter::Pattern::compile_with(&pattern, next() % 2 == 0) {
                compiled += 1;
                let _ = p.captures(b"a from 192.0.2.1:22 \xff [x] {y}");
            }
        }
        assert!(
            compiled > 300,
            "the generator should make valid patterns too: {compiled}"
        );
    }

    #[test]
    fn bad_field_name_is_refused() {
        assert!(translate("<F-9X>x</F-9X>").is_err());
    }
}
