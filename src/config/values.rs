//! The value types of the config (ports, protocols, journal matches, the keyword settings) and
//! their parsers. A parser takes one raw figment value and returns the typed value or the
//! problem in plain words; `resolve` adds the file, the key and an example.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use figment::value::{Num, Value};

use super::duration::{BanTime, UNITS_HELP, check_ban_length, parse_duration};
use super::net::IgnoreIp;

/// A keyword setting: an enum with the words the config uses for it.
macro_rules! keyword {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vdoc])* $variant),+ }

        impl $name {
            /// The words accepted, in the order the docs list them.
            pub const WORDS: &[&str] = &[$($word),+];

            /// The word as the config writes it.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(text: &str) -> Result<Self, String> {
                match text.trim().to_ascii_lowercase().as_str() {
                    $($word => Ok($name::$variant),)+
                    _ => Err(format!("expected one of {}", quoted_list(Self::WORDS))),
                }
            }
        }
    };
}

keyword! {
    /// `[daemon] loglevel`.
    LogLevel { Error = "error", Warn = "warn", Info = "info", Debug = "debug", Trace = "trace" }
}

keyword! {
    /// fail2ban's `usedns`: whether host names in log lines are resolved to addresses.
    UseDns {
        /// Resolve host names.
        Yes = "yes",
        /// Resolve, and warn that a host name was logged.
        Warn = "warn",
        /// Only take addresses.
        No = "no",
        /// Take the text as is, without resolving.
        Raw = "raw",
    }
}

keyword! {
    /// Where bans apply: fail2ban's `chain_hook`.
    Hook {
        /// Traffic to this host.
        Input = "input",
        /// Traffic routed or bridged through this host (services behind it).
        Forward = "forward",
    }
}

keyword! {
    /// The nftables family of banjo's table.
    Family {
        /// IPv4 and IPv6 at layer 3.
        Inet = "inet",
        /// A layer-2 bridge table, for hosts that bridge traffic to the services.
        Bridge = "bridge",
    }
}

keyword! {
    /// What happens to a banned address's packets: fail2ban's nftables `blocktype`.
    BlockType { Drop = "drop", Reject = "reject" }
}

keyword! {
    /// What the `[blocklist]` keeps the listed sources from reaching.
    BlocklistScope {
        /// Every port and protocol, in the input hook and in every hook and family the
        /// jails use (forwarded and bridged traffic too).
        All = "all",
        /// What each jail guards: a rule per jail with its ports, protocols, hook, family
        /// and blocktype.
        Jails = "jails",
    }
}

keyword! {
    /// A transport protocol a ban covers.
    Protocol { Tcp = "tcp", Udp = "udp", UdpLite = "udplite", Sctp = "sctp" }
}

keyword! {
    /// A ban record kind banjo-notify acts on. fail2ban's start and stop mails have no
    /// counterpart: banjo-notify sends none.
    NotifyEvent { Ban = "ban", Unban = "unban" }
}

impl Protocol {
    pub const ALL: [Protocol; 4] = [Protocol::Tcp, Protocol::Udp, Protocol::UdpLite, Protocol::Sctp];
}

/// Ports a ban covers: one port when `low == high`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    pub low: u16,
    pub high: u16,
}

impl PortRange {
    pub fn contains(self, port: u16) -> bool {
        (self.low..=self.high).contains(&port)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.low == self.high {
            write!(f, "{}", self.low)
        } else {
            write!(f, "{}-{}", self.low, self.high)
        }
    }
}

/// The service names `ports` understands besides numbers.
pub const SERVICES: &[(&str, u16)] = &[
    ("ssh", 22),
    ("smtp", 25),
    ("http", 80),
    ("pop3", 110),
    ("imap", 143),
    ("https", 443),
    ("smtps", 465),
    ("submissions", 465),
    ("submission", 587),
    ("imaps", 993),
    ("pop3s", 995),
];

/// One journal match of a jail's `journal` list, in journalctl's syntax.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum JournalMatch {
    /// `FIELD=VALUE`. Matches on different fields are ANDed, on the same field ORed.
    Field { field: String, value: String },
    /// `+`: OR between the groups before and after.
    Or,
}

impl fmt::Display for JournalMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JournalMatch::Field { field, value } => write!(f, "{field}={value}"),
            JournalMatch::Or => f.write_str("+"),
        }
    }
}

/// Where a multilog jail reads from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MultilogSource {
    /// A file descriptor systemd passes, by its `FileDescriptorName=`.
    FdName(String),
    /// A FIFO banjo opens itself.
    Fifo(PathBuf),
}

impl fmt::Display for MultilogSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MultilogSource::FdName(name) => f.write_str(name),
            MultilogSource::Fifo(path) => write!(f, "{}", path.display()),
        }
    }
}

pub(crate) fn quoted_list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
    quoted.join(", ")
}

/// A value as TOML would write it, for messages.
pub(crate) fn render(value: &Value) -> String {
    match value {
        Value::String(_, s) => format!("{s:?}"),
        Value::Char(_, c) => format!("\"{c}\""),
        Value::Bool(_, b) => b.to_string(),
        Value::Num(_, n) => match number(n) {
            Number::Int(i) => i.to_string(),
            Number::Float(f) => f.to_string(),
        },
        Value::Empty(..) => "(nothing)".to_string(),
        Value::Array(_, items) => {
            let items: Vec<String> = items.iter().map(render).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Dict(_, dict) => {
            if let Some(time) = toml_datetime(value) {
                return time.to_string();
            }
            let items: Vec<String> = dict.iter().map(|(k, v)| format!("{k} = {}", render(v))).collect();
            format!("{{ {} }}", items.join(", "))
        }
    }
}

/// TOML dates and times reach figment as a one-key table.
fn toml_datetime(value: &Value) -> Option<&str> {
    match value {
        Value::Dict(_, dict) if dict.len() == 1 => {
            dict.get("$__toml_private_datetime").and_then(Value::as_str)
        }
        _ => None,
    }
}

enum Number {
    Int(i128),
    Float(f64),
}

fn number(n: &Num) -> Number {
    if let Some(i) = n.to_i128() {
        Number::Int(i)
    } else if let Some(u) = n.to_u128() {
        Number::Int(i128::try_from(u).unwrap_or(i128::MAX))
    } else {
        Number::Float(n.to_f64().unwrap_or(f64::NAN))
    }
}

/// An integer, from a TOML integer or a string of digits (fail2ban habit; env values).
fn integer(value: &Value) -> Option<i128> {
    match value {
        Value::Num(_, n) => match number(n) {
            Number::Int(i) => Some(i),
            Number::Float(_) => None,
        },
        Value::String(_, s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// true/false; also the spellings fail2ban and systemd accept (yes/no, on/off, 1/0), which is
/// what an environment variable like BANJO_JAILS__SSHD__ENABLED=0 gives.
pub fn boolean(value: &Value) -> Result<bool, String> {
    let word = match value {
        Value::Bool(_, b) => return Ok(*b),
        Value::String(_, s) => s.trim().to_ascii_lowercase(),
        Value::Num(..) => render(value),
        _ => String::new(),
    };
    match word.as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

/// A whole number ≥ `min`, no larger than `max`; `what` is "failures", "addresses", …
pub fn whole(value: &Value, what: &str, min: u64, max: u64) -> Result<u64, String> {
    let expected = || format!("expected a whole number of {what} ≥ {min}");
    let n = integer(value).ok_or_else(expected)?;
    if n < i128::from(min) {
        return Err(expected());
    }
    u64::try_from(n)
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| format!("{} is too large: at most {max}", n))
}

/// A positive finite number (bantime_factor).
pub fn positive_number(value: &Value) -> Result<f64, String> {
    let n = match value {
        Value::Num(_, n) => match number(n) {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        },
        Value::String(_, s) => s
            .trim()
            .parse()
            .map_err(|_| "expected a number > 0".to_string())?,
        _ => return Err("expected a number > 0".into()),
    };
    if n.is_finite() && n > 0.0 {
        Ok(n)
    } else {
        Err("expected a number > 0".into())
    }
}

/// A string, not empty.
pub fn text(value: &Value) -> Result<String, String> {
    match value {
        Value::String(_, s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Value::String(..) => Err("expected a non-empty string".into()),
        _ => Err("expected a string (in quotes)".into()),
    }
}

pub fn keyword<T: std::str::FromStr<Err = String>>(value: &Value) -> Result<T, String> {
    match value {
        Value::String(_, s) => s.parse(),
        // Not a word at all: parsing the empty string gives the "expected one of …" list.
        _ => "".parse(),
    }
}

/// `usedns` also takes fail2ban-style booleans.
pub fn usedns(value: &Value) -> Result<UseDns, String> {
    match value {
        Value::Bool(_, true) => Ok(UseDns::Yes),
        Value::Bool(_, false) => Ok(UseDns::No),
        _ => keyword(value),
    }
}

/// An absolute path.
pub fn abs_path(value: &Value) -> Result<PathBuf, String> {
    let path = PathBuf::from(text(value).map_err(|_| "expected an absolute path".to_string())?);
    if path.is_absolute() {
        Ok(path)
    } else {
        Err("expected an absolute path (starting with /)".into())
    }
}

/// A Unix group name (for the control socket's access).
pub fn group_name(value: &Value) -> Result<String, String> {
    let name = text(value).map_err(|_| "expected a group name, e.g. \"adm\"".to_string())?;
    let ok = !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if ok {
        Ok(name)
    } else {
        Err("expected a group name (letters, digits, '_', '-', '.'), e.g. \"adm\"".into())
    }
}

/// The nftables table banjo owns.
pub fn table_name(value: &Value) -> Result<String, String> {
    let name = text(value)?;
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(name)
    } else {
        Err("expected an nftables table name: a letter, then letters, digits, _ or -".into())
    }
}

/// What a duration value was, before the key decides what it allows.
enum DurationInput {
    Negative(i128),
    Positive(Duration),
    Zero,
}

fn duration_input(value: &Value) -> Result<DurationInput, String> {
    let from_secs = |n: i128| match n {
        n if n < 0 => DurationInput::Negative(n),
        0 => DurationInput::Zero,
        n => DurationInput::Positive(Duration::from_secs(u64::try_from(n).unwrap_or(u64::MAX))),
    };
    match value {
        Value::Num(_, n) => match number(n) {
            Number::Int(i) => Ok(from_secs(i)),
            Number::Float(_) => Err(format!("expected whole seconds or a string: {UNITS_HELP}")),
        },
        Value::String(_, s) => match s.trim().parse::<i128>() {
            Ok(i) => Ok(from_secs(i)),
            Err(_) => parse_duration(s).map(|d| match d.is_zero() {
                true => DurationInput::Zero,
                false => DurationInput::Positive(d),
            }),
        },
        _ if toml_datetime(value).is_some() => Err(format!(
            "TOML read this as a time of day, not a duration: {UNITS_HELP}"
        )),
        Value::Dict(..) => Err(format!("expected a duration, not a table: {UNITS_HELP}")),
        _ => Err(format!("expected a duration: {UNITS_HELP}")),
    }
}

/// findtime, bantime_maxtime: a duration > 0.
pub fn positive_duration(value: &Value) -> Result<Duration, String> {
    match duration_input(value)? {
        DurationInput::Positive(d) => Ok(d),
        DurationInput::Zero => Err("must be a positive duration, not zero".into()),
        DurationInput::Negative(-1) => {
            Err("must be a positive duration; -1 (permanent) only exists for bantime".into())
        }
        DurationInput::Negative(_) => Err("must be a positive duration".into()),
    }
}

/// bantime_maxtime: a duration > 0 the kernel can time.
pub fn ban_length(value: &Value) -> Result<Duration, String> {
    positive_duration(value).and_then(check_ban_length)
}

/// bantime_rndtime: a duration ≥ 0 the kernel can time.
pub fn ban_extra(value: &Value) -> Result<Duration, String> {
    duration_or_zero(value).and_then(check_ban_length)
}

/// A duration ≥ 0.
fn duration_or_zero(value: &Value) -> Result<Duration, String> {
    match duration_input(value)? {
        DurationInput::Positive(d) => Ok(d),
        DurationInput::Zero => Ok(Duration::ZERO),
        DurationInput::Negative(_) => Err("must be zero or a positive duration".into()),
    }
}

/// bantime: a duration > 0, or -1 / "-1" / "permanent" for a ban that never expires.
pub fn bantime(value: &Value) -> Result<BanTime, String> {
    match value {
        Value::String(_, s) if s.trim().eq_ignore_ascii_case("permanent") => {
            return Ok(BanTime::Permanent);
        }
        Value::Dict(_, dict) if toml_datetime(value).is_none() => {
            let first = dict.keys().next().map_or("increment", String::as_str);
            return Err(format!(
                "fail2ban's `bantime.{first}` is `bantime_{first}` in banjo (in TOML the dot made \
                 `bantime` a table), e.g. bantime_{first} = {}",
                super::schema::example(&format!("bantime_{first}"))
            ));
        }
        _ => {}
    }
    match duration_input(value)? {
        DurationInput::Positive(d) => check_ban_length(d).map(BanTime::For),
        DurationInput::Negative(-1) => Ok(BanTime::Permanent),
        DurationInput::Zero => Err("must be a positive duration, or -1 for a permanent ban".into()),
        DurationInput::Negative(_) => {
            Err("must be a positive duration; the only negative value is -1 (permanent)".into())
        }
    }
}

/// The items of a list, or of a string separated by commas and/or spaces (fail2ban style).
pub(super) fn items(value: &Value) -> Result<Vec<String>, String> {
    let split = |s: &str| -> Vec<String> {
        s.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    match value {
        Value::String(_, s) => Ok(split(s)),
        Value::Num(_, n) => Ok(vec![render(&Value::Num(Default::default(), *n))]),
        Value::Array(_, list) => {
            let mut out = Vec::new();
            for item in list {
                match item {
                    Value::String(_, s) => out.extend(split(s)),
                    Value::Num(..) => out.push(render(item)),
                    other => return Err(format!("{} is not a string", render(other))),
                }
            }
            Ok(out)
        }
        _ => Err("expected a list".into()),
    }
}

/// `ports`: numbers, "a-b" or "a:b" ranges and a few service names; [] means all ports.
pub fn ports(value: &Value) -> Result<Vec<PortRange>, String> {
    let mut out = Vec::new();
    for item in items(value)? {
        let range = port_range(&item)?;
        if !out.contains(&range) {
            out.push(range);
        }
    }
    Ok(out)
}

fn port_range(item: &str) -> Result<PortRange, String> {
    let (low, high) = match item.split_once(['-', ':']) {
        Some((low, high)) => (port(low)?, port(high)?),
        None => {
            let p = port(item)?;
            (p, p)
        }
    };
    if low > high {
        return Err(format!("range `{item}` goes down: write the lower port first"));
    }
    Ok(PortRange { low, high })
}

fn port(text: &str) -> Result<u16, String> {
    if let Some((_, number)) = SERVICES.iter().find(|(name, _)| name.eq_ignore_ascii_case(text)) {
        return Ok(*number);
    }
    match text.parse::<u32>() {
        Ok(0) => Err("port 0 does not exist; to cover all ports leave ports = [] (the default)".into()),
        Ok(n) if n <= 65535 => Ok(n as u16),
        Ok(n) => Err(format!("port {n} is out of range: ports are 1 to 65535")),
        Err(_) => {
            let names: Vec<String> = SERVICES.iter().map(|(n, p)| format!("{n} ({p})")).collect();
            Err(format!(
                "`{text}` is not a port number; the service names banjo knows are {}, \
                 other services need their number",
                names.join(", ")
            ))
        }
    }
}

/// `protocols`: a subset of tcp, udp, udplite, sctp; "all" is all four.
pub fn protocols(value: &Value) -> Result<Vec<Protocol>, String> {
    let mut out = Vec::new();
    for item in items(value)? {
        if item.eq_ignore_ascii_case("all") {
            return Ok(Protocol::ALL.to_vec());
        }
        let protocol: Protocol = item.parse().map_err(|e| format!("`{item}`: {e}"))?;
        if !out.contains(&protocol) {
            out.push(protocol);
        }
    }
    if out.is_empty() {
        return Err(format!(
            "at least one protocol is needed, from {}",
            quoted_list(Protocol::WORDS)
        ));
    }
    Ok(out)
}

/// `ignoreip`: addresses, CIDR networks, host names and `file:PATH` lists.
pub fn ignoreip(value: &Value) -> Result<Vec<IgnoreIp>, String> {
    items(value)?.iter().map(|item| item.parse()).collect()
}

/// A list of absolute paths (`[blocklist] files`), at least one.
pub fn abs_paths(value: &Value) -> Result<Vec<PathBuf>, String> {
    let items = match value {
        Value::String(..) => vec![value.clone()],
        Value::Array(_, list) => list.clone(),
        _ => return Err("expected a list of absolute paths".into()),
    };
    if items.is_empty() {
        return Err("expected at least one file".into());
    }
    items.iter().map(abs_path).collect()
}

/// A prefix length of an `ipv6_prefix`-like key: `min..=max` bits.
pub fn prefix_len(value: &Value, min: u8, max: u8) -> Result<u8, String> {
    let n = integer(value).ok_or_else(|| format!("expected a prefix length in bits, {min} to {max}"))?;
    u8::try_from(n)
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("{n} is out of range: a prefix length from {min} to {max} bits"))
}

/// `bantime_multipliers`: whole numbers ≥ 1, as a list or fail2ban's "1 2 4 8".
pub fn multipliers(value: &Value) -> Result<Vec<u32>, String> {
    items(value)?
        .iter()
        .map(|item| match item.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => Err(format!("`{item}` is not a whole number ≥ 1")),
        })
        .collect()
}

/// `failregex`, `ignoreregex`: a list of regexes, or one string with one regex per line.
pub fn regex_list(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::String(_, s) => Ok(s
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()),
        Value::Array(_, list) => list
            .iter()
            .map(|item| match item {
                Value::String(_, s) => Ok(s.clone()),
                other => Err(format!(
                    "{} is not a string; each regex is a string",
                    render(other)
                )),
            })
            .collect(),
        _ => Err("expected a list of regexes or a string with one regex per line".into()),
    }
}

/// `journalmatch` of a filter, kept as words; checked as `journal` when a jail defaults to it.
pub fn words(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::String(_, s) => Ok(s.split_whitespace().map(str::to_string).collect()),
        Value::Array(..) => items(value),
        _ => Err("expected a string or a list of strings".into()),
    }
}

/// A jail's `journal`: FIELD=VALUE matches and "+" between groups, journalctl's syntax.
/// Whitespace separates matches inside a string, as in fail2ban's `journalmatch`.
pub fn journal(value: &Value) -> Result<Vec<JournalMatch>, String> {
    let words: Vec<String> = match value {
        Value::String(_, s) => s.split_whitespace().map(str::to_string).collect(),
        Value::Array(_, list) => {
            let mut out = Vec::new();
            for item in list {
                let Value::String(_, s) = item else {
                    return Err(format!("{} is not a string", render(item)));
                };
                out.extend(s.split_whitespace().map(str::to_string));
            }
            out
        }
        _ => return Err("expected a list of FIELD=VALUE strings".into()),
    };
    journal_words(&words)
}

/// Journal matches given as words (`FIELD=VALUE` and `+`), checked as a jail's `journal`:
/// also used for a filter's `journalmatch` when it becomes a jail's default.
pub fn journal_words(words: &[String]) -> Result<Vec<JournalMatch>, String> {
    if words.is_empty() {
        return Err("an empty list would read the whole journal: give at least one FIELD=VALUE".into());
    }
    let matches = words
        .iter()
        .map(|w| journal_match(w))
        .collect::<Result<Vec<_>, _>>()?;
    let ors_misplaced = matches.first() == Some(&JournalMatch::Or)
        || matches.last() == Some(&JournalMatch::Or)
        || matches
            .windows(2)
            .any(|w| w[0] == JournalMatch::Or && w[1] == JournalMatch::Or);
    if ors_misplaced {
        return Err("\"+\" goes between two groups of FIELD=VALUE matches".into());
    }
    Ok(matches)
}

fn journal_match(word: &str) -> Result<JournalMatch, String> {
    if word == "+" {
        return Ok(JournalMatch::Or);
    }
    let Some((field, value)) = word.split_once('=') else {
        return Err(format!(
            "`{word}` is not FIELD=VALUE; e.g. \"_SYSTEMD_UNIT={word}.service\" or \
             \"SYSLOG_IDENTIFIER={word}\""
        ));
    };
    if !is_journal_field(field) {
        let upper = field.to_ascii_uppercase();
        if is_journal_field(&upper) {
            return Err(format!(
                "journal field names are upper case: write \"{upper}={value}\""
            ));
        }
        return Err(format!(
            "`{field}` is not a journal field name: A-Z, 0-9 and _, not starting with a digit"
        ));
    }
    let is_unit_field = matches!(
        field,
        "_SYSTEMD_UNIT" | "_SYSTEMD_USER_UNIT" | "UNIT" | "USER_UNIT"
    );
    if is_unit_field && !value.contains('.') {
        return Err(format!(
            "unit names include their type: write \"{field}={value}.service\""
        ));
    }
    Ok(JournalMatch::Field {
        field: field.to_string(),
        value: value.to_string(),
    })
}

fn is_journal_field(field: &str) -> bool {
    !field.is_empty()
        && field.len() <= 64
        && field.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
        && field
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// `multilog`: an fd name from systemd's FileDescriptorName=, or an absolute FIFO path.
pub fn multilog(value: &Value) -> Result<MultilogSource, String> {
    let name = text(value)?;
    if name.starts_with('/') {
        return Ok(MultilogSource::Fifo(PathBuf::from(name)));
    }
    if name.contains('/') {
        return Err("a FIFO path must be absolute, and an fd name cannot contain /".into());
    }
    let valid = name.len() <= 255 && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
    if !valid {
        return Err("an fd name (FileDescriptorName=) is printable ASCII without spaces or :".into());
    }
    Ok(MultilogSource::FdName(name))
}

/// Jail and filter names: they end up in nftables set names and journal fields.
pub fn section_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if valid {
        Ok(())
    } else {
        Err(
            "a name is letters, digits, _ and -, starting with a letter or digit, \
             at most 64 characters"
                .into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::value::Tag;

    fn s(text: &str) -> Value {
        Value::String(Tag::Default, text.into())
    }

    fn n(i: i64) -> Value {
        Value::from(i)
    }

    fn list(items: Vec<Value>) -> Value {
        Value::Array(Tag::Default, items)
    }

    fn range(low: u16, high: u16) -> PortRange {
        PortRange { low, high }
    }

    #[test]
    fn ports_as_a_fail2ban_string() {
        assert_eq!(
            ports(&s("25,465,587")).unwrap(),
            [range(25, 25), range(465, 465), range(587, 587)]
        );
        assert_eq!(ports(&s("25, 465 587")).unwrap().len(), 3);
    }

    #[test]
    fn ports_as_a_list_with_ranges_and_names() {
        let value = list(vec![n(25), s("1000-2000"), s("3000:3010"), s("imaps")]);
        assert_eq!(
            ports(&value).unwrap(),
            [
                range(25, 25),
                range(1000, 2000),
                range(3000, 3010),
                range(993, 993)
            ]
        );
        assert_eq!(ports(&n(22)).unwrap(), [range(22, 22)]);
        assert_eq!(ports(&list(vec![])).unwrap(), []);
    }

    #[test]
    fn bad_ports_say_why() {
        assert!(ports(&n(0)).unwrap_err().contains("ports = []"));
        assert!(ports(&n(70000)).unwrap_err().contains("1 to 65535"));
        assert!(ports(&s("2000-1000")).unwrap_err().contains("lower port first"));
        let e = ports(&s("http-alt")).unwrap_err();
        assert!(e.contains("not a port number"), "{e}");
        let e = ports(&s("gopher")).unwrap_err();
        assert!(e.contains("imaps (993)"), "{e}");
    }

    #[test]
    fn protocols_from_string_or_list() {
        assert_eq!(protocols(&s("tcp")).unwrap(), [Protocol::Tcp]);
        assert_eq!(protocols(&s("all")).unwrap(), Protocol::ALL);
        assert_eq!(
            protocols(&list(vec![s("udp"), s("SCTP"), s("udp")])).unwrap(),
            [Protocol::Udp, Protocol::Sctp]
        );
        let e = protocols(&s("icmp")).unwrap_err();
        assert!(e.contains("\"tcp\", \"udp\", \"udplite\", \"sctp\""), "{e}");
        assert!(protocols(&list(vec![])).is_err());
    }

    #[test]
    fn ignoreip_as_string_and_list() {
        let from_string = ignoreip(&s("127.0.0.1/8 ::1, mail.example.org")).unwrap();
        let from_list = ignoreip(&list(vec![s("127.0.0.1/8"), s("::1"), s("mail.example.org")])).unwrap();
        assert_eq!(from_string, from_list);
        assert_eq!(from_list[2], IgnoreIp::Host("mail.example.org".into()));
        assert!(ignoreip(&s("10.0.0.0/40")).is_err());
    }

    #[test]
    fn journal_matches_follow_journalctl() {
        let m = journal(&list(vec![
            s("_SYSTEMD_UNIT=dovecot.service"),
            s("+"),
            s("SYSLOG_IDENTIFIER=vpopmail"),
        ]))
        .unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[1], JournalMatch::Or);
        assert_eq!(m[2].to_string(), "SYSLOG_IDENTIFIER=vpopmail");
        assert_eq!(
            journal(&s("_SYSTEMD_UNIT=sshd.service + _COMM=sshd"))
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn journal_mistakes_are_explained() {
        let e = journal(&s("_systemd_unit=dovecot.service")).unwrap_err();
        assert!(e.contains("\"_SYSTEMD_UNIT=dovecot.service\""), "{e}");
        let e = journal(&s("_SYSTEMD_UNIT=dovecot")).unwrap_err();
        assert!(e.contains("dovecot.service"), "{e}");
        assert!(journal(&s("dovecot")).unwrap_err().contains("FIELD=VALUE"));
        assert!(journal(&s("+ A=b")).unwrap_err().contains("between"));
        assert!(journal(&s("1A=b")).is_err());
        assert!(journal(&list(vec![])).is_err());
    }

    #[test]
    fn multilog_is_an_fd_name_or_an_absolute_fifo() {
        assert_eq!(
            multilog(&s("qmail-smtpd")).unwrap(),
            MultilogSource::FdName("qmail-smtpd".into())
        );
        assert_eq!(
            multilog(&s("/run/qmail/smtpd.fifo")).unwrap(),
            MultilogSource::Fifo("/run/qmail/smtpd.fifo".into())
        );
        assert!(multilog(&s("run/x")).is_err());
        assert!(multilog(&s("a:b")).is_err());
        assert!(multilog(&s("")).is_err());
    }

    #[test]
    fn bantime_forms() {
        let d = |secs| BanTime::For(Duration::from_secs(secs));
        assert_eq!(bantime(&n(600)).unwrap(), d(600));
        assert_eq!(bantime(&s("600")).unwrap(), d(600));
        assert_eq!(bantime(&s("1d12h")).unwrap(), d(36 * 3600));
        assert_eq!(bantime(&n(-1)).unwrap(), BanTime::Permanent);
        assert_eq!(bantime(&s("-1")).unwrap(), BanTime::Permanent);
        assert_eq!(bantime(&s("permanent")).unwrap(), BanTime::Permanent);
        assert!(bantime(&n(0)).unwrap_err().contains("-1"));
        assert!(bantime(&n(-5)).unwrap_err().contains("only negative value is -1"));
        assert!(bantime(&s("1 day")).unwrap_err().contains("did you mean \"1d\"?"));
    }

    #[test]
    fn findtime_must_be_positive() {
        assert!(
            positive_duration(&n(-1))
                .unwrap_err()
                .contains("only exists for bantime")
        );
        assert!(positive_duration(&s("0")).unwrap_err().contains("not zero"));
        assert!(positive_duration(&Value::from(1.5)).is_err());
        assert_eq!(duration_or_zero(&s("0")).unwrap(), Duration::ZERO);
    }

    #[test]
    fn whole_numbers() {
        assert_eq!(whole(&n(6), "failures", 1, 100).unwrap(), 6);
        assert_eq!(whole(&s("6"), "failures", 1, 100).unwrap(), 6);
        assert!(whole(&s("six"), "failures", 1, 100).unwrap_err().contains("≥ 1"));
        assert!(whole(&n(0), "failures", 1, 100).is_err());
        assert!(
            whole(&n(101), "failures", 1, 100)
                .unwrap_err()
                .contains("at most 100")
        );
        assert!(whole(&Value::from(2.5), "failures", 1, 100).is_err());
    }

    #[test]
    fn keywords_list_the_valid_words() {
        assert_eq!(keyword::<Hook>(&s("forward")).unwrap(), Hook::Forward);
        let e = keyword::<Family>(&s("ip6")).unwrap_err();
        assert_eq!(e, "expected one of \"inet\", \"bridge\"");
        assert!(keyword::<BlockType>(&n(1)).is_err());
        assert_eq!(usedns(&Value::from(false)).unwrap(), UseDns::No);
    }

    #[test]
    fn regex_lists_from_multiline_strings() {
        let v = s("\n  first <HOST>\n\n  second <HOST>\n");
        assert_eq!(regex_list(&v).unwrap(), ["first <HOST>", "second <HOST>"]);
    }

    #[test]
    fn render_looks_like_toml() {
        assert_eq!(render(&s("six")), "\"six\"");
        assert_eq!(render(&list(vec![n(1), s("a")])), "[1, \"a\"]");
    }
}
