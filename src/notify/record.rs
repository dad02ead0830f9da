//! banjo's ban and unban audit records (see `daemon::audit`) as banjo-notify reads them back
//! from the journal: the fields of one record → an [`Event`]. Pure: no journal calls here.
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::addr::Target;
use crate::config::NotifyEvent;
use crate::daemon::audit;
use crate::name::JailName;

/// Ban or unban, as kept in the state file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Ban,
    Unban,
}

impl Kind {
    pub fn event(self) -> NotifyEvent {
        match self {
            Kind::Ban => NotifyEvent::Ban,
            Kind::Unban => NotifyEvent::Unban,
        }
    }

    pub fn as_str(self) -> &'static str {
        self.event().as_str()
    }
}

/// One ban or unban, with what the record says about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub kind: Kind,
    /// The record's identity in the journal (its sequence number id and number): the same
    /// record gives the same id after a restart, so a mail sent twice has one Message-ID.
    pub id: String,
    /// When banjo logged it.
    #[serde(with = "crate::time::ts")]
    pub time: Timestamp,
    /// The host that banned (the record's trusted _HOSTNAME).
    pub host: String,
    pub jail: JailName,
    pub target: Target,
    /// "1h", "1d12h", "permanent" (bans).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bantime: Option<String>,
    /// RFC 3339 or "never" (bans).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<u32>,
    /// Earlier bans of this address that escalation counted (bans).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bans_before: Option<u32>,
    /// The log lines that led to the ban.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
    /// Why the ban ended (unbans).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Why a record was not taken: banjo-notify logs it and goes on to the next one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("MESSAGE_ID {0:?} is neither a ban nor an unban record")]
    NotAnEvent(String),
    #[error("field {0} is missing")]
    Missing(&'static str),
    #[error("field {field} = {value:?}: {problem}")]
    Bad {
        field: &'static str,
        value: String,
        problem: String,
    },
}

/// The fields of one record, by name; values as the journal stores them.
pub trait Fields {
    fn get(&self, name: &str) -> Option<&str>;
}

impl Fields for std::collections::HashMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        std::collections::HashMap::get(self, name).map(String::as_str)
    }
}

impl Event {
    /// The event a record describes. `id` is its journal identity, `time` its realtime stamp.
    pub fn from_record(fields: &impl Fields, id: String, time: Timestamp) -> Result<Event, RecordError> {
        let message_id = fields
            .get("MESSAGE_ID")
            .ok_or(RecordError::Missing("MESSAGE_ID"))?;
        let kind = match message_id {
            audit::BAN_ID => Kind::Ban,
            audit::UNBAN_ID => Kind::Unban,
            other => return Err(RecordError::NotAnEvent(other.to_string())),
        };
        let required = |name: &'static str| fields.get(name).ok_or(RecordError::Missing(name));
        let jail = required("JAIL")?;
        if crate::config::notify::is_jail_name(jail).is_err() {
            return Err(bad("JAIL", jail, "not a jail name"));
        }
        let ip = required("IP")?;
        let target: Target = ip.parse().map_err(|e| bad("IP", ip, &format!("{e}")))?;
        let number = |name: &'static str| -> Result<Option<u32>, RecordError> {
            fields
                .get(name)
                .map(|v| v.trim().parse().map_err(|_| bad(name, v, "not a whole number")))
                .transpose()
        };
        let text = |name: &str| fields.get(name).map(one_line);
        Ok(Event {
            kind,
            id,
            time,
            host: fields
                .get("_HOSTNAME")
                .map_or_else(|| "localhost".into(), one_line),
            jail: JailName::new(jail),
            target,
            bantime: text("BANTIME"),
            until: text("UNTIL"),
            failures: number("FAILURES")?,
            bans_before: number("BANS_BEFORE")?,
            lines: fields
                .get("MATCHES")
                .map(|m| m.lines().filter(|l| !l.is_empty()).map(str::to_string).collect())
                .unwrap_or_default(),
            reason: text("REASON"),
        })
    }

    /// The address whois and the commands are about (a network's first address).
    pub fn address(&self) -> std::net::IpAddr {
        self.target.ip()
    }
}

fn bad(field: &'static str, value: &str, problem: &str) -> RecordError {
    RecordError::Bad {
        field,
        value: value.chars().take(100).collect(),
        problem: problem.to_string(),
    }
}

/// A field that is one line by nature (a time, a host name): anything after a newline is
/// dropped, so it cannot start another line of a mail header.
fn one_line(value: &str) -> String {
    value.lines().next().unwrap_or("").trim().to_string()
}

/// The record's stable identity from its cursor: `s=` (the sequence number id) and `i=` (the
/// sequence number); the whole cursor when it does not have them.
pub fn id_from_cursor(cursor: &str) -> String {
    let part = |key: &str| {
        cursor
            .split(';')
            .find_map(|kv| kv.strip_prefix(key))
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    match (part("s="), part("i=")) {
        (Some(s), Some(i)) => format!("{i}.{s}"),
        _ => cursor
            .bytes()
            .map(|b| if b.is_ascii_alphanumeric() { b as char } else { '.' })
            .collect(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A ban record as `daemon::audit::ban` writes it.
    pub(crate) fn ban_fields(jail: &str, ip: &str) -> HashMap<String, String> {
        [
            ("MESSAGE_ID", audit::BAN_ID),
            ("JAIL", jail),
            ("IP", ip),
            ("BANTIME", "1d"),
            ("UNTIL", "2026-11-25T10:00:00Z"),
            ("FAILURES", "5"),
            ("BANS_BEFORE", "0"),
            (
                "MATCHES",
                "vchkpw-submission: password fail (pass: 'x') a@b.xy:192.0.2.7\nsecond line",
            ),
            ("_HOSTNAME", "mail.example.org"),
            ("MESSAGE", "Ban 192.0.2.7 jail=vpopmail bantime=1d failures=5"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    pub(crate) fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn a_ban_record_gives_every_field() {
        let e = Event::from_record(
            &ban_fields("vpopmail", "192.0.2.7"),
            "1.ab".into(),
            t("2026-11-24T10:00:00Z"),
        )
        .unwrap();
        assert_eq!(e.kind, Kind::Ban);
        assert_eq!(e.jail, "vpopmail");
        assert_eq!(e.target.to_string(), "192.0.2.7");
        assert_eq!(e.bantime.as_deref(), Some("1d"));
        assert_eq!(e.failures, Some(5));
        assert_eq!(e.lines.len(), 2);
        assert_eq!(e.host, "mail.example.org");
    }

    #[test]
    fn an_unban_record_has_a_reason_and_no_ban_fields() {
        let fields: HashMap<String, String> = [
            ("MESSAGE_ID", audit::UNBAN_ID),
            ("JAIL", "sshd"),
            ("IP", "2001:db8::7"),
            ("REASON", "bantime over"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let e = Event::from_record(&fields, "2.ab".into(), t("2026-11-24T10:00:00Z")).unwrap();
        assert_eq!(e.kind, Kind::Unban);
        assert_eq!(e.reason.as_deref(), Some("bantime over"));
        assert_eq!((e.failures, e.bantime.as_deref()), (None, None));
    }

    #[test]
    fn bad_records_say_which_field() {
        let now = t("2026-11-24T10:00:00Z");
        let mut f = ban_fields("vpopmail", "not-an-address");
        let e = Event::from_record(&f, "x".into(), now).unwrap_err();
        assert!(matches!(e, RecordError::Bad { field: "IP", .. }), "{e}");
        f.insert("IP".into(), "192.0.2.7".into());
        f.insert("JAIL".into(), "a\nSubject: x".into());
        assert!(Event::from_record(&f, "x".into(), now).is_err());
        f.remove("JAIL");
        assert_eq!(
            Event::from_record(&f, "x".into(), now),
            Err(RecordError::Missing("JAIL"))
        );
        f.insert("MESSAGE_ID".into(), audit::RESTORE_ID.into());
        assert!(matches!(
            Event::from_record(&f, "x".into(), now),
            Err(RecordError::NotAnEvent(_))
        ));
    }

    #[test]
    fn header_like_fields_keep_one_line() {
        let mut f = ban_fields("vpopmail", "192.0.2.7");
        f.insert("_HOSTNAME".into(), "host\nBcc: evil@example.net".into());
        let e = Event::from_record(&f, "x".into(), t("2026-11-24T10:00:00Z")).unwrap();
        assert_eq!(e.host, "host");
    }

    #[test]
    fn ids_come_from_the_cursor_sequence_numbers() {
        let cursor = "s=6f2b1e3c4d5a69788796a5b4c3d2e1f0;i=1a2b;b=0123456789abcdef0123456789abcdef;m=5f5e100;t=5f0a1b2c3d4e5;x=42";
        assert_eq!(id_from_cursor(cursor), "1a2b.6f2b1e3c4d5a69788796a5b4c3d2e1f0");
        assert_eq!(id_from_cursor("odd<cursor>"), "odd.cursor.");
    }
}
