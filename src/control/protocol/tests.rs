use proptest::prelude::*;
use serde_json::json;

use super::*;

fn parse(text: &str) -> Result<Command, ControlError> {
    parse_request(text.as_bytes()).map(|r| r.command)
}

fn bad(text: &str) -> String {
    let e = parse(text).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadRequest, "{e:?}");
    e.message
}

#[test]
fn status_and_ban_parse_with_or_without_newline() {
    assert_eq!(
        parse(r#"{"version":1,"command":"status"}"#).unwrap(),
        Command::Status {}
    );
    assert_eq!(
        parse("{\"version\":1,\"command\":\"stats\"}\r\n").unwrap(),
        Command::Stats {}
    );
    let ban = parse(r#"{"version":1,"command":"ban","jail":"sshd","addr":"192.0.2.1","time":"1h"}"#).unwrap();
    assert_eq!(
        ban,
        Command::Ban {
            jail: "sshd".into(),
            addr: "192.0.2.1".parse().unwrap(),
            time: Some(BanTime::For(std::time::Duration::from_secs(3600))),
        }
    );
}

#[test]
fn optional_fields_may_be_left_out_or_null() {
    assert_eq!(
        parse(r#"{"version":1,"command":"banned"}"#).unwrap(),
        Command::Banned { jail: None }
    );
    assert_eq!(
        parse(r#"{"version":1,"command":"unban","jail":null,"addr":"2001:db8::/32"}"#).unwrap(),
        Command::Unban {
            jail: None,
            addr: "2001:db8::/32".parse().unwrap()
        }
    );
    assert_eq!(
        parse(r#"{"version":1,"command":"ban","jail":"x","addr":"::ffff:10.0.0.1","time":"permanent"}"#)
            .unwrap(),
        Command::Ban {
            jail: "x".into(),
            addr: "10.0.0.1".parse().unwrap(),
            time: Some(BanTime::Permanent)
        }
    );
}

#[test]
fn every_command_round_trips() {
    let addr: Target = "192.0.2.9".parse().unwrap();
    let commands = [
        Command::Status {},
        Command::JailStatus { jail: "sshd".into() },
        Command::Stats {},
        Command::Banned {
            jail: Some("sshd".into()),
        },
        Command::Banned { jail: None },
        Command::Ban {
            jail: "sshd".into(),
            addr,
            time: Some(BanTime::For(std::time::Duration::from_secs(5400))),
        },
        Command::Ban {
            jail: "sshd".into(),
            addr,
            time: None,
        },
        Command::Unban { jail: None, addr },
        Command::UnbanAll {},
        Command::Reload { jail: None },
        Command::Reload {
            jail: Some("sshd".into()),
        },
        Command::Explain { addr },
        Command::Metrics {},
    ];
    assert_eq!(commands.len() - 3, Command::NAMES.len());
    for command in commands {
        let line = Request::new(command.clone()).to_line();
        assert_eq!(line.last(), Some(&b'\n'));
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        let back = parse_request(&line).unwrap_or_else(|e| panic!("{}: {e}", String::from_utf8_lossy(&line)));
        assert_eq!(back.command, command);
        assert!(Command::NAMES.contains(&command.name()));
    }
}

#[test]
fn malformed_json_is_a_bad_request() {
    assert!(bad(r#"{"version":1,"command":"status""#).contains("not JSON"));
    assert!(bad("").contains("not JSON"));
    assert!(bad("\u{0}\u{1}").contains("not JSON"));
    assert!(bad(r#"[1,2]"#).contains("JSON object"));
    assert!(bad(r#""status""#).contains("JSON object"));
}

#[test]
fn wrong_or_missing_version_is_named() {
    assert!(bad(r#"{"version":2,"command":"status"}"#).contains("version 2 is not supported"));
    assert!(bad(r#"{"version":"1","command":"status"}"#).contains("not supported"));
    assert!(bad(r#"{"command":"status"}"#).contains("no \"version\""));
}

#[test]
fn unknown_command_lists_the_known_ones() {
    let m = bad(r#"{"version":1,"command":"flush"}"#);
    assert!(
        m.contains("unknown command \"flush\"") && m.contains("unban_all"),
        "{m}"
    );
    assert!(bad(r#"{"version":1}"#).contains("no \"command\""));
    assert!(bad(r#"{"version":1,"command":7}"#).contains("must be a string"));
}

#[test]
fn bad_fields_say_which_command_and_what() {
    let m = bad(r#"{"version":1,"command":"ban","jail":"sshd","addr":"host.example"}"#);
    assert!(m.starts_with("ban:") && m.contains("host.example"), "{m}");
    let m = bad(r#"{"version":1,"command":"ban","jail":"sshd"}"#);
    assert!(m.contains("addr"), "{m}");
    let m = bad(r#"{"version":1,"command":"ban","jail":"sshd","addr":"192.0.2.1","time":"1 hour"}"#);
    assert!(m.contains("did you mean \"1h\""), "{m}");
    let m = bad(r#"{"version":1,"command":"ban","jail":"sshd","addr":"192.0.2.1","time":"0"}"#);
    assert!(m.contains("no time"), "{m}");
    let m = bad(r#"{"version":1,"command":"status","jial":"sshd"}"#);
    assert!(m.contains("jial"), "{m}");
    let m = bad(r#"{"version":1,"command":"jail_status","jail":5}"#);
    assert!(m.starts_with("jail_status:"), "{m}");
}

#[test]
fn oversized_line_is_refused_before_parsing() {
    let mut line = br#"{"version":1,"command":"status","pad":""#.to_vec();
    line.resize(MAX_REQUEST + 1, b'x');
    let e = parse_request(&line).unwrap_err();
    assert!(e.message.contains("longer than 64 KiB"), "{e}");
}

#[test]
fn responses_have_the_documented_shape() {
    let ok = Response::ok(json!({"a": 1})).to_line();
    let v: Value = serde_json::from_slice(&ok).unwrap();
    assert_eq!(v, json!({"version": 1, "ok": true, "data": {"a": 1}}));
    let err = Response::err(ControlError::not_found("no jail `x`")).to_line();
    let v: Value = serde_json::from_slice(&err).unwrap();
    assert_eq!(
        v,
        json!({"version": 1, "ok": false, "error": {"kind": "not_found", "message": "no jail `x`"}})
    );
    assert_eq!(
        Response::parse(&err).unwrap(),
        Response::err(ControlError::not_found("no jail `x`"))
    );
    assert!(
        Response::parse(br#"{"version":9,"ok":true}"#)
            .unwrap_err()
            .contains("version 9")
    );
    assert!(Response::parse(br#"{"version":1,"ok":false}"#).is_err());
}

#[test]
fn ban_time_accepts_durations_and_permanent() {
    assert_eq!(parse_ban_time("permanent"), Ok(BanTime::Permanent));
    assert_eq!(parse_ban_time("-1"), Ok(BanTime::Permanent));
    assert_eq!(
        parse_ban_time("1d12h"),
        Ok(BanTime::For(std::time::Duration::from_secs(36 * 3600)))
    );
    assert!(parse_ban_time("0s").is_err());
    assert!(parse_ban_time("soon").is_err());
}

/// The kernel refuses an element timeout past ~584 years: such a ban is refused at the door,
/// not recorded and then missing from nftables.
#[test]
fn ban_time_longer_than_the_kernel_can_hold_is_refused() {
    let e = parse_ban_time("1000y").unwrap_err();
    assert!(
        e.contains("longest ban nftables can time") && e.contains("permanent"),
        "{e}"
    );
    assert_eq!(
        parse_ban_time("30500w3d23h34m33s"),
        Ok(BanTime::For(crate::time::LONGEST_BAN))
    );
    let m = bad(r#"{"version":1,"command":"ban","jail":"sshd","addr":"192.0.2.1","time":"1000y"}"#);
    assert!(
        m.starts_with("ban:") && m.contains("1000y") && m.contains("584 years"),
        "{m}"
    );
}

/// serde_json keeps the last of two equal keys: a request that says `addr` twice would ban an
/// address the log line or the admin's eye did not see first. Refused, at any depth.
#[test]
fn a_key_given_twice_is_refused() {
    let m = bad(r#"{"version":1,"command":"ban","jail":"sshd","addr":"192.0.2.1","addr":"192.0.2.2"}"#);
    assert!(m.contains("\"addr\" is given twice"), "{m}");
    let m = bad(r#"{"version":1,"command":"status","command":"unban_all"}"#);
    assert!(m.contains("\"command\" is given twice"), "{m}");
    let m = bad(r#"{"version":1,"version":1,"command":"status"}"#);
    assert!(m.contains("\"version\" is given twice"), "{m}");
    let m = bad(r#"{"version":1,"command":"status","x":[{"a":1,"a":2}]}"#);
    assert!(m.contains("\"a\" is given twice"), "{m}");
    // the same key in two different objects is fine (and then refused as an unknown field)
    let m = bad(r#"{"version":1,"command":"status","x":{"jail":1},"y":{"jail":2}}"#);
    assert!(!m.contains("twice"), "{m}");
}

/// A JSON value up to a few levels deep, with the protocol's own words mixed in so that
/// near-valid requests come up often.
fn json_value() -> impl Strategy<Value = Value> {
    let word = prop_oneof![
        Just("version".to_string()),
        Just("command".to_string()),
        Just("jail".to_string()),
        Just("addr".to_string()),
        Just("time".to_string()),
        proptest::sample::select(Command::NAMES).prop_map(str::to_string),
        Just("192.0.2.1".to_string()),
        Just("1h".to_string()),
        ".{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        Just(json!(1)),
        word.clone().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(word.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        (any::<u32>(), 0u8..=32).prop_map(|(a, p)| Target::net(std::net::Ipv4Addr::from(a).into(), p)),
        (any::<u128>(), 0u8..=128).prop_map(|(a, p)| Target::net(std::net::Ipv6Addr::from(a).into(), p)),
    ]
}

fn command() -> impl Strategy<Value = Command> {
    let jail = ".{0,40}";
    let time = prop_oneof![
        Just(None),
        Just(Some(BanTime::Permanent)),
        (1u64..u64::from(u32::MAX)).prop_map(|s| Some(BanTime::For(std::time::Duration::from_secs(s)))),
    ];
    prop_oneof![
        Just(Command::Status {}),
        Just(Command::Stats {}),
        Just(Command::UnbanAll {}),
        jail.prop_map(|jail| Command::JailStatus { jail }),
        proptest::option::of(jail).prop_map(|jail| Command::Banned { jail }),
        proptest::option::of(jail).prop_map(|jail| Command::Reload { jail }),
        (jail, target(), time).prop_map(|(jail, addr, time)| Command::Ban { jail, addr, time }),
        (proptest::option::of(jail), target()).prop_map(|(jail, addr)| Command::Unban { jail, addr }),
        target().prop_map(|addr| Command::Explain { addr }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Every request the client can write, the server reads back the same.
    #[test]
    fn every_request_round_trips(command in command()) {
        let line = Request::new(command.clone()).to_line();
        prop_assert_eq!(parse_request(&line).unwrap().command, command);
    }

    /// Any bytes: an answer, never a panic; an accepted request re-encodes to itself.
    #[test]
    fn any_bytes_give_a_request_or_a_bad_request(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        match parse_request(&bytes) {
            Ok(r) => prop_assert_eq!(parse_request(&r.to_line()).unwrap(), r),
            Err(e) => prop_assert_eq!(e.kind, ErrorKind::BadRequest),
        }
    }

    /// Any JSON, often nearly a request: the same.
    #[test]
    fn any_json_gives_a_request_or_a_bad_request(value in json_value()) {
        let line = serde_json::to_vec(&value).unwrap();
        match parse_request(&line) {
            Ok(r) => prop_assert_eq!(parse_request(&r.to_line()).unwrap(), r),
            Err(e) => {
                prop_assert_eq!(e.kind, ErrorKind::BadRequest);
                prop_assert!(!e.message.is_empty());
            }
        }
    }
}
