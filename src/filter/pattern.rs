//! One compiled failregex, ignoreregex or prefregex: its engine, its address and field groups,
//! and the literals the prefilter keys it on.
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use super::literal;
use super::tags::{self, HostTag};

/// The address a match names: what a jail counts failures against.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    Addr(IpAddr),
    /// `<SUBNET>` with a prefix length.
    Net(IpAddr, u8),
    /// A host name (`<HOST>`/`<DNS>`): resolved, or not, by the jail's `usedns`.
    Name(String),
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Addr(a) => write!(f, "{a}"),
            Host::Net(a, p) => write!(f, "{a}/{p}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// What a pattern captured on a hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    /// None when the pattern has no address tag (a prefregex, an ignoreregex).
    pub host: Option<Result<Host, String>>,
    /// Every other named group that took part in the match, in pattern order, empty ones too
    /// (fail2ban's `user: ""` is a value): `<F-…>` captures, `mlfid`, `nofail`, …
    /// Names are shared with the pattern: a hit allocates only the values.
    pub fields: Vec<(Arc<str>, String)>,
    /// The `<F-CONTENT>` span, for a prefregex.
    pub content: Option<(usize, usize)>,
    /// Where the whole match starts and ends.
    pub span: (usize, usize),
    /// The spans `<SKIPLINES>` took, in a multi-line buffer.
    pub skipped: Vec<(usize, usize)>,
}

impl Captured {
    /// The value of field `name`, if its group took part.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v.as_str())
    }
}

enum Engine {
    /// The regex as Python reads it (Unicode classes), and, when it compiles so, the same with
    /// ASCII classes: on a line of ASCII text both match alike, and the ASCII one, a much
    /// smaller automaton, is faster, above all at taking captures.
    Linear {
        unicode: Unicode,
        ascii: Option<regex::bytes::Regex>,
    },
    /// Backtracking, for look-around, back-references and conditionals only.
    Fallback(fancy_regex::Regex),
}

/// The Unicode form of a linear regex. Beside an ASCII twin it is compiled when a line first
/// needs it (one with non-ASCII text): many logs never do, and its UTF-8 automata are half of
/// what loading a filter costs (11 of 23 ms for the bench's fifteen syslog failregexes).
/// Its syntax is checked at load all the same, so a filter that loads has no error left but
/// the engine's size limit, which the ASCII twin, compiled, did not reach.
struct Unicode {
    regex: String,
    multi_line: bool,
    compiled: OnceLock<Option<regex::bytes::Regex>>,
}

/// A linear regex, Unicode or ASCII (`(?-u)` in front) as `regex` says.
fn build_linear(regex: &str, multi_line: bool) -> Result<regex::bytes::Regex, regex::Error> {
    regex::bytes::RegexBuilder::new(regex)
        .multi_line(multi_line)
        .size_limit(64 << 20)
        .build()
}

impl Unicode {
    /// The compiled regex, compiled now if it was not; None (said once) if it is too big.
    fn get(&self, source: &str) -> Option<&regex::bytes::Regex> {
        self.compiled
            .get_or_init(|| match build_linear(&self.regex, self.multi_line) {
                Ok(re) => Some(re),
                Err(e) => {
                    tracing::error!(
                        "{source:?}: its Unicode form does not compile ({e}): lines with \
                         non-ASCII text are matched with ASCII classes"
                    );
                    None
                }
            })
            .as_ref()
    }
}

struct HostSlot {
    kind: HostTag,
    ip4: Option<usize>,
    ip6: Option<usize>,
    dns: Option<usize>,
    cidr: Option<usize>,
}

/// One compiled regex.
pub struct Pattern {
    /// As written in the filter.
    pub source: String,
    engine: Engine,
    hosts: Vec<HostSlot>,
    /// (name, group index) of every named group that is not part of an address tag.
    fields: Vec<(Arc<str>, usize)>,
    /// fail2ban's `alt_NAME` groups: (group index, NAME), filling NAME when it is empty.
    alternates: Vec<(usize, Arc<str>)>,
    content: Option<usize>,
    skiplines: Vec<usize>,
    /// Whether a `fid` or `mlfid` group can stand in for the address (fail2ban's
    /// FAILURE_ID_PRESENTS).
    has_id: bool,
    /// Required literals for the prefilter; None: every line is a candidate.
    pub literals: Option<Vec<Vec<u8>>>,
    /// Every fixed text the regex needs, in order (for hints on missed lines).
    factors: Vec<Vec<Vec<u8>>>,
    /// The most address tags that can take part in one match (alternatives count once);
    /// None on the backtracking engine, whose syntax the analysis does not read.
    hosts_at_once: Option<usize>,
}

impl std::fmt::Debug for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pattern")
            .field("source", &self.source)
            .field("fallback", &self.uses_fallback())
            .finish()
    }
}

impl Pattern {
    /// Compiles fail2ban syntax. The error is the engine's message, for the caller to place.
    pub fn compile(source: &str) -> Result<Pattern, String> {
        Pattern::compile_with(source, false)
    }

    /// `multi_line`: `^` and `$` also match at the inner line ends of a buffer of several
    /// lines, as fail2ban compiles failregexes (re.MULTILINE) when maxlines > 1.
    pub fn compile_with(source: &str, multi_line: bool) -> Result<Pattern, String> {
        let t = tags::translate(source)?;
        let (engine, names): (Engine, Vec<Option<String>>) = if t.needs_fallback {
            let text = if multi_line {
                format!("(?m){}", t.regex)
            } else {
                t.regex.clone()
            };
            let re = fancy_regex::Regex::new(&text).map_err(|e| e.to_string())?;
            let names = re.capture_names().map(|n| n.map(str::to_string)).collect();
            (Engine::Fallback(re), names)
        } else {
            let ascii = build_linear(&format!("(?-u){}", t.regex), multi_line).ok();
            let compiled = OnceLock::new();
            let names_of = |re: &regex::bytes::Regex| -> Vec<Option<String>> {
                re.capture_names().map(|n| n.map(str::to_string)).collect()
            };
            let names = match &ascii {
                Some(twin) => {
                    // the check the compiler would make first, without its automata
                    regex_syntax::ParserBuilder::new()
                        .utf8(false)
                        .multi_line(multi_line)
                        .build()
                        .parse(&t.regex)
                        .map_err(|e| regex::Error::Syntax(e.to_string()).to_string())?;
                    names_of(twin)
                }
                None => {
                    let re = build_linear(&t.regex, multi_line).map_err(|e| e.to_string())?;
                    let names = names_of(&re);
                    let _ = compiled.set(Some(re));
                    names
                }
            };
            let unicode = Unicode {
                regex: t.regex.clone(),
                multi_line,
                compiled,
            };
            (Engine::Linear { unicode, ascii }, names)
        };
        let index = |name: &str| names.iter().position(|n| n.as_deref() == Some(name));
        let mut hosts: Vec<HostSlot> = (0..t.hosts.len())
            .map(|k| {
                let [ip4, ip6, dns] = tags::host_group_names(k);
                HostSlot {
                    kind: t.hosts[k],
                    ip4: index(&ip4),
                    ip6: index(&ip6),
                    dns: index(&dns),
                    cidr: index(&tags::cidr_group_name(k)),
                }
            })
            .collect();
        if hosts.is_empty() {
            // Raw `(?P<ip4>…)`, `(?P<ip6>…)`, `(?P<dns>…)` (or banjo's `host`, `addr`) written
            // by hand, as fail2ban allows.
            let raw = ["host", "addr"].iter().find_map(|n| index(n));
            let slot = HostSlot {
                kind: HostTag::Host,
                ip4: index("ip4"),
                ip6: index("ip6"),
                dns: index("dns").or(raw),
                cidr: index("cidr"),
            };
            if slot.ip4.is_some() || slot.ip6.is_some() || slot.dns.is_some() {
                hosts.push(slot);
            }
        }
        let is_host_group = |i: usize| {
            hosts
                .iter()
                .any(|h| [h.ip4, h.ip6, h.dns, h.cidr].contains(&Some(i)))
        };
        let skiplines: Vec<usize> = (0..t.skiplines)
            .filter_map(|n| index(&format!("skiplines{n}")))
            .collect();
        let fields: Vec<(Arc<str>, usize)> = names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((Arc::from(n.as_deref()?), i)))
            .filter(|(n, i)| &**n != "content" && !is_host_group(*i) && !skiplines.contains(i))
            .collect();
        let alternates = fields
            .iter()
            .filter_map(|(n, i)| Some((*i, Arc::from(alternate_of(n)?))))
            .collect();
        let has_id = index("fid").is_some() || index("mlfid").is_some();
        let relaxed = if t.needs_fallback {
            tags::relax(&t.regex)
        } else {
            t.regex.clone()
        };
        Ok(Pattern {
            source: source.to_string(),
            literals: literal::required(&relaxed),
            factors: literal::factors(&relaxed),
            hosts_at_once: if t.needs_fallback {
                None
            } else {
                hosts_at_once(&t.regex)
            },
            engine,
            hosts,
            fields,
            alternates,
            content: index("content"),
            skiplines,
            has_id,
        })
    }

    pub fn uses_fallback(&self) -> bool {
        matches!(self.engine, Engine::Fallback(_))
    }

    /// The most address tags that can take part in one match: more than one and banjo would
    /// not know whom to ban (`a <HOST> b <HOST>`); tags in alternatives count once
    /// (`a <HOST>|b <ADDR>`). None when the pattern runs on the backtracking engine.
    pub fn hosts_at_once(&self) -> Option<usize> {
        self.hosts_at_once
    }

    /// (fixed texts of the regex found in `text`, those not found), each shown as text;
    /// texts under three bytes (": ", "[") say too little to be worth showing.
    pub fn fixed_text(&self, text: &[u8]) -> (Vec<String>, Vec<String>) {
        let show = |set: &Vec<Vec<u8>>| {
            set.iter()
                .map(|l| format!("{:?}", String::from_utf8_lossy(l)))
                .collect::<Vec<_>>()
                .join(" or ")
        };
        let (mut found, mut missing) = (Vec::new(), Vec::new());
        for set in self
            .factors
            .iter()
            .filter(|s| s.iter().all(|l| l.len() >= literal::MIN_LEN))
        {
            let present = set.iter().any(|l| memchr::memmem::find(text, l).is_some());
            if present {
                found.push(show(set))
            } else {
                missing.push(show(set))
            }
        }
        (found, missing)
    }

    pub fn has_host(&self) -> bool {
        !self.hosts.is_empty()
    }

    /// Whether the pattern has a named group `name` other than an address part
    /// (`mlfid`, `user`, …).
    pub fn has_group(&self, name: &str) -> bool {
        self.fields.iter().any(|(n, _)| &**n == name)
    }

    /// Whether a match names whom it is about: an address tag, or a `fid`/`mlfid` group.
    pub fn has_failure_id(&self) -> bool {
        self.has_host() || self.has_id
    }

    /// Searches `text`; captures are taken only when it matches.
    pub fn captures(&self, text: &[u8]) -> Option<Captured> {
        match &self.engine {
            Engine::Linear { unicode, ascii } => {
                let re = match ascii {
                    Some(a) if text.is_ascii() => a,
                    _ => unicode.get(&self.source).or(ascii.as_ref())?,
                };
                let c = re.captures(text)?;
                Some(self.extract(|i| c.get(i).map(|m| (m.start(), m.end())), text))
            }
            Engine::Fallback(re) => {
                let s = same_length_utf8(text);
                let c = re.captures(&s).ok()??;
                let spans: Vec<Option<(usize, usize)>> = (0..c.len())
                    .map(|i| c.get(i).map(|m| (m.start(), m.end())))
                    .collect();
                Some(self.extract(|i| spans.get(i).copied().flatten(), text))
            }
        }
    }

    fn extract(&self, span: impl Fn(usize) -> Option<(usize, usize)>, text: &[u8]) -> Captured {
        let get = |i: Option<usize>| -> Option<&str> {
            let (a, b) = span(i?)?;
            std::str::from_utf8(&text[a..b]).ok().filter(|s| !s.is_empty())
        };
        let host = if self.hosts.is_empty() {
            None
        } else {
            let found = self.hosts.iter().find_map(|h| {
                if let Some(v4) = get(h.ip4) {
                    return Some(parse_addr(v4, get(h.cidr)));
                }
                if let Some(v6) = get(h.ip6) {
                    return Some(parse_addr(v6, get(h.cidr)));
                }
                get(h.dns).map(|name| match name.parse::<IpAddr>() {
                    Ok(a) => Ok(Host::Addr(a)),
                    Err(_) if h.kind == HostTag::Host || h.kind == HostTag::Dns => {
                        Ok(Host::Name(name.to_string()))
                    }
                    Err(_) => Err(name.to_string()),
                })
            });
            Some(found.unwrap_or_else(|| Err(String::new())))
        };
        let mut fields: Vec<(Arc<str>, String)> = self
            .fields
            .iter()
            .filter_map(|(n, i)| {
                let (a, b) = span(*i)?;
                Some((n.clone(), String::from_utf8_lossy(&text[a..b]).into_owned()))
            })
            .collect();
        for (i, name) in &self.alternates {
            let Some(value) = get(Some(*i)) else { continue };
            match fields.iter_mut().find(|(n, _)| n == name) {
                Some((_, v)) if v.is_empty() => *v = value.to_string(),
                Some(_) => {}
                None => fields.push((name.clone(), value.to_string())),
            }
        }
        Captured {
            host,
            fields,
            content: self.content.and_then(&span),
            span: span(0).unwrap_or((0, 0)),
            skipped: self.skiplines.iter().filter_map(|i| span(*i)).collect(),
        }
    }
}

/// fail2ban's `alt_NAME` (or `alt_NAME_N`) group → NAME (failregex.py COMPLNAME_CRE).
fn alternate_of(group: &str) -> Option<String> {
    let rest = group.strip_prefix("alt_").filter(|r| !r.is_empty())?;
    let base = match rest.rsplit_once('_') {
        Some((b, n)) if !b.is_empty() && !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()) => b,
        _ => rest,
    };
    Some(match base {
        "id" => "fid".to_string(),
        "port" => "fport".to_string(),
        b => b.to_string(),
    })
}

/// `text` as UTF-8 for the backtracking engine, which takes only `&str`: an invalid byte
/// becomes one substitute byte (0x1A), so every span found is a span of `text` too.
fn same_length_utf8(text: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(text) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => {
            let mut out = String::with_capacity(text.len());
            for chunk in text.utf8_chunks() {
                out.push_str(chunk.valid());
                out.extend(std::iter::repeat_n('\u{1a}', chunk.invalid().len()));
            }
            std::borrow::Cow::Owned(out)
        }
    }
}

/// An address (with a prefix length when a `<CIDR>`/`<SUBNET>` group took one).
fn parse_addr(text: &str, cidr: Option<&str>) -> Result<Host, String> {
    let addr: IpAddr = text.parse().map_err(|_| text.to_string())?;
    let addr = match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
        v4 => v4,
    };
    match cidr {
        Some(p) => {
            let max = if addr.is_ipv4() { 32 } else { 128 };
            match p.parse::<u8>() {
                Ok(p) if p <= max => Ok(Host::Net(addr, p)),
                _ => Err(format!("{text}/{p}")),
            }
        }
        None => Ok(Host::Addr(addr)),
    }
}

/// See [`Pattern::hosts_at_once`]; `regex` is translated (tags are named groups).
fn hosts_at_once(regex: &str) -> Option<usize> {
    use regex_syntax::hir::{Hir, HirKind};
    fn count(hir: &Hir) -> usize {
        match hir.kind() {
            HirKind::Capture(c) if c.name.as_deref().is_some_and(is_host_group) => 1,
            HirKind::Capture(c) => count(&c.sub),
            HirKind::Concat(parts) => parts.iter().map(count).sum(),
            HirKind::Alternation(parts) => parts.iter().map(count).max().unwrap_or(0),
            HirKind::Repetition(r) => count(&r.sub),
            _ => 0,
        }
    }
    // an address tag's ip4/ip6/dns groups (its cidr group goes with them)
    fn is_host_group(name: &str) -> bool {
        ["ip4", "ip6", "dns"]
            .iter()
            .any(|g| name == *g || name.strip_prefix(g).is_some_and(|k| k.starts_with('_')))
    }
    let hir = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(regex)
        .ok()?;
    Some(count(&hir))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(re: &str, line: &str) -> Option<Result<Host, String>> {
        Pattern::compile(re).unwrap().captures(line.as_bytes())?.host
    }

    fn addr(s: &str) -> Option<Result<Host, String>> {
        Some(Ok(Host::Addr(s.parse().unwrap())))
    }

    #[test]
    fn takes_ipv4_ipv6_bracketed_and_mapped() {
        assert_eq!(host("from <HOST> port", "from 192.0.2.7 port"), addr("192.0.2.7"));
        assert_eq!(
            host("from <HOST> port", "from 2001:db8::1 port"),
            addr("2001:db8::1")
        );
        assert_eq!(
            host("from <HOST> port", "from [2001:db8::2] port"),
            addr("2001:db8::2")
        );
        assert_eq!(
            host("from <HOST> port", "from ::ffff:192.0.2.9 port"),
            addr("192.0.2.9")
        );
        assert_eq!(host("from <HOST> port", "from fe80:: port"), addr("fe80::"));
    }

    #[test]
    fn host_names_are_names_and_addr_refuses_them() {
        assert_eq!(
            host("from <HOST> port", "from mail.example.org port"),
            Some(Ok(Host::Name("mail.example.org".into())))
        );
        assert_eq!(host("from <ADDR> port", "from mail.example.org port"), None);
    }

    #[test]
    fn impossible_address_is_an_error_not_a_ban() {
        assert_eq!(
            host("from <ADDR> port", "from 999.1.1.1 port"),
            Some(Err("999.1.1.1".into()))
        );
    }

    #[test]
    fn the_tagged_address_is_taken_not_another_one() {
        let re = r"user (?P<u>\S+) from <HOST>$";
        assert_eq!(host(re, "user 203.0.113.66 from 192.0.2.1"), addr("192.0.2.1"));
    }

    #[test]
    fn fields_and_content_are_captured() {
        let p = Pattern::compile(r"user=<F-USER>\S+</F-USER> rip=<HOST>").unwrap();
        let c = p.captures(b"user=bob rip=192.0.2.3").unwrap();
        assert_eq!(c.field("user"), Some("bob"));
        assert_eq!(c.fields.len(), 1);
        let p = Pattern::compile(r"^\S+ dovecot: <F-CONTENT>.+</F-CONTENT>$").unwrap();
        let c = p.captures(b"mail dovecot: auth failed").unwrap();
        assert_eq!(c.content, Some((14, 25)));
        assert_eq!(c.host, None);
    }

    #[test]
    fn subnet_keeps_its_prefix() {
        assert_eq!(
            host("net <SUBNET>", "net 192.0.2.0/24"),
            Some(Ok(Host::Net("192.0.2.0".parse().unwrap(), 24)))
        );
    }

    #[test]
    fn fallback_engine_runs_lookaround() {
        let p = Pattern::compile(r"from <HOST> (?!trusted)\S+").unwrap();
        assert!(p.uses_fallback());
        assert!(p.captures(b"from 192.0.2.1 trusted").is_none());
        assert_eq!(
            p.captures(b"from 192.0.2.1 evil").unwrap().host,
            addr("192.0.2.1")
        );
    }

    #[test]
    fn raw_named_host_group_works() {
        assert_eq!(
            host(r"from (?P<host>\S+) x", "from 192.0.2.5 x"),
            addr("192.0.2.5")
        );
    }

    #[test]
    fn classes_are_unicode_on_any_line_ascii_or_not() {
        // ASCII lines take the ASCII-class twin of the regex, others the Unicode one, which
        // is compiled for the first of them
        let p = Pattern::compile(r"^(?P<u>\w+) from <HOST>$").unwrap();
        let unicode_compiled = |p: &Pattern| match &p.engine {
            Engine::Linear { unicode, .. } => unicode.compiled.get().is_some(),
            Engine::Fallback(_) => unreachable!("a linear regex"),
        };
        let c = p.captures(b"munchen from 192.0.2.1").unwrap();
        assert_eq!(c.field("u"), Some("munchen"));
        assert!(!unicode_compiled(&p));
        let c = p.captures("münchen from 192.0.2.1".as_bytes()).unwrap();
        assert_eq!(c.field("u"), Some("münchen"));
        assert!(unicode_compiled(&p));
        // without an ASCII twin (a class with a non-ASCII letter has none) the Unicode
        // regex is compiled at load
        let p = Pattern::compile(r"^[äöü]+ from <HOST>$").unwrap();
        assert!(unicode_compiled(&p));
        assert!(p.captures("äü from 192.0.2.1".as_bytes()).is_some());
        // a no-break space is not \S, in Python as here
        let p = Pattern::compile(r"^\S+ from <HOST>$").unwrap();
        assert!(p.captures("a\u{a0}b from 192.0.2.1".as_bytes()).is_none());
    }

    #[test]
    fn a_regex_that_does_not_compile_fails_at_load_with_the_engines_message() {
        let mut compared = 0;
        for bad in [
            r"(unclosed <HOST>",
            r"a{2,1} <HOST>",
            r"[unclosed <HOST>",
            r"(?P<n>a)(?P<n>b) <HOST>",
        ] {
            // some are refused earlier, by the translation from Python's syntax
            let Ok(t) = tags::translate(bad) else { continue };
            let want = regex::bytes::Regex::new(&t.regex).unwrap_err().to_string();
            assert_eq!(Pattern::compile(bad).unwrap_err(), want, "{bad}");
            compared += 1;
        }
        assert!(compared >= 2, "{compared}");
    }

    #[test]
    fn invalid_utf8_lines_do_not_panic() {
        let p = Pattern::compile(r"from <HOST>").unwrap();
        let c = p.captures(b"\xff\xfe from 192.0.2.1").unwrap();
        assert_eq!(c.host, addr("192.0.2.1"));
    }
}
