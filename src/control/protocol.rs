//! The wire format: one JSON object per line each way, every one carrying `"version": 1`.
//! Parsing is pure (bytes in, a [`Request`] or a [`ControlError`] out), so it is fuzzed
//! (fuzz/fuzz_targets/request.rs) and property-tested alone.
//!
//! ```text
//! → {"version":1,"command":"status"}
//! → {"version":1,"command":"ban","jail":"sshd","addr":"192.0.2.1","time":"1h"}
//! ← {"version":1,"ok":true,"data":{…}}
//! ← {"version":1,"ok":false,"error":{"kind":"not_found","message":"no jail `ssh`; …"}}
//! ```

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::addr::Target;
use crate::config::{BanTime, Compact, check_ban_length, parse_duration};

/// The protocol version this banjo speaks.
pub const VERSION: u32 = 1;

/// The longest request line, without its newline.
pub const MAX_REQUEST: usize = 64 * 1024;

/// One request: the version it was written for and what it asks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Request {
    pub version: u32,
    #[serde(flatten)]
    pub command: Command,
}

impl Request {
    pub fn new(command: Command) -> Request {
        Request {
            version: VERSION,
            command,
        }
    }

    /// The request as it goes on the wire: one line, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).unwrap_or_default();
        line.push(b'\n');
        line
    }
}

/// What a client asks, by `"command"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    /// The daemon: version, uptime, its jails with their sources and bans.
    Status {},
    /// One jail's counters and bans.
    JailStatus { jail: String },
    /// One row of counters per jail.
    Stats {},
    /// Active bans, in every jail or in one.
    Banned {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        jail: Option<String>,
    },
    /// Ban an address or network in a jail, for `time` ("1h", "permanent"; the jail's
    /// bantime when absent).
    Ban {
        jail: String,
        addr: Target,
        #[serde(default, with = "opt_bantime", skip_serializing_if = "Option::is_none")]
        time: Option<BanTime>,
    },
    /// Lift a ban in one jail, or in every jail it is banned in.
    Unban {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        jail: Option<String>,
        addr: Target,
    },
    /// Lift every ban.
    UnbanAll {},
    /// Read the config again (all jails, or one), as SIGHUP does.
    Reload {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        jail: Option<String>,
    },
    /// Why an address is or is not banned, jail by jail.
    Explain { addr: Target },
    /// The daemon's counters in the Prometheus text format (a JSON string).
    Metrics {},
}

impl Command {
    /// Every command's wire name.
    pub const NAMES: &'static [&'static str] = &[
        "status",
        "jail_status",
        "stats",
        "banned",
        "ban",
        "unban",
        "unban_all",
        "reload",
        "explain",
        "metrics",
    ];

    /// Its wire name.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Status {} => "status",
            Command::JailStatus { .. } => "jail_status",
            Command::Stats {} => "stats",
            Command::Banned { .. } => "banned",
            Command::Ban { .. } => "ban",
            Command::Unban { .. } => "unban",
            Command::UnbanAll {} => "unban_all",
            Command::Reload { .. } => "reload",
            Command::Explain { .. } => "explain",
            Command::Metrics {} => "metrics",
        }
    }

    /// Whether it changes state (and so needs an admin).
    pub fn changes_state(&self) -> bool {
        matches!(
            self,
            Command::Ban { .. } | Command::Unban { .. } | Command::UnbanAll {} | Command::Reload { .. }
        )
    }
}

/// What went wrong, as a client branches on it (the CLI maps it to an exit code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Not a request this banjo understands: malformed, oversized, too slow, wrong version.
    BadRequest,
    /// No such jail, or the address is not banned.
    NotFound,
    /// The caller may not do this (SO_PEERCRED checked against the configured groups).
    Denied,
    /// The daemon would not do it: e.g. the reloaded config is invalid.
    Refused,
    /// Too many clients at once, or the daemon did not answer in time.
    Busy,
    /// A fault inside banjo.
    Internal,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Denied => "denied",
            ErrorKind::Refused => "refused",
            ErrorKind::Busy => "busy",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answer: its kind and a message for the admin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ControlError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ControlError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ControlError {
        ControlError {
            kind,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ControlError {
        ControlError::new(ErrorKind::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> ControlError {
        ControlError::new(ErrorKind::NotFound, message)
    }

    pub fn denied(message: impl Into<String>) -> ControlError {
        ControlError::new(ErrorKind::Denied, message)
    }

    pub fn refused(message: impl Into<String>) -> ControlError {
        ControlError::new(ErrorKind::Refused, message)
    }

    pub fn busy(message: impl Into<String>) -> ControlError {
        ControlError::new(ErrorKind::Busy, message)
    }

    pub fn internal(message: impl Into<String>) -> ControlError {
        ControlError::new(ErrorKind::Internal, message)
    }

    /// "no jail `NAME`" with the jails there are: the usual `not_found` for a jail argument.
    pub fn no_jail<'a>(name: &str, jails: impl IntoIterator<Item = &'a str>) -> ControlError {
        let known: Vec<&str> = jails.into_iter().collect();
        let known = if known.is_empty() {
            "no jail is enabled".to_string()
        } else {
            format!("the jails are {}", known.join(", "))
        };
        ControlError::not_found(format!("no jail `{name}`: {known}"))
    }
}

/// One response: data, or an error.
#[derive(Debug, Clone, PartialEq)]
pub struct Response(pub Result<Value, ControlError>);

impl Response {
    pub fn ok(data: Value) -> Response {
        Response(Ok(data))
    }

    pub fn err(error: ControlError) -> Response {
        Response(Err(error))
    }

    /// A result whose success is serialized as the data.
    pub fn from_result<T: Serialize>(result: Result<T, ControlError>) -> Response {
        Response(result.and_then(|data| {
            serde_json::to_value(data)
                .map_err(|e| ControlError::internal(format!("cannot serialize the answer: {e}")))
        }))
    }

    /// The response as it goes on the wire: one line, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let wire = match &self.0 {
            Ok(data) => Wire {
                version: VERSION,
                ok: true,
                data: Some(data.clone()),
                error: None,
            },
            Err(e) => Wire {
                version: VERSION,
                ok: false,
                data: None,
                error: Some(e.clone()),
            },
        };
        let mut line = serde_json::to_vec(&wire).unwrap_or_default();
        line.push(b'\n');
        line
    }

    /// Reads a response line (the client's side).
    pub fn parse(line: &[u8]) -> Result<Response, String> {
        let wire: Wire = serde_json::from_slice(trim_line(line)).map_err(|e| e.to_string())?;
        if wire.version != VERSION {
            return Err(format!(
                "it speaks protocol version {}, this banjo speaks {VERSION}",
                wire.version
            ));
        }
        match (wire.ok, wire.error) {
            (true, _) => Ok(Response::ok(wire.data.unwrap_or(Value::Null))),
            (false, Some(e)) => Ok(Response::err(e)),
            (false, None) => Err("an error answer without an \"error\"".to_string()),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Wire {
    version: u32,
    ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<ControlError>,
}

/// The line without its newline (`\n` or `\r\n`).
fn trim_line(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Parses one request line (its newline optional). Every problem is a `bad_request` that says
/// what is wrong and what a good request looks like.
pub fn parse_request(line: &[u8]) -> Result<Request, ControlError> {
    let bad = |message: String| ControlError::bad_request(message);
    let line = trim_line(line);
    if line.len() > MAX_REQUEST {
        return Err(bad(format!(
            "the request is longer than {} KiB",
            MAX_REQUEST / 1024
        )));
    }
    let value = match serde_json::from_slice::<Unique>(line) {
        Ok(Unique(value)) => value,
        Err(e) if e.is_data() => return Err(bad(e.to_string())),
        Err(e) => return Err(bad(format!("not JSON: {e}"))),
    };
    let Value::Object(mut map) = value else {
        return Err(bad(
            r#"a request is a JSON object such as {"version":1,"command":"status"}"#.to_string(),
        ));
    };
    check_version(map.remove("version"))?;
    let name = command_name(&map)?;
    Command::deserialize(Value::Object(map))
        .map(Request::new)
        .map_err(|e| bad(format!("{name}: {e}")))
}

/// A JSON value whose objects were checked for keys given twice: serde_json's own `Value`
/// keeps the last one silently, so `"addr"` twice would act on an address the admin (or a log
/// of the request) may not have seen.
struct Unique(Value);

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Unique, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> de::Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Unique, E> {
        Ok(Unique(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Unique, E> {
        Ok(Unique(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Unique, E> {
        Ok(Unique(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Unique, E> {
        Ok(Unique(Value::from(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Unique, E> {
        Ok(Unique(Value::String(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<Unique, E> {
        Ok(Unique(Value::String(v)))
    }

    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique(Value::Null))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(Unique(Value::Array(items)))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "{key:?} is given twice: give each key once"
                )));
            }
            let Unique(value) = map.next_value()?;
            out.insert(key, value);
        }
        Ok(Unique(Value::Object(out)))
    }
}

fn check_version(version: Option<Value>) -> Result<(), ControlError> {
    match version {
        Some(v) if v.as_u64() == Some(u64::from(VERSION)) => Ok(()),
        Some(v) => Err(ControlError::bad_request(format!(
            "protocol version {v} is not supported: this banjo speaks version {VERSION}"
        ))),
        None => Err(ControlError::bad_request(format!(
            "the request has no \"version\" (this banjo speaks version {VERSION})"
        ))),
    }
}

fn command_name(map: &Map<String, Value>) -> Result<String, ControlError> {
    let name = match map.get("command") {
        Some(Value::String(name)) => name,
        Some(_) => return Err(ControlError::bad_request("\"command\" must be a string")),
        None => return Err(ControlError::bad_request("the request has no \"command\"")),
    };
    if !Command::NAMES.contains(&name.as_str()) {
        return Err(ControlError::bad_request(format!(
            "unknown command {name:?}: the commands are {}",
            Command::NAMES.join(", ")
        )));
    }
    Ok(name.clone())
}

/// Parses a ban length as the CLI and the protocol take it: a duration ("90s", "1h", "1d12h")
/// or "permanent" (also "-1", as fail2ban writes it). Zero is refused, and so is a time longer
/// than the kernel can hold a ban for ([`crate::time::LONGEST_BAN`]).
pub fn parse_ban_time(text: &str) -> Result<BanTime, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("permanent") || text == "-1" {
        return Ok(BanTime::Permanent);
    }
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err("a ban of no time is no ban: give a duration such as \"1h\"".to_string());
    }
    check_ban_length(d).map(BanTime::For)
}

/// `#[serde(with = "opt_bantime")]`: `"1h"`, `"permanent"`, or absent.
mod opt_bantime {
    use super::*;

    pub(super) fn serialize<S: Serializer>(t: &Option<BanTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(BanTime::Permanent) => s.serialize_str("permanent"),
            Some(BanTime::For(d)) => s.collect_str(&Compact(*d)),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<BanTime>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(text) => parse_ban_time(&text)
                .map(Some)
                .map_err(|e| de::Error::custom(format_args!("time {text:?}: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests;
