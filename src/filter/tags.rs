//! fail2ban's regex dialect → a regex the Rust engines accept.
//!
//! fail2ban writes Python `re` syntax plus tags: `<HOST>` and friends for the address to ban,
//! `<F-NAME>…</F-NAME>` for named captures. This module rewrites one pattern and says which
//! engine it needs; it compiles nothing itself.

/// The IPv4 address part of fail2ban's `<HOST>`, captured without a `::ffff:` mapping prefix.
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
    /// `<HOST>`: IPv4, IPv6 (optionally in brackets) or a host name.
    Host,
    /// `<ADDR>`: an IPv4 or IPv6 address, no names.
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
    /// The pattern needs look-around or back-references: only the backtracking engine runs it.
    pub needs_fallback: bool,
}

/// Rewrites fail2ban tags and Python-only syntax. Errors name what cannot be expressed.
pub fn translate(pattern: &str) -> Result<Translated, String> {
    let mut out = String::with_capacity(pattern.len() + 64);
    let mut hosts = Vec::new();
    let mut fields = Vec::new();
    let mut rest = pattern;
    while let Some(pos) = rest.find(['<', '\\', '(', '{']) {
        out.push_str(&rest[..pos]);
        rest = &rest[pos..];
        let consumed = match rest.as_bytes()[0] {
            b'\\' => escape(rest, &mut out),
            b'(' => group_open(rest, &mut out),
            b'{' => repetition(rest, &mut out),
            _ => tag(rest, &mut out, &mut hosts, &mut fields)?,
        };
        rest = &rest[consumed..];
    }
    out.push_str(rest);
    let needs_fallback = needs_fallback(&out);
    Ok(Translated {
        regex: out,
        hosts,
        fields,
        needs_fallback,
    })
}

/// `\Z` is Python's end of text; Rust spells it `\z`. Other escapes pass unchanged.
fn escape(rest: &str, out: &mut String) -> usize {
    let mut chars = rest.chars();
    chars.next();
    match chars.next() {
        Some('Z') => {
            out.push_str(r"\z");
            2
        }
        Some(c) => {
            out.push('\\');
            out.push(c);
            1 + c.len_utf8()
        }
        None => {
            out.push('\\');
            1
        }
    }
}

/// Python's `(?P=name)` back-reference is kept for the fallback engine in its own spelling.
fn group_open(rest: &str, out: &mut String) -> usize {
    if let Some(after) = rest.strip_prefix("(?P=")
        && let Some(end) = after.find(')')
    {
        out.push_str(r"\k<");
        out.push_str(&after[..end]);
        out.push('>');
        return 4 + end + 1;
    }
    out.push('(');
    1
}

/// Python accepts `{,n}` for `{0,n}`; Rust does not.
fn repetition(rest: &str, out: &mut String) -> usize {
    if rest.starts_with("{,") {
        out.push_str("{0,");
        2
    } else {
        out.push('{');
        1
    }
}

fn tag(
    rest: &str,
    out: &mut String,
    hosts: &mut Vec<HostTag>,
    fields: &mut Vec<String>,
) -> Result<usize, String> {
    let Some(end) = rest.find('>') else {
        out.push('<');
        return Ok(1);
    };
    let name = &rest[1..end];
    let host = match name {
        "HOST" => Some(HostTag::Host),
        "ADDR" => Some(HostTag::Addr),
        "IP4" => Some(HostTag::Ip4),
        "IP6" => Some(HostTag::Ip6),
        "DNS" => Some(HostTag::Dns),
        "SUBNET" => Some(HostTag::Subnet),
        _ => None,
    };
    if let Some(kind) = host {
        host_group(kind, hosts.len(), out);
        hosts.push(kind);
        return Ok(end + 1);
    }
    match name {
        "SKIPLINES" => {
            return Err(
                "<SKIPLINES> (multi-line matching) is not supported: banjo matches one line at a time".into(),
            );
        }
        "CIDR" => {
            out.push_str(r"(?P<cidr>\d{1,3})");
            return Ok(end + 1);
        }
        _ => {}
    }
    if let Some(field) = name.strip_prefix("F-") {
        let field = field_name(field)?;
        out.push_str("(?P<");
        out.push_str(&field);
        out.push('>');
        fields.push(field);
        return Ok(end + 1);
    }
    if name.strip_prefix("/F-").is_some() {
        out.push(')');
        return Ok(end + 1);
    }
    // Not a tag: `<` is an ordinary character in a regex (e.g. `user=<[^>]*>`).
    out.push('<');
    Ok(1)
}

fn field_name(raw: &str) -> Result<String, String> {
    let name: String = raw
        .chars()
        .map(|c| if c == '-' { '_' } else { c.to_ascii_lowercase() })
        .collect();
    let ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(format!(
            "<F-{raw}>: a capture name must be letters, digits, '-' or '_'"
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

fn host_group(kind: HostTag, k: usize, out: &mut String) {
    let [ip4, ip6, dns] = host_group_names(k);
    let v4 = format!(r"(?:::f{{4,6}}:)?(?P<{ip4}>{IP4})");
    let v6 = format!(r"\[?(?P<{ip6}>{IP6})\]?");
    let v6_bare = format!(r"(?P<{ip6}>{IP6})");
    let name = format!(r"(?P<{dns}>{DNS})");
    let body = match kind {
        HostTag::Host => format!("{v4}|{v6}|{name}"),
        HostTag::Addr => format!("{v4}|{v6}"),
        HostTag::Ip4 => format!(r"(?P<{ip4}>{IP4})"),
        HostTag::Ip6 => v6_bare,
        HostTag::Dns => name,
        HostTag::Subnet => {
            let cidr = if k == 0 {
                "cidr".to_string()
            } else {
                format!("cidr_{k}")
            };
            format!(r"(?:{v4}|{v6})(?:/(?P<{cidr}>\d{{1,3}}))?")
        }
    };
    out.push_str("(?:");
    out.push_str(&body);
    out.push(')');
}

/// Look-around and back-references are the constructs the linear-time engine rejects.
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
                if rest.starts_with(b"=")
                    || rest.starts_with(b"!")
                    || rest.starts_with(b"<=")
                    || rest.starts_with(b"<!")
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
    fn angle_brackets_that_are_not_tags_stay() {
        let t = translate("user=<[^>]*>, rip=<HOST>").unwrap();
        assert!(t.regex.starts_with("user=<[^>]*>, rip="));
    }

    #[test]
    fn python_only_syntax_is_rewritten() {
        assert_eq!(translate(r"x\Z").unwrap().regex, r"x\z");
        assert_eq!(translate(r"a{,3}").unwrap().regex, r"a{0,3}");
    }

    #[test]
    fn lookaround_and_backrefs_need_the_fallback_engine() {
        assert!(translate(r"foo(?!bar)").unwrap().needs_fallback);
        assert!(translate(r"(?<=x)y").unwrap().needs_fallback);
        assert!(translate(r"(?P<a>x)(?P=a)").unwrap().needs_fallback);
        assert!(translate(r"(a)\1").unwrap().needs_fallback);
        assert!(!translate(r"[(?!]x\d\\1").unwrap().needs_fallback);
        assert!(!translate(r"(?P<x>a)(?:b)(?i)c").unwrap().needs_fallback);
    }

    #[test]
    fn skiplines_is_refused_with_a_reason() {
        let e = translate("<SKIPLINES>x").unwrap_err();
        assert!(e.contains("one line at a time"), "{e}");
    }

    #[test]
    fn bad_field_name_is_refused() {
        assert!(translate("<F-US ER>x</F-US ER>").is_err());
    }
}
