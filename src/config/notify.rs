//! `[notify]`: what banjo-notify does with banjo's ban records — `[notify.mail]` (ban mails
//! through the local MTA's sendmail, digests beyond a rate) and `[[notify.exec]]` (commands
//! run with the ban's values as arguments). The schema, its defaults and validation; the
//! argv templates (`{ip}`, `{jail}`…) are parsed here so a typo is a config error.
//!
//! ```toml
//! [notify.mail]
//! dest = "postmaster@example.org"
//! sender = "banjo@example.org"
//!
//! [[notify.exec]]
//! name = "abuse-report"
//! command = ["/usr/local/sbin/report", "{ip}", "{jail}"]
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use figment::value::Value;

use crate::name::JailName;

use super::error::ConfigError;
use super::resolve::{Table, Walk};
use super::schema::Section;
use super::values::{self, NotifyEvent, render};

/// `[notify]`, resolved. Nothing configured (the default) means banjo-notify has nothing to do.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Notify {
    /// `None`: $STATE_DIRECTORY (banjo-notify.service's StateDirectory=), else
    /// /var/lib/banjo-notify.
    pub state_dir: Option<PathBuf>,
    pub mail: Option<Mail>,
    pub exec: Vec<Exec>,
}

impl Notify {
    /// Whether banjo-notify has anything to do (the unit's ExecCondition asks this).
    pub fn is_configured(&self) -> bool {
        self.mail.is_some() || !self.exec.is_empty()
    }
}

/// `[notify.mail]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    /// Recipients (fail2ban's `dest`/`destemail`).
    pub dest: Vec<String>,
    /// The From: address and, through `{sender}` in `command`, the envelope sender.
    pub sender: String,
    /// The From: display name (fail2ban's `sendername`).
    pub sender_name: String,
    pub jails: Jails,
    pub events: Vec<NotifyEvent>,
    /// The MTA's sendmail, reading the mail on stdin; `{sender}` is the only placeholder.
    pub command: Argv,
    pub timeout: Duration,
    /// Attempts after the first one when sendmail fails or times out.
    pub retries: u32,
    /// The wait before the first retry; doubled for each further one.
    pub retry_delay: Duration,
    /// Put `whois ADDRESS` into ban mails when the whois program is installed.
    pub whois: bool,
    pub whois_timeout: Duration,
    /// Mails per jail within `digest_interval` before further bans go into a digest; 0: every
    /// ban goes into a digest (fail2ban's sendmail-buffered).
    pub digest_after: u32,
    pub digest_interval: Duration,
}

/// The sendmail banjo-notify runs unless `command` says otherwise. `-t`: recipients from the
/// headers; `-oi`: a line with a single dot does not end the mail (log lines may have one).
pub const SENDMAIL: &[&str] = &["/usr/sbin/sendmail", "-t", "-oi", "-f", "{sender}"];

/// One `[[notify.exec]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Exec {
    /// How logs and the state file name it: `name`, else the program's file name (made
    /// unique with `-2`, `-3`…).
    pub name: String,
    pub command: Argv,
    pub events: Vec<NotifyEvent>,
    pub jails: Jails,
    pub timeout: Duration,
    pub retries: u32,
    pub retry_delay: Duration,
}

/// Which jails a mail or command is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jails {
    All,
    Only(BTreeSet<JailName>),
}

impl Jails {
    pub fn contains(&self, jail: &str) -> bool {
        match self {
            Jails::All => true,
            Jails::Only(names) => names.contains(jail),
        }
    }
}

impl fmt::Display for Jails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Jails::All => f.write_str("every jail"),
            Jails::Only(names) => {
                let names: Vec<&str> = names.iter().map(JailName::as_str).collect();
                f.write_str(&names.join(", "))
            }
        }
    }
}

/// A value an argv template can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placeholder {
    /// "ban" or "unban".
    Event,
    /// The banned address or network.
    Ip,
    Jail,
    /// "1h", "1d12h", "permanent" (bans only).
    Bantime,
    /// When the ban ends, RFC 3339, or "never" (bans only).
    Until,
    /// How many failures led to the ban (bans only).
    Failures,
    /// The log lines of those failures, one per line (bans only).
    Matches,
    /// Why a ban ended: "bantime over", "unbanned by an admin"… (unbans only).
    Reason,
    /// The host that banned (the record's _HOSTNAME).
    Host,
    /// `[notify.mail] sender` (mail command only).
    Sender,
}

impl Placeholder {
    /// What `[[notify.exec]] command` may use.
    pub const EXEC: &[Placeholder] = &[
        Placeholder::Event,
        Placeholder::Ip,
        Placeholder::Jail,
        Placeholder::Bantime,
        Placeholder::Until,
        Placeholder::Failures,
        Placeholder::Matches,
        Placeholder::Reason,
        Placeholder::Host,
    ];
    /// What `[notify.mail] command` may use.
    pub const MAIL: &[Placeholder] = &[Placeholder::Sender];

    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Event => "event",
            Placeholder::Ip => "ip",
            Placeholder::Jail => "jail",
            Placeholder::Bantime => "bantime",
            Placeholder::Until => "until",
            Placeholder::Failures => "failures",
            Placeholder::Matches => "matches",
            Placeholder::Reason => "reason",
            Placeholder::Host => "host",
            Placeholder::Sender => "sender",
        }
    }

    fn from_name(name: &str) -> Option<Placeholder> {
        [Placeholder::EXEC, Placeholder::MAIL]
            .concat()
            .into_iter()
            .find(|p| p.name() == name)
    }
}

/// One piece of an argv word.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Value(Placeholder),
}

/// A command line as a list of words (no shell), each word text with `{name}` placeholders.
/// `{{name}}` is the text `{name}`; any other brace stays as written, so JSON such as
/// `{"ip":"{ip}","tags":{}}` needs no escaping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Argv {
    words: Vec<Vec<Piece>>,
}

impl Argv {
    /// Parses `words`; `allowed` are the placeholders this command may use. The program
    /// (the first word) may not be a placeholder.
    pub fn parse(words: &[String], allowed: &[Placeholder]) -> Result<Argv, String> {
        if words.is_empty() || words[0].trim().is_empty() {
            return Err("expected the program and its arguments, one string each".into());
        }
        let words = words
            .iter()
            .map(|w| parse_word(w, allowed))
            .collect::<Result<Vec<_>, _>>()?;
        if words[0].iter().any(|p| matches!(p, Piece::Value(_))) {
            return Err("the program (the first word) cannot be a placeholder".into());
        }
        Ok(Argv { words })
    }

    /// The words with each placeholder replaced by `value(placeholder)`.
    pub fn render(&self, value: impl Fn(Placeholder) -> String) -> Vec<String> {
        self.words
            .iter()
            .map(|pieces| {
                let mut word = String::new();
                for piece in pieces {
                    match piece {
                        Piece::Text(t) => word.push_str(t),
                        Piece::Value(p) => word.push_str(&value(*p)),
                    }
                }
                word
            })
            .collect()
    }

    /// The program, as written (a path or a name looked up in PATH).
    pub fn program(&self) -> String {
        self.render(|_| String::new()).swap_remove(0)
    }
}

impl fmt::Display for Argv {
    /// As the config writes it, placeholders included: for `banjo check` and logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words = self.render(|p| format!("{{{}}}", p.name()));
        let shown: Vec<String> = words.iter().map(|w| format!("{w:?}")).collect();
        write!(f, "[{}]", shown.join(", "))
    }
}

fn parse_word(word: &str, allowed: &[Placeholder]) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = word;
    while let Some(c) = rest.chars().next() {
        if let Some(name) = escaped_name(rest) {
            text.push_str(&format!("{{{name}}}"));
            rest = &rest[name.len() + 4..];
            continue;
        }
        if c == '{' {
            if let Some(name) = placeholder_name(rest) {
                let placeholder = Placeholder::from_name(name)
                    .filter(|p| allowed.contains(p))
                    .ok_or_else(|| unknown_placeholder(name, allowed))?;
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(Piece::Value(placeholder));
                rest = &rest[name.len() + 2..];
                continue;
            }
        }
        text.push(c);
        rest = &rest[c.len_utf8()..];
    }
    if !text.is_empty() || pieces.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// `name` when `text` starts with `{{name}}`: the placeholder's spelling, meant literally.
fn escaped_name(text: &str) -> Option<&str> {
    let name = placeholder_name(text.strip_prefix('{')?)?;
    text[name.len() + 3..].starts_with('}').then_some(name)
}

/// `name` when `text` starts with `{name}` and name is a word of lower-case letters and _.
fn placeholder_name(text: &str) -> Option<&str> {
    let inner = text.strip_prefix('{')?;
    let end = inner.find('}')?;
    let name = &inner[..end];
    let is_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    is_name.then_some(name)
}

fn unknown_placeholder(name: &str, allowed: &[Placeholder]) -> String {
    let known: Vec<String> = allowed.iter().map(|p| format!("{{{}}}", p.name())).collect();
    let other_place = Placeholder::from_name(name).is_some();
    format!(
        "{{{name}}} {}; the placeholders here are {} (write {{{{{name}}}}} for the text {{{name}}})",
        if other_place {
            "cannot be used in this command"
        } else {
            "is not a placeholder"
        },
        known.join(", ")
    )
}

/// Whether `name` can be a jail's name (records from the journal are checked with it).
pub fn is_jail_name(name: &str) -> Result<(), String> {
    values::section_name(name)
}

/// A mail address as sendmail takes it: `local@domain` or a local name the MTA qualifies.
/// Nothing that could end a header or start another address.
pub fn mail_address(value: &Value) -> Result<String, String> {
    let expected = || "expected a mail address like \"postmaster@example.org\"".to_string();
    let text = values::text(value).map_err(|_| expected())?;
    let ok = text.len() <= 254
        && !text.starts_with(['@', '-'])
        && !text.ends_with('@')
        && text.matches('@').count() <= 1
        && text
            .chars()
            .all(|c| c.is_ascii_graphic() && !"<>()[]\\,;:\"".contains(c));
    if ok { Ok(text) } else { Err(expected()) }
}

/// `dest`: one address or a list of them.
fn addresses(value: &Value) -> Result<Vec<String>, String> {
    let list: Vec<Value> = match value {
        Value::Array(_, items) => items.clone(),
        other => vec![other.clone()],
    };
    if list.is_empty() {
        return Err("expected at least one mail address".into());
    }
    list.iter().map(mail_address).collect()
}

/// A display name for From:, one line of printable text.
pub fn display_name(value: &Value) -> Result<String, String> {
    let text = values::text(value)?;
    if text.chars().any(char::is_control) || text.len() > 64 {
        return Err("expected a name on one line, at most 64 characters".into());
    }
    Ok(text)
}

/// `events`: "ban" and/or "unban".
fn events(value: &Value) -> Result<Vec<NotifyEvent>, String> {
    let mut out = Vec::new();
    for item in values::items(value)? {
        if matches!(
            item.to_ascii_lowercase().as_str(),
            "start" | "stop" | "actionstart" | "actionstop"
        ) {
            return Err(format!(
                "banjo-notify sends no {item} mails (fail2ban's actionstart/actionstop): \
                 choose from \"ban\", \"unban\""
            ));
        }
        let event: NotifyEvent = item.parse().map_err(|e| format!("`{item}`: {e}"))?;
        if !out.contains(&event) {
            out.push(event);
        }
    }
    if out.is_empty() {
        return Err("expected at least one of \"ban\", \"unban\"".into());
    }
    Ok(out)
}

/// A command as a list of strings (no shell; a string alone is refused, so nobody expects
/// word splitting or quoting).
fn words(value: &Value) -> Result<Vec<String>, String> {
    match value {
        Value::Array(_, items) => items
            .iter()
            .map(|item| match item {
                Value::String(_, s) => Ok(s.clone()),
                other => Err(format!(
                    "{} is not a string; each word of the command is a string",
                    render(other)
                )),
            })
            .collect(),
        Value::String(_, s) => Err(format!(
            "expected a list of words (no shell is used), e.g. command = [{}]",
            s.split_whitespace()
                .map(|w| format!("{w:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        _ => Err("expected a list of words, e.g. command = [\"/usr/bin/logger\", \"{ip}\"]".into()),
    }
}

/// Retries: a whole number, 0 allowed.
fn retries(value: &Value) -> Result<u32, String> {
    values::whole(value, "retries", 0, 100).map(|n| n as u32)
}

impl Walk<'_> {
    /// `[notify]` and its subsections; `jail_names` are the jails a `jails` list may name.
    pub(super) fn notify(&mut self, top: &Table, jail_names: &[JailName]) -> Notify {
        let mut notify = Notify::default();
        let Some(t) = self.table(top, "notify") else {
            return notify;
        };
        self.check_keys(&t, Section::Notify);
        notify.state_dir = self.field(&t, "state_dir", values::abs_path);
        if let Some(mail) = self.table(&t, "mail") {
            notify.mail = self.mail(&mail, jail_names);
        }
        if let Some(value) = t.get("exec") {
            notify.exec = self.execs(&t, value, jail_names);
        }
        notify
    }

    fn mail(&mut self, t: &Table, jail_names: &[JailName]) -> Option<Mail> {
        self.check_keys(t, Section::NotifyMail);
        let dest = self.field(t, "dest", addresses);
        if t.get("dest").is_none() {
            self.problem(ConfigError::Invalid {
                origin: self.table_origin(t.value),
                key: t.key("dest"),
                message: "[notify.mail] needs the recipient, e.g. dest = \"postmaster@example.org\"".into(),
            });
        }
        let sender = self.field(t, "sender", mail_address);
        let command = match self.field(t, "command", words) {
            Some(w) => self.argv(t, "command", &w, Placeholder::MAIL),
            None => Argv::parse(&default_sendmail(), Placeholder::MAIL).ok(),
        };
        // every key is checked before a missing one ends the section
        let sender_name = self.field(t, "sender_name", display_name);
        let jails = self.jails_field(t, jail_names);
        let events = self.field(t, "events", events);
        let timeout = self.duration(t, "timeout", 60);
        let retries = self.field(t, "retries", retries);
        let retry_delay = self.duration(t, "retry_delay", 30);
        let whois = self.field(t, "whois", values::boolean);
        let whois_timeout = self.duration(t, "whois_timeout", 10);
        let digest_after = self.field(t, "digest_after", |v| values::whole(v, "mails", 0, 10_000));
        let digest_interval = self.duration(t, "digest_interval", 600);
        Some(Mail {
            dest: dest?,
            sender: sender.unwrap_or_else(|| "banjo".into()),
            sender_name: sender_name.unwrap_or_else(|| "banjo".into()),
            jails,
            events: events.unwrap_or(vec![NotifyEvent::Ban]),
            command: command?,
            timeout,
            retries: retries.unwrap_or(5),
            retry_delay,
            whois: whois.unwrap_or(true),
            whois_timeout,
            digest_after: digest_after.map_or(5, |n| n as u32),
            digest_interval,
        })
    }

    fn execs(&mut self, notify: &Table, value: &Value, jail_names: &[JailName]) -> Vec<Exec> {
        let Value::Array(_, items) = value else {
            self.problem(ConfigError::BadValue {
                origin: self.origin(value.tag()),
                key: notify.key("exec"),
                value: render(value),
                expected: "expected a list of commands: write each one as a [[notify.exec]] \
                           section (two brackets)"
                    .into(),
            });
            return vec![];
        };
        let mut out: Vec<Exec> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let named = item.as_dict().and_then(|d| d.get("name")).and_then(Value::as_str);
            let path = match named {
                Some(name) => format!("{}.{name}", notify.key("exec")),
                None => format!("{}#{}", notify.key("exec"), i + 1),
            };
            let Some(dict) = item.as_dict() else {
                self.problem(ConfigError::BadValue {
                    origin: self.origin(item.tag()),
                    key: path,
                    value: render(item),
                    expected: "expected a [[notify.exec]] section".into(),
                });
                continue;
            };
            let t = Table {
                path,
                value: item,
                dict,
            };
            if let Some(exec) = self.exec(&t, jail_names, &out) {
                out.push(exec);
            }
        }
        out
    }

    fn exec(&mut self, t: &Table, jail_names: &[JailName], earlier: &[Exec]) -> Option<Exec> {
        self.check_keys(t, Section::NotifyExec);
        let name = self.field(t, "name", |v| {
            let name = values::text(v)?;
            values::section_name(&name).map(|()| name)
        });
        let command = match self.field(t, "command", words) {
            Some(w) => self.argv(t, "command", &w, Placeholder::EXEC),
            None => {
                self.problem(ConfigError::Invalid {
                    origin: self.table_origin(t.value),
                    key: t.key("command"),
                    message: "a [[notify.exec]] needs its command, e.g. command = \
                              [\"/usr/local/sbin/report\", \"{ip}\", \"{jail}\"]"
                        .into(),
                });
                None
            }
        };
        let events = self.field(t, "events", events);
        let jails = self.jails_field(t, jail_names);
        let timeout = self.duration(t, "timeout", 30);
        let retries = self.field(t, "retries", retries);
        let retry_delay = self.duration(t, "retry_delay", 10);
        let exec = Exec {
            name: String::new(),
            command: command?,
            events: events.unwrap_or(vec![NotifyEvent::Ban]),
            jails,
            timeout,
            retries: retries.unwrap_or(2),
            retry_delay,
        };
        let taken = |n: &str| earlier.iter().any(|e| e.name == n);
        let name = match name {
            Some(name) if taken(&name) => {
                self.problem(ConfigError::Invalid {
                    origin: self.table_origin(t.value),
                    key: t.key("name"),
                    message: format!("another [[notify.exec]] is named {name:?} already"),
                });
                return None;
            }
            Some(name) => name,
            None => unique_name(&exec.command.program(), taken),
        };
        Some(Exec { name, ..exec })
    }

    fn argv(&mut self, t: &Table, key: &str, words: &[String], allowed: &[Placeholder]) -> Option<Argv> {
        let value = t.get(key)?;
        self.parse_value(t, key, value, |_| Argv::parse(words, allowed))
    }

    /// A positive duration, or `default_secs`.
    fn duration(&mut self, t: &Table, key: &str, default_secs: u64) -> Duration {
        self.field(t, key, values::positive_duration)
            .unwrap_or(Duration::from_secs(default_secs))
    }

    /// `jails`: names of jails in this config (enabled or not), or "*" / absent for all.
    fn jails_field(&mut self, t: &Table, jail_names: &[JailName]) -> Jails {
        let Some(value) = t.get("jails") else {
            return Jails::All;
        };
        let parsed = self.parse_value(t, "jails", value, |v| {
            let names = values::items(v)?;
            if names.iter().any(|n| n == "*") {
                return Ok(Jails::All);
            }
            if names.is_empty() {
                return Err("expected jail names, or [\"*\"] for every jail".into());
            }
            for name in &names {
                if !jail_names.iter().any(|j| j.as_str() == name) {
                    return Err(unknown_jail(name, jail_names));
                }
            }
            Ok(Jails::Only(names.into_iter().map(JailName::from).collect()))
        });
        parsed.unwrap_or(Jails::All)
    }
}

fn default_sendmail() -> Vec<String> {
    SENDMAIL.iter().map(|w| w.to_string()).collect()
}

fn unknown_jail(name: &str, jail_names: &[JailName]) -> String {
    let close = jail_names
        .iter()
        .min_by_key(|j| strsim::levenshtein(j, name))
        .filter(|j| strsim::levenshtein(j, name) <= 2);
    let mut message = format!("there is no jail {name:?} in this configuration");
    if let Some(j) = close {
        message.push_str(&format!("; did you mean {j:?}?"));
    }
    if jail_names.is_empty() {
        message.push_str("; define it under [jails.NAME]");
    } else {
        let names: Vec<&str> = jail_names.iter().map(JailName::as_str).collect();
        message.push_str(&format!("; the jails are {}", names.join(", ")));
    }
    message.push_str(" (write [\"*\"] for every jail)");
    message
}

/// `curl` for the first unnamed curl command, `curl-2` for the second.
fn unique_name(program: &str, taken: impl Fn(&str) -> bool) -> String {
    let base: String = program
        .rsplit('/')
        .next()
        .unwrap_or("exec")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_-".contains(*c))
        .collect();
    let base = if base.is_empty() { "exec".to_string() } else { base };
    if !taken(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|n| !taken(n))
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Result<Argv, String> {
        let words: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        Argv::parse(&words, Placeholder::EXEC)
    }

    fn values(p: Placeholder) -> String {
        match p {
            Placeholder::Ip => "192.0.2.7".into(),
            Placeholder::Jail => "sshd".into(),
            Placeholder::Matches => "line one\nline two".into(),
            other => format!("<{}>", other.name()),
        }
    }

    #[test]
    fn placeholders_are_replaced_inside_words() {
        let a = argv(&["/usr/bin/report", "--ip={ip}", "{jail}:{ip}", "{matches}"]).unwrap();
        assert_eq!(
            a.render(values),
            [
                "/usr/bin/report",
                "--ip=192.0.2.7",
                "sshd:192.0.2.7",
                "line one\nline two"
            ]
        );
    }

    #[test]
    fn json_braces_stay_as_written() {
        let a = argv(&["curl", "-d", "{\"ip\":\"{ip}\",\"tags\":{}}", "{{ip}}"]).unwrap();
        assert_eq!(
            a.render(values)[2..],
            ["{\"ip\":\"192.0.2.7\",\"tags\":{}}", "{ip}"]
        );
    }

    #[test]
    fn unknown_placeholders_are_errors_that_list_the_known_ones() {
        let e = argv(&["report", "{adress}"]).unwrap_err();
        assert!(e.contains("{adress} is not a placeholder"), "{e}");
        assert!(e.contains("{ip}, {jail}"), "{e}");
        let e = argv(&["report", "{sender}"]).unwrap_err();
        assert!(e.contains("cannot be used in this command"), "{e}");
    }

    #[test]
    fn the_program_is_never_a_placeholder() {
        assert!(argv(&["{ip}"]).unwrap_err().contains("program"));
        assert!(argv(&[]).is_err());
        assert!(argv(&[" "]).is_err());
    }

    #[test]
    fn display_shows_the_template() {
        let a = argv(&["report", "{ip}"]).unwrap();
        assert_eq!(a.to_string(), "[\"report\", \"{ip}\"]");
        assert_eq!(a.program(), "report");
    }

    #[test]
    fn mail_addresses_cannot_smuggle_headers() {
        let s = |t: &str| Value::from(t.to_string());
        assert_eq!(
            mail_address(&s("postmaster@example.org")).unwrap(),
            "postmaster@example.org"
        );
        assert_eq!(mail_address(&s("root")).unwrap(), "root");
        for bad in [
            "a@b\nBcc: x@y",
            "a b@c",
            "<a@b>",
            "a@b,c@d",
            "-oQ/tmp",
            "@b",
            "a@",
            "a@b@c",
        ] {
            assert!(mail_address(&s(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn start_and_stop_events_are_refused_with_the_reason() {
        let e = events(&Value::from(vec!["ban".to_string(), "start".to_string()])).unwrap_err();
        assert!(e.contains("no start mails"), "{e}");
        assert_eq!(
            events(&Value::from("ban, unban")).unwrap(),
            [NotifyEvent::Ban, NotifyEvent::Unban]
        );
    }

    #[test]
    fn unnamed_commands_are_named_after_the_program() {
        let taken = ["curl".to_string()];
        assert_eq!(
            unique_name("/usr/bin/curl", |n| taken.iter().any(|t| t == n)),
            "curl-2"
        );
        assert_eq!(unique_name("logger", |_| false), "logger");
    }
}
