//! One compiled failregex, ignoreregex or prefregex: its engine, its address and field groups,
//! and the literals the prefilter keys it on.
use std::net::IpAddr;

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
    /// `<F-…>` captures and other named groups, in pattern order; empty ones are left out.
    pub fields: Vec<(String, String)>,
    /// The `<F-CONTENT>` span, for a prefregex.
    pub content: Option<(usize, usize)>,
}

enum Engine {
    Linear(regex::bytes::Regex),
    /// Backtracking, for look-around and back-references only.
    Fallback(fancy_regex::Regex),
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
    fields: Vec<(String, usize)>,
    content: Option<usize>,
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
        let t = tags::translate(source)?;
        let (engine, names): (Engine, Vec<Option<String>>) = if t.needs_fallback {
            let re = fancy_regex::Regex::new(&t.regex).map_err(|e| e.to_string())?;
            let names = re.capture_names().map(|n| n.map(str::to_string)).collect();
            (Engine::Fallback(re), names)
        } else {
            let re = regex::bytes::RegexBuilder::new(&t.regex)
                .size_limit(64 << 20)
                .build()
                .map_err(|e| e.to_string())?;
            let names = re.capture_names().map(|n| n.map(str::to_string)).collect();
            (Engine::Linear(re), names)
        };
        let index = |name: &str| names.iter().position(|n| n.as_deref() == Some(name));
        let mut hosts: Vec<HostSlot> = (0..t.hosts.len())
            .map(|k| {
                let [ip4, ip6, dns] = tags::host_group_names(k);
                let cidr = if k == 0 {
                    "cidr".to_string()
                } else {
                    format!("cidr_{k}")
                };
                HostSlot {
                    kind: t.hosts[k],
                    ip4: index(&ip4),
                    ip6: index(&ip6),
                    dns: index(&dns),
                    cidr: index(&cidr),
                }
            })
            .collect();
        if hosts.is_empty() {
            // A raw `(?P<host>…)`, `(?P<ip4>…)`… written by hand, as fail2ban allows.
            let raw = ["host", "addr", "ip4", "ip6", "dns"]
                .iter()
                .find_map(|n| index(n));
            if let Some(i) = raw {
                hosts.push(HostSlot {
                    kind: HostTag::Host,
                    ip4: None,
                    ip6: None,
                    dns: Some(i),
                    cidr: None,
                });
            }
        }
        let is_host_group = |i: usize| {
            hosts
                .iter()
                .any(|h| [h.ip4, h.ip6, h.dns, h.cidr].contains(&Some(i)))
        };
        let fields = names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((n.clone()?, i)))
            .filter(|(n, i)| n != "content" && !is_host_group(*i))
            .collect();
        Ok(Pattern {
            source: source.to_string(),
            literals: if t.needs_fallback {
                None
            } else {
                literal::required(&t.regex)
            },
            factors: if t.needs_fallback {
                Vec::new()
            } else {
                literal::factors(&t.regex)
            },
            hosts_at_once: if t.needs_fallback {
                None
            } else {
                hosts_at_once(&t.regex)
            },
            engine,
            hosts,
            fields,
            content: index("content"),
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

    /// Searches `text`; captures are taken only when it matches.
    pub fn captures(&self, text: &[u8]) -> Option<Captured> {
        match &self.engine {
            Engine::Linear(re) => {
                let c = re.captures(text)?;
                Some(self.extract(|i| c.get(i).map(|m| (m.start(), m.end())), text))
            }
            Engine::Fallback(re) => {
                let s = String::from_utf8_lossy(text);
                let c = re.captures(&s).ok()??;
                let spans: Vec<Option<(usize, usize)>> = (0..c.len())
                    .map(|i| c.get(i).map(|m| (m.start(), m.end())))
                    .collect();
                Some(self.extract(|i| spans.get(i).copied().flatten(), s.as_bytes()))
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
                    return Some(parse_addr(v4, h, get(h.cidr)));
                }
                if let Some(v6) = get(h.ip6) {
                    return Some(parse_addr(v6, h, get(h.cidr)));
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
        let fields = self
            .fields
            .iter()
            .filter_map(|(n, i)| {
                let (a, b) = span(*i)?;
                (a < b).then(|| (n.clone(), String::from_utf8_lossy(&text[a..b]).into_owned()))
            })
            .collect();
        Captured {
            host,
            fields,
            content: self.content.and_then(&span),
        }
    }
}

fn parse_addr(text: &str, slot: &HostSlot, cidr: Option<&str>) -> Result<Host, String> {
    let addr: IpAddr = text.parse().map_err(|_| text.to_string())?;
    let addr = match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
        v4 => v4,
    };
    match (slot.kind, cidr) {
        (HostTag::Subnet, Some(p)) => {
            let max = if addr.is_ipv4() { 32 } else { 128 };
            match p.parse::<u8>() {
                Ok(p) if p <= max => Ok(Host::Net(addr, p)),
                _ => Err(format!("{text}/{p}")),
            }
        }
        _ => Ok(Host::Addr(addr)),
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
        assert_eq!(c.fields, vec![("user".to_string(), "bob".to_string())]);
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
    fn invalid_utf8_lines_do_not_panic() {
        let p = Pattern::compile(r"from <HOST>").unwrap();
        let c = p.captures(b"\xff\xfe from 192.0.2.1").unwrap();
        assert_eq!(c.host, addr("192.0.2.1"));
    }
}
