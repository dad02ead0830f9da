//! What banjo said of one probe, held against fail2ban's annotation: right, or why not.
//!
//! As samplestestcase.py checks: a line annotated `"match": true` must give a failure with the
//! annotated host and every other annotated field; any other line must give none. The time,
//! when annotated, is a local time in fail2ban's test zone and must be the failure's time to
//! the annotation's precision (fail2ban's own dates carry no fraction unless the annotation
//! has one). Not checked: fail2ban's "only one failregex may match" lint, a property of the
//! filter file, not of the engine that runs it.
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde_json::Value;

use crate::samples::{Probe, plain};

/// fail2ban's test zone (tests/utils.py sets exactly this TZ): Europe/Zurich's rules.
pub const TEST_TZ: &str = "CET-01CEST-02,M3.5.0,M10.5.0";
/// fail2ban's TEST_NOW, Sun Aug 14 12:00:00 CEST 2005.
pub const TEST_NOW: &str = "2005-08-14T12:00:00+02:00";

/// A failure banjo reported for one line of its input.
#[derive(Debug, Default)]
pub struct Reported {
    pub host: String,
    pub time: Option<String>,
    /// Everything else the match carries: its `fields`, and any other key of the match object.
    pub fields: serde_json::Map<String, Value>,
}

impl Reported {
    pub fn from_json(m: &Value) -> Reported {
        let mut fields = m["fields"].as_object().cloned().unwrap_or_default();
        if let Some(obj) = m.as_object() {
            for (k, v) in obj {
                if !matches!(k.as_str(), "line" | "host" | "time" | "regex" | "fields" | "text") {
                    fields.insert(k.clone(), v.clone());
                }
            }
        }
        Reported {
            host: m["host"].as_str().unwrap_or_default().to_string(),
            time: m["time"].as_str().map(str::to_string),
            fields,
        }
    }
}

/// Why a probe is wrong; the kind groups the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wrong {
    FilterDoesNotLoad(String),
    Missed { hint: String },
    Unexpected { host: String },
    Host { got: String, want: String },
    Field { key: String, got: String, want: String },
    NoTime { want: String },
    Time { got: String, want: String },
}

impl Wrong {
    pub fn kind(&self) -> &'static str {
        match self {
            Wrong::FilterDoesNotLoad(_) => "filter does not load",
            Wrong::Missed { .. } => "failure missed",
            Wrong::Unexpected { .. } => "failure where none is expected",
            Wrong::Host { .. } => "wrong host",
            Wrong::Field { .. } => "wrong field",
            Wrong::NoTime { .. } => "no time found",
            Wrong::Time { .. } => "wrong time",
        }
    }
}

impl std::fmt::Display for Wrong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wrong::FilterDoesNotLoad(e) => write!(f, "filter does not load: {e}"),
            Wrong::Missed { hint } => write!(f, "missed ({hint})"),
            Wrong::Unexpected { host } => write!(f, "failure for {host}, none expected"),
            Wrong::Host { got, want } => write!(f, "host {got}, want {want}"),
            Wrong::Field { key, got, want } => write!(f, "{key} = {got}, want {want}"),
            Wrong::NoTime { want } => write!(f, "no time, want {want}"),
            Wrong::Time { got, want } => write!(f, "time {got}, want {want}"),
        }
    }
}

/// Right (None) or the first thing wrong. `missed_hint` is banjo's explanation for a miss.
pub fn judge(
    probe: &Probe,
    got: Option<&Reported>,
    missed_hint: Option<&str>,
    tz: &TimeZone,
) -> Option<Wrong> {
    let want = probe.expects_failure();
    let Some(got) = got else {
        return want.then(|| Wrong::Missed {
            hint: missed_hint.unwrap_or("no hint").to_string(),
        });
    };
    if !want {
        return Some(Wrong::Unexpected {
            host: got.host.clone(),
        });
    }
    for (key, value) in &probe.expect.0 {
        if let Some(w) = field(key, value, got) {
            return Some(w);
        }
    }
    // `"time": null` checks nothing, as in samplestestcase.py.
    let t = probe.expect.get("time").filter(|v| !v.is_null()).map(plain)?;
    let Some(have) = &got.time else {
        return Some(Wrong::NoTime { want: t });
    };
    match same_time(have, &t, tz) {
        Ok(true) => None,
        Ok(false) => Some(Wrong::Time {
            got: local(have, tz),
            want: t,
        }),
        Err(e) => Some(Wrong::Time { got: e, want: t }),
    }
}

/// One annotated key other than time/match/desc/constraint.
fn field(key: &str, value: &Value, got: &Reported) -> Option<Wrong> {
    if matches!(key, "time" | "match" | "desc" | "constraint") {
        return None;
    }
    let have: Option<Value> = match key {
        "host" => Some(Value::String(got.host.clone())),
        _ => got.fields.get(key).cloned().or_else(|| derived(key, got)),
    };
    let right = match (&have, value) {
        // fail2ban compares with None: a null annotation means "not there".
        (None | Some(Value::Null), Value::Null) => true,
        // one address however it is spelled ("2001:DB8::1" is banjo's "2001:db8::1")
        (Some(Value::String(h)), Value::String(w)) if key == "host" && same_address(h, w) => true,
        (Some(Value::Array(h)), Value::Array(w)) => sorted(h) == sorted(w),
        (Some(h), w) => plain(h) == plain(w),
        (None, _) => false,
    };
    if right {
        return None;
    }
    let got_text = have.as_ref().map_or_else(|| "nothing".to_string(), plain);
    Some(if key == "host" {
        Wrong::Host {
            got: got_text,
            want: plain(value),
        }
    } else {
        Wrong::Field {
            key: key.to_string(),
            got: got_text,
            want: plain(value),
        }
    })
}

fn same_address(a: &str, b: &str) -> bool {
    match (a.parse::<std::net::IpAddr>(), b.parse::<std::net::IpAddr>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// fail2ban's fallbacks: `attempts` is the number of lines of the failure (one, unless the
/// match says otherwise); `ip4`/`ip6`/`dns` are the `<HOST>` alternative that took the host.
fn derived(key: &str, got: &Reported) -> Option<Value> {
    let host = got.host.as_str();
    let kind = match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => "ip4",
        Ok(std::net::IpAddr::V6(_)) => "ip6",
        Err(_) => "dns",
    };
    match key {
        "attempts" => Some(Value::from(1)),
        "ip4" | "ip6" | "dns" if key == kind => Some(Value::String(host.to_string())),
        _ => None,
    }
}

fn sorted(v: &[Value]) -> Vec<String> {
    let mut s: Vec<String> = v.iter().map(plain).collect();
    s.sort();
    s
}

/// banjo's RFC 3339 instant against the annotation's local civil time, at its precision.
fn same_time(have: &str, want: &str, tz: &TimeZone) -> Result<bool, String> {
    let have: Timestamp = have.parse().map_err(|e| format!("{have:?} unreadable: {e}"))?;
    let civil: DateTime = padded(want)
        .parse()
        .map_err(|e| format!("annotation {want:?}: {e}"))?;
    let want_ts = tz
        .to_ambiguous_timestamp(civil)
        .compatible()
        .map_err(|e| format!("annotation {want:?}: {e}"))?;
    let have = if want.contains('.') {
        have
    } else {
        Timestamp::from_second(have.as_second()).map_err(|e| e.to_string())?
    };
    Ok(have == want_ts)
}

/// The annotation with one-digit month and day padded: samplestestcase.py reads it with
/// Python's strptime, which takes "2005-03-7T02:09:33" (postfix's sample has one).
fn padded(want: &str) -> String {
    let Some((date, rest)) = want.split_once('T') else {
        return want.to_string();
    };
    let parts: Vec<String> = date
        .split('-')
        .enumerate()
        .map(|(i, p)| {
            if i > 0 && p.len() == 1 {
                format!("0{p}")
            } else {
                p.to_string()
            }
        })
        .collect();
    format!("{}T{rest}", parts.join("-"))
}

/// An instant as a local civil time in the test zone, as annotations are written.
fn local(ts: &str, tz: &TimeZone) -> String {
    match ts.parse::<Timestamp>() {
        Ok(t) => tz.to_datetime(t).to_string(),
        Err(_) => ts.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::Options;

    fn probe(expect: &str) -> Probe {
        Probe {
            file: "f".into(),
            line: 1,
            text: Vec::new(),
            expect: serde_json::from_str::<Options>(expect).unwrap(),
        }
    }

    fn tz() -> TimeZone {
        TimeZone::posix(TEST_TZ).unwrap()
    }

    fn reported(host: &str, time: &str) -> Reported {
        Reported {
            host: host.into(),
            time: Some(time.into()),
            ..Default::default()
        }
    }

    #[test]
    fn time_is_compared_in_the_test_zone_at_the_annotations_precision() {
        let p = probe(r#"{"match": true, "host": "192.0.2.1", "time": "2005-08-14T12:00:00"}"#);
        assert_eq!(
            judge(
                &p,
                Some(&reported("192.0.2.1", "2005-08-14T10:00:00.5Z")),
                None,
                &tz()
            ),
            None
        );
        let w = judge(
            &p,
            Some(&reported("192.0.2.1", "2005-08-14T11:00:00Z")),
            None,
            &tz(),
        );
        assert_eq!(
            w,
            Some(Wrong::Time {
                got: "2005-08-14T13:00:00".into(),
                want: "2005-08-14T12:00:00".into()
            })
        );
        // Python's strptime takes a one-digit day
        let p = probe(r#"{"match": true, "host": "192.0.2.1", "time": "2005-03-7T02:09:33"}"#);
        assert_eq!(
            judge(
                &p,
                Some(&reported("192.0.2.1", "2005-03-07T01:09:33Z")),
                None,
                &tz()
            ),
            None
        );
        let p = probe(r#"{"match": true, "host": "192.0.2.1", "time": "2005-01-14T12:00:00.250000"}"#);
        assert_eq!(
            judge(
                &p,
                Some(&reported("192.0.2.1", "2005-01-14T11:00:00.25Z")),
                None,
                &tz()
            ),
            None
        );
        assert!(
            judge(
                &p,
                Some(&reported("192.0.2.1", "2005-01-14T11:00:00Z")),
                None,
                &tz()
            )
            .is_some()
        );
    }

    #[test]
    fn hosts_fields_and_unexpected_failures() {
        let p = probe(
            r#"{"match": true, "host": "192.0.2.1", "user": "root", "attempts": 1, "ip4": "192.0.2.1"}"#,
        );
        let mut r = reported("192.0.2.1", "2005-08-14T10:00:00Z");
        assert_eq!(
            judge(&p, Some(&r), None, &tz()),
            Some(Wrong::Field {
                key: "user".into(),
                got: "nothing".into(),
                want: "root".into()
            })
        );
        r.fields.insert("user".into(), Value::String("root".into()));
        assert_eq!(judge(&p, Some(&r), None, &tz()), None);
        let v6 = probe(r#"{"match": true, "host": "2001:DB8::1"}"#);
        let r6 = reported("2001:db8::1", "2005-08-14T10:00:00Z");
        assert_eq!(
            judge(&v6, Some(&r6), None, &tz()),
            None,
            "one address, two spellings"
        );
        r.host = "192.0.2.2".into();
        assert!(matches!(
            judge(&p, Some(&r), None, &tz()),
            Some(Wrong::Host { .. })
        ));
        assert!(matches!(
            judge(&p, None, Some("why"), &tz()),
            Some(Wrong::Missed { .. })
        ));
        let none = probe(r#"{"match": false}"#);
        assert!(matches!(
            judge(&none, Some(&r), None, &tz()),
            Some(Wrong::Unexpected { .. })
        ));
        assert_eq!(judge(&none, None, None, &tz()), None);
        assert_eq!(judge(&probe("{}"), None, None, &tz()), None);
        let nulls = probe(r#"{"match": true, "host": "192.0.2.2", "time": null, "dns": null}"#);
        assert_eq!(
            judge(
                &nulls,
                Some(&reported("192.0.2.2", "2005-08-14T10:00:00Z")),
                None,
                &tz()
            ),
            None
        );
    }
}
