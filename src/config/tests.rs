//! End-to-end tests of config loading: the fixtures in tests/data/config/ (each says what it
//! proves), the environment layer, and the repository's example config.toml.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/config")
        .join(name)
}

fn load_fixture(name: &str) -> Result<Config, ConfigError> {
    load_with_env(&fixture(name), no_env())
}

fn no_env() -> Vec<(String, String)> {
    vec![]
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The fixture's problems, as messages.
fn problems(name: &str) -> Vec<String> {
    let e = load_fixture(name).expect_err("the fixture should not load");
    e.problems().iter().map(ToString::to_string).collect()
}

/// The one problem that mentions `key`, with the fixture's file name in it.
fn problem_about(all: &[String], key: &str) -> String {
    let found: Vec<&String> = all
        .iter()
        .filter(|p| p.contains(&format!(": {key}: ")) || p.contains(&format!(": {key} = ")))
        .collect();
    assert_eq!(found.len(), 1, "one problem about {key} in {all:#?}");
    found[0].clone()
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ports(list: &[(u16, u16)]) -> Vec<PortRange> {
    list.iter().map(|&(low, high)| PortRange { low, high }).collect()
}

#[test]
fn builtin_defaults_fill_a_minimal_jail() {
    let config = load_fixture("minimal.toml").unwrap();
    assert_eq!(config.daemon, Daemon::default());
    let jail = config.jail("app").unwrap();
    assert_eq!(jail.filter, "app");
    assert_eq!(jail.filter_def.failregex, ["auth failed from <HOST>"]);
    assert_eq!(jail.maxretry, 5);
    assert_eq!(jail.findtime, secs(600));
    assert_eq!(jail.bantime, BanTime::For(secs(600)));
    assert_eq!(jail.protocols, Protocol::ALL);
    assert!(jail.ports.is_empty());
    assert_eq!(
        (jail.hook, jail.family, jail.blocktype),
        (Hook::Input, Family::Inet, BlockType::Drop)
    );
    assert_eq!(jail.usedns, UseDns::Warn);
    assert!(jail.ignoreself);
    assert_eq!(jail.ignoreip.len(), 2);
    assert_eq!(jail.maxtracked, 100_000);
    assert_eq!(jail.increment, None);
    assert_eq!(jail.journal[0].to_string(), "_SYSTEMD_UNIT=app.service");
    assert_eq!(jail.origin, Origin::File(fixture("minimal.toml")));
    assert_eq!(config.files, [fixture("minimal.toml")]);
    assert_eq!(config.base_dir, fixture(""));
}

#[test]
fn defaults_are_inherited_and_overridden() {
    let config = load_fixture("defaults.toml").unwrap();
    let names: Vec<&str> = config.jails.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, ["inherits", "overrides"], "enabled jails, sorted by name");
    assert_eq!(config.disabled_jails, ["off"]);

    let inherits = config.jail("inherits").unwrap();
    assert_eq!(inherits.maxretry, 3);
    assert_eq!(inherits.findtime, secs(3600));
    assert_eq!(inherits.bantime, BanTime::For(secs(86400)));
    assert_eq!(inherits.ports, ports(&[(25, 25), (465, 465), (587, 587)]));
    assert_eq!(inherits.protocols, [Protocol::Tcp]);
    assert_eq!(inherits.blocktype, BlockType::Reject);
    let ignored: Vec<String> = inherits.ignoreip.iter().map(ToString::to_string).collect();
    assert_eq!(ignored, ["127.0.0.1/8", "::1", "10.0.0.0/8"]);
    let increment = inherits.increment.as_ref().unwrap();
    assert_eq!(increment.multipliers, [1, 2, 4, 8]);
    assert_eq!(increment.maxtime, Some(secs(7 * 86400)));
    assert_eq!(increment.factor, 1.0);
    assert_eq!(
        inherits.filter_def.failregex,
        ["auth failed from <HOST>", "bad password for .* from <HOST>"]
    );

    let o = config.jail("overrides").unwrap();
    assert_eq!(o.maxretry, 6);
    assert_eq!(o.findtime, secs(600));
    assert_eq!(o.bantime, BanTime::Permanent);
    assert_eq!(o.ignoreip[0], "192.0.2.0/24".parse().unwrap());
    assert_eq!(o.ignoreip[1], "2001:db8::/32".parse().unwrap());
    assert_eq!(o.ignoreip[2], IgnoreIp::Host("gateway.example.org".into()));
    assert!(!o.ignoreself);
    assert_eq!(o.usedns, UseDns::No);
    assert_eq!(
        o.ports,
        ports(&[(22, 22), (8000, 8080), (9000, 9010), (443, 443)])
    );
    assert_eq!(o.protocols, [Protocol::Udp], "alias `protocol`");
    assert_eq!(o.hook, Hook::Forward, "alias `chain_hook`");
    assert_eq!(o.family, Family::Bridge);
    assert_eq!(o.blocktype, BlockType::Drop);
    assert_eq!(o.maxtracked, 500);
    assert_eq!(o.increment, None);
    assert_eq!(o.multilog, Some(MultilogSource::FdName("app-log".into())));
    assert!(o.journal.is_empty());
}

#[test]
fn every_duration_form() {
    let config = load_fixture("durations.toml").unwrap();
    let jail = |name| config.jail(name).unwrap();
    assert_eq!(jail("integer").findtime, secs(600));
    assert_eq!(jail("integer").bantime, BanTime::For(secs(86400)));
    assert_eq!(jail("string-seconds").findtime, secs(3600));
    assert_eq!(jail("string-seconds").bantime, BanTime::For(secs(90)));
    assert_eq!(jail("units").findtime, secs(600));
    assert_eq!(jail("units").bantime, BanTime::For(secs(7 * 86400)));
    let increment = jail("units").increment.clone().unwrap();
    assert_eq!(increment.maxtime, Some(secs(30 * 86400)));
    assert_eq!(increment.rndtime, Duration::ZERO);
    assert_eq!(jail("combined").findtime, secs(5400));
    assert_eq!(jail("combined").bantime, BanTime::For(secs(36 * 3600)));
    assert_eq!(jail("combined").bantime.to_string(), "1d12h");
    assert_eq!(jail("permanent-int").bantime, BanTime::Permanent);
    assert_eq!(jail("permanent-str").bantime, BanTime::Permanent);
}

#[test]
fn config_d_files_are_layered_in_name_order() {
    let dir = fixture("layered");
    let config = load_with_env(&dir.join("config.toml"), no_env()).unwrap();
    assert_eq!(
        config.files,
        [
            dir.join("config.toml"),
            dir.join("config.d/10-first.toml"),
            dir.join("config.d/20-later.toml")
        ]
    );
    assert_eq!(config.ignored_files, [dir.join("config.d/README")]);
    let jail = config.jail("app").unwrap();
    assert_eq!(jail.maxretry, 2, "20-later.toml wins over 10-first.toml");
    assert_eq!(
        jail.bantime,
        BanTime::For(secs(86400)),
        "10-first.toml wins over config.toml"
    );
    assert_eq!(
        jail.findtime,
        secs(3600),
        "config.toml's jail key survives the merge"
    );
    assert_eq!(jail.ports, ports(&[(443, 443)]), "a drop-in adds a key to a jail");
    assert_eq!(jail.origin, Origin::File(dir.join("config.toml")));
}

#[test]
fn environment_overrides_files() {
    let dir = fixture("layered");
    let env = env(&[
        ("BANJO_DEFAULTS__BANTIME", "1h"),
        ("BANJO_JAILS__APP__MAXRETRY", "9"),
        ("BANJO_DAEMON__FLUSH_ON_STOP", "true"),
        ("BANJO_CONFIG", "/ignored/not/a/key.toml"),
        ("HOME", "/root"),
    ]);
    let config = load_with_env(&dir.join("config.toml"), env).unwrap();
    let jail = config.jail("app").unwrap();
    assert_eq!(jail.bantime, BanTime::For(secs(3600)));
    assert_eq!(jail.maxretry, 9);
    assert!(config.daemon.flush_on_stop);
}

#[test]
fn environment_can_disable_a_jail() {
    let env = env(&[("BANJO_JAILS__APP__ENABLED", "false")]);
    let config = load_with_env(&fixture("minimal.toml"), env).unwrap();
    assert!(config.jails.is_empty());
    assert_eq!(config.disabled_jails, ["app"]);
    let e = config.require_jails().unwrap_err().to_string();
    assert!(e.contains("disabled jails: app"), "{e}");
}

#[test]
fn a_bad_environment_value_names_the_variable() {
    let env = env(&[("BANJO_JAILS__APP__MAXRETRY", "six")]);
    let e = load_with_env(&fixture("minimal.toml"), env)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "environment variable BANJO_JAILS__APP__MAXRETRY: jails.app.maxretry = \"six\": \
         expected a whole number of failures ≥ 1, e.g. maxretry = 6"
    );
}

#[test]
fn an_unknown_environment_key_names_the_variable() {
    let env = env(&[("BANJO_DEFAULTS__MAXRETRIES", "3")]);
    let e = load_with_env(&fixture("minimal.toml"), env)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("environment variable BANJO_DEFAULTS__MAXRETRIES: defaults.maxretries: unknown key; did you mean `maxretry`?"), "{e}");
}

#[test]
fn every_bad_value_names_file_key_value_and_expected_form() {
    let all = problems("bad-values.toml");
    let file = fixture("bad-values.toml").display().to_string();
    for p in &all {
        assert!(p.starts_with(&format!("{file}: ")), "names the file: {p}");
    }
    let cases = [
        (
            "daemon.loglevel",
            "\"verbose\"",
            "expected one of \"error\", \"warn\", \"info\", \"debug\", \"trace\", e.g. loglevel = \"info\"",
        ),
        ("daemon.state_dir", "\"var/lib/banjo\"", "absolute path"),
        ("defaults.bantime", "\"1 day\"", "did you mean \"1d\"?"),
        ("defaults.findtime", "-1", "only exists for bantime"),
        (
            "jails.app.maxretry",
            "\"six\"",
            "expected a whole number of failures ≥ 1, e.g. maxretry = 6",
        ),
        (
            "jails.app.usedns",
            "\"maybe\"",
            "\"yes\", \"warn\", \"no\", \"raw\"",
        ),
        ("jails.app.ports", "[25, 70000]", "1 to 65535"),
        (
            "jails.app.protocols",
            "[\"tcp\", \"icmp\"]",
            "\"tcp\", \"udp\", \"udplite\", \"sctp\"",
        ),
        ("jails.app.hook", "\"prerouting\"", "\"input\", \"forward\""),
        ("jails.app.family", "\"ip6\"", "\"inet\", \"bridge\""),
        ("jails.app.blocktype", "\"tarpit\"", "\"drop\", \"reject\""),
        ("jails.app.ignoreip", "[\"10.0.0.0/33\"]", "longer than 32 bits"),
        ("jails.app.maxtracked", "0", "≥ 1, e.g. maxtracked = 100000"),
        ("jails.zero.maxretry", "0", "≥ 1"),
        ("jails.zero.bantime", "\"24hrs\"", "did you mean \"24h\"?"),
        (
            "jails.long.bantime",
            "\"1000y\"",
            "52142w6d is longer than the longest ban nftables can time, 30500w3d23h34m33s (about \
             584 years); for a ban that never ends, use -1 (permanent)",
        ),
        (
            "jails.long.bantime_maxtime",
            "\"600y\"",
            "longest ban nftables can time",
        ),
        (
            "jails.long.bantime_rndtime",
            "99999999999999",
            "longest ban nftables can time",
        ),
    ];
    for (key, value, expected) in cases {
        let p = problem_about(&all, key);
        assert!(p.contains(&format!("{key} = {value}: ")), "value shown: {p}");
        assert!(p.contains(expected), "expected form shown: {p}");
    }
    assert_eq!(all.len(), cases.len(), "{all:#?}");
}

#[test]
fn unknown_keys_suggest_the_right_one() {
    let all = problems("unknown-keys.toml");
    let file = fixture("unknown-keys.toml").display().to_string();
    for (key, hint) in [
        ("jail", "did you mean `jails`?"),
        ("daemon.log_level", "did you mean `loglevel`?"),
        ("defaults.maxretries", "did you mean `maxretry`?"),
        ("filters.app.failregexp", "did you mean `failregex`?"),
        ("jails.app.ban_time", "did you mean `bantime`?"),
        (
            "jails.app.logpath",
            "`logpath` is a fail2ban option: banjo does not read log files",
        ),
    ] {
        let p = problem_about(&all, key);
        assert!(
            p.starts_with(&format!("{file}: {key}: unknown key; {hint}")),
            "{p}"
        );
        assert!(p.contains("valid keys in "), "{p}");
    }
    let p = problem_about(&all, "filters.app.failregex");
    assert!(p.contains("needs at least one failregex"), "{p}");
    assert_eq!(all.len(), 7, "{all:#?}");
}

#[test]
fn syntax_error_names_file_line_and_column() {
    let e = load_fixture("syntax-error.toml").unwrap_err();
    let ConfigError::Syntax {
        path, line, column, ..
    } = &e
    else {
        panic!("not a syntax error: {e}");
    };
    assert_eq!(path, &fixture("syntax-error.toml"));
    assert_eq!(*line, 5);
    assert!((11..=12).contains(column), "column {column} points into `1d`");
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("{}:5:{column}: not valid TOML: ", path.display())),
        "{text}"
    );
    println!("{text}");
    assert!(text.contains("bantime = \"1d\""), "{text}");
}

#[test]
fn missing_file_says_where_the_example_is() {
    let path = fixture("does-not-exist.toml");
    let e = load_with_env(&path, no_env()).unwrap_err();
    assert!(matches!(e, ConfigError::NotFound { .. }));
    let text = e.to_string();
    assert!(
        text.starts_with(&format!("{}: no such file", path.display())),
        "{text}"
    );
    assert!(
        text.contains("/usr/share/doc/banjo/examples/config.toml"),
        "{text}"
    );
    assert!(text.contains("--config"), "{text}");
}

#[test]
fn a_directory_is_not_a_config_file() {
    let e = load_with_env(&fixture("layered"), no_env()).unwrap_err();
    assert!(matches!(e, ConfigError::Read { .. }), "{e}");
}

#[test]
fn empty_file_loads_but_has_no_jails() {
    let config = load_fixture("empty.toml").unwrap();
    assert!(config.jails.is_empty());
    let e = config.require_jails().unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "no enabled jails in {}: add a [jails.NAME] section",
            fixture("empty.toml").display()
        )),
        "{e}"
    );
    let config = from_toml(Path::new("/etc/banjo/config.toml"), "").unwrap();
    assert!(config.require_jails().is_err());
}

#[test]
fn a_jail_without_source_is_an_error() {
    let all = problems("no-source.toml");
    assert_eq!(all.len(), 1, "the disabled jail needs no source: {all:#?}");
    let p = &all[0];
    assert!(
        p.starts_with(&format!(
            "{}: jails.app: no source: set journal = [\"_SYSTEMD_UNIT=",
            fixture("no-source.toml").display()
        )),
        "{p}"
    );
    assert!(p.contains("multilog = "), "{p}");
}

#[test]
fn a_jail_with_two_sources_is_an_error() {
    let text = "[filters.a]\nfailregex = [\"x <HOST>\"]\n[jails.a]\njournal = [\"A=b\"]\nmultilog = \"a\"\n";
    let e = from_toml(Path::new("/etc/banjo/config.toml"), text)
        .unwrap_err()
        .to_string();
    assert!(e.contains("jails.a: both journal and multilog"), "{e}");
}

#[test]
fn lowercase_journal_field_suggests_upper_case() {
    let all = problems("lowercase-journal.toml");
    let p = problem_about(&all, "jails.app.journal");
    assert!(p.contains("= [\"_systemd_unit=dovecot.service\"]: journal field names are upper case: write \"_SYSTEMD_UNIT=dovecot.service\""), "{p}");
    let p = problem_about(&all, "jails.unit.journal");
    assert!(p.contains("\"_SYSTEMD_UNIT=dovecot.service\""), "{p}");
}

#[test]
fn fail2ban_jail_local_shapes_are_explained() {
    let all = problems("fail2ban-habits.toml");
    let p = problem_about(&all, "maxretry");
    assert!(p.contains("`maxretry` belongs in [defaults]"), "{p}");
    let p = problem_about(&all, "DEFAULT");
    assert!(p.contains("[defaults]"), "{p}");
    let p = problem_about(&all, "sshd");
    assert!(p.contains("in banjo it is [jails.sshd]"), "{p}");
}

#[test]
fn inline_filters() {
    let all = problems("filters.toml");
    assert_eq!(all.len(), 1, "only the empty filter is a problem: {all:#?}");
    assert!(
        all[0].contains("filters.empty.failregex: a filter needs at least one failregex"),
        "{}",
        all[0]
    );

    let text = std::fs::read_to_string(fixture("filters.toml")).unwrap();
    let text = text.replace(
        "[filters.empty]\nignoreregex",
        "[filters.empty]\nfailregex = [\"x <HOST>\"]\nignoreregex",
    );
    let config = from_toml(&fixture("filters.toml"), &text).unwrap();
    let jail = config.jail("multi").unwrap();
    assert_eq!(jail.filter, "multi", "the filter defaults to the jail's name");
    assert_eq!(
        jail.filter_def.failregex,
        [r"first (\S+) from <HOST>", "second from <HOST>"]
    );
    assert_eq!(jail.filter_def.journalmatch, ["_SYSTEMD_UNIT=multi.service"]);
    assert!(
        jail.filter_def.origin.ends_with("filters.toml [filters.multi]"),
        "{}",
        jail.filter_def.origin
    );
    assert_eq!(config.filters.len(), 3);
}

#[test]
fn a_bad_inline_regex_names_the_filter_key() {
    let text = "[filters.a]\nfailregex = [\"ok <HOST>\", \"broken ( <HOST>\"]\n\
                [jails.a]\njournal = [\"A=b\"]\n[jails.b]\nfilter = \"a\"\njournal = [\"A=c\"]\n";
    let e = from_toml(Path::new("/etc/banjo/config.toml"), text).unwrap_err();
    assert_eq!(e.problems().len(), 1, "reported once for two jails: {e}");
    let e = e.to_string();
    assert!(
        e.starts_with("/etc/banjo/config.toml: filters.a.failregex = \"broken ( <HOST>\": failregex #2"),
        "{e}"
    );
}

/// What cannot work is refused at load (so by `banjo check` and at start alike), with the
/// file, the key and the reason: a datepattern banjo does not understand, and a failregex
/// whose two address tags can both match one line.
#[test]
fn an_unknown_datepattern_and_a_failregex_with_two_hosts_are_refused() {
    let text = "[filters.a]\nfailregex = [\"from <HOST> via <HOST>\"]\n\
                [filters.b]\nfailregex = [\"from <HOST>\"]\ndatepattern = \"^%Q\"\n\
                [jails.a]\njournal = [\"A=b\"]\n[jails.b]\njournal = [\"A=c\"]\n";
    let e = from_toml(Path::new("/etc/banjo/config.toml"), text).unwrap_err();
    let all: Vec<String> = e.problems().iter().map(ToString::to_string).collect();
    assert_eq!(all.len(), 2, "{all:#?}");
    let two = problem_about(&all, "filters.a.failregex");
    assert!(
        two.starts_with("/etc/banjo/config.toml: filters.a.failregex = \"from <HOST> via <HOST>\": failregex #1: two address tags"),
        "{two}"
    );
    let date = problem_about(&all, "filters.b.datepattern");
    assert!(
        date.starts_with("/etc/banjo/config.toml: filters.b.datepattern = \"^%Q\": datepattern `^%Q` is not one banjo understands"),
        "{date}"
    );
}

#[test]
fn an_unknown_filter_names_the_jail_key() {
    let text = "[jails.nosuch]\njournal = [\"A=b\"]\n";
    let e = from_toml(Path::new("/etc/banjo/config.toml"), text)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("/etc/banjo/config.toml: jails.nosuch.filter = \"nosuch\": unknown filter"),
        "{e}"
    );
    assert!(e.contains("jails.nosuch sets no filter"), "{e}");
}

#[test]
fn a_syntax_error_in_a_drop_in_names_the_drop_in() {
    let dir = fixture("broken-dropin");
    let e = load_with_env(&dir.join("config.toml"), no_env())
        .unwrap_err()
        .to_string();
    let dropin = dir.join("config.d/50-broken.toml");
    assert!(e.starts_with(&format!("{}:2:", dropin.display())), "{e}");
}

#[test]
fn an_unknown_key_in_a_drop_in_names_the_drop_in() {
    let dir = fixture("typo-dropin");
    let e = load_with_env(&dir.join("config.toml"), no_env())
        .unwrap_err()
        .to_string();
    let dropin = dir.join("config.d/50-typo.toml");
    assert!(
        e.starts_with(&format!(
            "{}: jails.app.findtim: unknown key; did you mean `findtime`?",
            dropin.display()
        )),
        "{e}"
    );
}

#[test]
fn a_key_and_its_alias_together_are_an_error() {
    let text = "[defaults]\nports = [22]\nport = \"ssh\"\n";
    let e = from_toml(Path::new("/etc/banjo/config.toml"), text)
        .unwrap_err()
        .to_string();
    assert!(e.contains("defaults.port: both `ports`"), "{e}");
}

#[test]
fn a_section_that_is_not_a_table() {
    let e = from_toml(Path::new("/c.toml"), "daemon = 5\njails = []\n").unwrap_err();
    assert_eq!(e.problems().len(), 2, "{e}");
    assert!(
        e.to_string().contains("/c.toml: daemon = 5: expected a table"),
        "{e}"
    );
}

#[test]
fn bad_jail_names_are_rejected() {
    let text = "[filters.a]\nfailregex = [\"x <HOST>\"]\n[jails.\"bad name\"]\nfilter = \"a\"\njournal = [\"A=b\"]\n";
    let e = from_toml(Path::new("/c.toml"), text).unwrap_err().to_string();
    assert!(e.starts_with("/c.toml: jails.bad name: a name is letters"), "{e}");
}

#[test]
fn dotted_bantime_keys_are_explained() {
    let text = "[defaults]\nbantime.increment = true\n";
    let e = from_toml(Path::new("/c.toml"), text).unwrap_err().to_string();
    assert!(e.contains("bantime_increment"), "{e}");
}

/// The repository's example must load and say what the seed's fail2ban setup said.
/// Needs the built-in filters (qmail-smtp, vpopmail, …) of the filter engine.
#[test]
fn example_config_expresses_the_seed_setup() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    let config = from_toml(&path, &std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{e}"));
    // sendmail-whois-lines with sendmail-common.local's dest and sender
    let mail = config.notify.mail.as_ref().expect("[notify.mail]");
    assert_eq!(mail.dest, ["postmaster@mydomain.tld"]);
    assert_eq!(mail.sender, "fail2ban@mydomain.tld");
    assert_eq!(mail.events, [NotifyEvent::Ban]);
    assert!(mail.whois);
    let names: Vec<&str> = config.jails.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "dovecot-imap",
            "dovecot-pop3",
            "qmail-smtp",
            "qmail-submission",
            "qmailadmin",
            "roundcube-auth",
            "sshd",
            "vpopmail"
        ]
    );
    let day = BanTime::For(secs(86400));
    let smtp_ports = ports(&[(25, 25), (465, 465), (587, 587)]);
    let web_ports = ports(&[(80, 80), (443, 443)]);
    let mail_ports = ports(&[(993, 993), (995, 995)]);
    for (name, filter, ports, maxretry, bantime, findtime) in [
        ("qmail-smtp", "qmail-smtp", &smtp_ports, 5, day, 3600),
        ("qmail-submission", "qmail-smtp", &smtp_ports, 5, day, 3600),
        ("vpopmail", "vpopmail", &smtp_ports, 5, day, 3600),
        ("qmailadmin", "qmailadmin", &web_ports, 4, day, 3600),
        ("roundcube-auth", "roundcube-auth", &web_ports, 4, day, 3600),
        (
            "dovecot-pop3",
            "dovecot",
            &mail_ports,
            6,
            BanTime::For(secs(3600)),
            3600,
        ),
        (
            "dovecot-imap",
            "dovecot",
            &mail_ports,
            6,
            BanTime::For(secs(3600)),
            3600,
        ),
    ] {
        let jail = config.jail(name).unwrap();
        assert_eq!(jail.filter, filter, "{name}");
        assert_eq!(&jail.ports, ports, "{name}");
        assert_eq!(jail.maxretry, maxretry, "{name}");
        assert_eq!(jail.bantime, bantime, "{name}");
        assert_eq!(jail.findtime, secs(findtime), "{name}");
        assert_eq!(jail.protocols, Protocol::ALL, "{name}: bans block every protocol");
        assert_eq!(jail.hook, Hook::Input, "{name}");
        let ignored: Vec<String> = jail.ignoreip.iter().map(ToString::to_string).collect();
        assert_eq!(ignored, ["127.0.0.1/8", "::1", "10.0.0.0/8"], "{name}");
    }
    let source = |name: &str| {
        let jail = config.jail(name).unwrap();
        let journal: Vec<String> = jail.journal.iter().map(ToString::to_string).collect();
        (journal, jail.multilog.clone())
    };
    let fd = |name: &str| Some(MultilogSource::FdName(name.into()));
    assert_eq!(source("qmail-smtp"), (vec![], fd("qmail-smtpd")));
    assert_eq!(source("qmail-submission"), (vec![], fd("qmail-submission")));
    assert_eq!(source("vpopmail").0, ["SYSLOG_IDENTIFIER=vpopmail"]);
    assert_eq!(source("roundcube-auth").0, ["SYSLOG_IDENTIFIER=roundcube"]);
    assert_eq!(source("qmailadmin").0, ["SYSLOG_IDENTIFIER=qmailadmin"]);
    // dovecot and sshd read their filters' built-in matches (unit OR root-written identifier)
    for name in ["dovecot-imap", "dovecot-pop3", "sshd"] {
        let jail = config.jail(name).unwrap();
        assert_eq!(jail.journal_from, JournalFrom::Filter, "{name}");
        assert!(source(name).0.contains(&"_UID=0".to_string()), "{name}");
    }
    assert!(
        source("sshd")
            .0
            .contains(&"_SYSTEMD_UNIT=ssh.service".to_string())
    );
    assert!(
        source("dovecot-imap")
            .0
            .contains(&"_SYSTEMD_UNIT=dovecot.service".to_string())
    );
    assert_eq!(config.jail("sshd").unwrap().ports, ports(&[(22, 22)]));
}

fn journal_of(config: &Config, jail: &str) -> (Vec<String>, JournalFrom) {
    let jail = config.jail(jail).expect("the jail is enabled");
    let matches = jail.journal.iter().map(ToString::to_string).collect();
    (matches, jail.journal_from)
}

#[test]
fn a_jail_without_journal_reads_its_filters_journalmatch() {
    let text = "[jails.sshd]\n[jails.dovecot]\n";
    let config = from_toml(Path::new("/etc/banjo/config.toml"), text).unwrap();
    let (sshd, from) = journal_of(&config, "sshd");
    assert_eq!(from, JournalFrom::Filter);
    assert_eq!(
        sshd.join(" "),
        "_SYSTEMD_UNIT=ssh.service + _SYSTEMD_UNIT=sshd.service + SYSLOG_IDENTIFIER=sshd \
         SYSLOG_IDENTIFIER=sshd-session SYSLOG_IDENTIFIER=sshd-auth _UID=0"
    );
    let (dovecot, _) = journal_of(&config, "dovecot");
    assert_eq!(
        dovecot.join(" "),
        "_SYSTEMD_UNIT=dovecot.service + SYSLOG_IDENTIFIER=dovecot SYSLOG_IDENTIFIER=dovecot-auth \
         SYSLOG_IDENTIFIER=auth _UID=0"
    );
}

#[test]
fn a_jails_own_journal_wins_over_the_filters() {
    let text = "[jails.sshd]\njournal = [\"_SYSTEMD_UNIT=ssh.service\"]\n";
    let config = from_toml(Path::new("/etc/banjo/config.toml"), text).unwrap();
    assert_eq!(
        journal_of(&config, "sshd"),
        (vec!["_SYSTEMD_UNIT=ssh.service".to_string()], JournalFrom::Jail)
    );
}

#[test]
fn a_multilog_jail_takes_no_journal_default() {
    let text = "[jails.sshd]\nmultilog = \"sshd-log\"\n";
    let config = from_toml(Path::new("/etc/banjo/config.toml"), text).unwrap();
    let jail = config.jail("sshd").unwrap();
    assert!(jail.journal.is_empty());
    assert_eq!(jail.journal_from, JournalFrom::Jail);
}

#[test]
fn an_inline_filters_journalmatch_is_a_default_too_and_is_checked() {
    let text = "[filters.app]\nfailregex = [\"fail <HOST>\"]\njournalmatch = \"SYSLOG_IDENTIFIER=app _UID=0\"\n\
                [jails.app]\n";
    let config = from_toml(Path::new("/etc/banjo/config.toml"), text).unwrap();
    assert_eq!(journal_of(&config, "app").0, ["SYSLOG_IDENTIFIER=app", "_UID=0"]);
    let bad = "[filters.app]\nfailregex = [\"fail <HOST>\"]\njournalmatch = \"_SYSTEMD_UNIT=app\"\n\
               [jails.app]\n";
    let e = from_toml(Path::new("/etc/banjo/config.toml"), bad).unwrap_err();
    assert_eq!(e.problems().len(), 1, "{e}");
    let e = e.to_string();
    assert!(
        e.contains("jails.app.journal: not set, and the journalmatch of filter app"),
        "{e}"
    );
    assert!(e.contains("write \"_SYSTEMD_UNIT=app.service\""), "{e}");
}

#[test]
fn no_source_and_no_journalmatch_says_so() {
    let all = problems("no-source.toml");
    let p = problem_about(&all, "jails.app");
    assert!(
        p.contains("(filter app has no journalmatch to default to)"),
        "{p}"
    );
}

#[test]
fn notify_sections_load_with_their_defaults() {
    use notify::{Jails, Placeholder};
    let config = load_fixture("notify.toml").unwrap();
    assert!(config.notify.is_configured());
    let mail = config.notify.mail.as_ref().unwrap();
    assert_eq!(mail.dest, ["postmaster@example.org", "root"]);
    assert_eq!(mail.sender, "banjo@example.org");
    assert_eq!(mail.sender_name, "banjo");
    assert_eq!(mail.jails, Jails::Only(["app".into(), "old".into()].into()));
    assert_eq!(mail.events, [NotifyEvent::Ban, NotifyEvent::Unban]);
    assert_eq!(
        mail.command.render(|_| "banjo@example.org".into()),
        ["/usr/sbin/sendmail", "-t", "-oi", "-f", "banjo@example.org"]
    );
    assert_eq!(
        (mail.timeout, mail.retries, mail.retry_delay),
        (secs(60), 5, secs(30))
    );
    assert!(mail.whois);
    assert_eq!(mail.whois_timeout, secs(10));
    assert_eq!((mail.digest_after, mail.digest_interval), (0, secs(600)));

    let [report, logger] = &config.notify.exec[..] else {
        panic!("two commands: {:?}", config.notify.exec)
    };
    assert_eq!(report.name, "abuse-report");
    assert_eq!(
        report.command.render(|p| match p {
            Placeholder::Ip => "192.0.2.7".into(),
            Placeholder::Jail => "app".into(),
            _ => String::new(),
        }),
        [
            "/usr/bin/curl",
            "--data-urlencode",
            "ip=192.0.2.7",
            "-d",
            "{\"jail\":\"app\"}"
        ]
    );
    assert_eq!(
        (report.timeout, report.retries, report.retry_delay),
        (secs(60), 2, secs(10))
    );
    assert_eq!(report.events, [NotifyEvent::Ban]);
    assert_eq!(report.jails, Jails::All);
    assert_eq!(logger.name, "logger");
    assert_eq!(logger.events, [NotifyEvent::Unban]);
}

#[test]
fn no_notify_section_means_nothing_to_do() {
    let config = load_fixture("minimal.toml").unwrap();
    assert_eq!(config.notify, notify::Notify::default());
    assert!(!config.notify.is_configured());
}

#[test]
fn notify_mistakes_name_their_keys() {
    let all = problems("notify-bad.toml");
    let file = fixture("notify-bad.toml").display().to_string();
    for p in &all {
        assert!(p.starts_with(&format!("{file}: ")), "names the file: {p}");
    }
    for (key, expected) in [
        (
            "notify.mail.dest",
            "expected a mail address like \"postmaster@example.org\"",
        ),
        (
            "notify.mail.jails",
            "there is no jail \"ap\" in this configuration; did you mean \"app\"?",
        ),
        ("notify.mail.events", "banjo-notify sends no start mails"),
        (
            "notify.mail.command",
            "expected a list of words (no shell is used), e.g. command = [\"/usr/sbin/sendmail\", \"-t\"]",
        ),
        (
            "notify.mail.digest_interval",
            "must be a positive duration, not zero",
        ),
        (
            "notify.mail.colour",
            "unknown key; valid keys in [notify.mail]: dest, sender",
        ),
        (
            "notify.exec#1.command",
            "{adress} is not a placeholder; the placeholders here are {event}, {ip}",
        ),
        ("notify.exec.x.command", "a [[notify.exec]] needs its command"),
        ("notify.exec.x.timeout", "not a duration"),
    ] {
        let p = problem_about(&all, key);
        assert!(p.contains(expected), "{key}: {p}");
    }
    assert_eq!(all.len(), 9, "{all:#?}");
}

#[test]
fn notify_mail_needs_a_recipient() {
    let text = "[notify.mail]\nsender = \"banjo@example.org\"\n";
    let e = from_toml(Path::new("/etc/banjo/config.toml"), text)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "/etc/banjo/config.toml: notify.mail.dest: [notify.mail] needs the recipient, \
         e.g. dest = \"postmaster@example.org\""
    );
}

#[test]
fn notify_exec_written_as_one_table_says_use_two_brackets() {
    let text = "[notify.exec]\ncommand = [\"/bin/true\"]\n";
    let e = from_toml(Path::new("/etc/banjo/config.toml"), text)
        .unwrap_err()
        .to_string();
    assert!(e.contains("notify.exec = { command = [\"/bin/true\"] }: expected a list of commands: write each one as a [[notify.exec]] section"), "{e}");
}

/// The README's [notify] examples, each on top of the example config's jails, load.
#[test]
fn readme_notify_examples_load() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = std::fs::read_to_string(root.join("config.toml")).unwrap();
    let jails = &example[..example.find("# --- mail on bans").expect("the mail section")];
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks: Vec<&str> = readme
        .split("```toml\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .filter(|b| b.contains("[notify") || b.contains("[[notify"))
        .collect();
    assert_eq!(blocks.len(), 3, "mail, abuseipdb, nginx-deny");
    let mut names = Vec::new();
    for block in blocks {
        let text = format!("{jails}\n{block}");
        let config = from_toml(&root.join("config.toml"), &text).unwrap_or_else(|e| panic!("{e}\n{block}"));
        assert!(config.notify.is_configured());
        names.extend(config.notify.exec.iter().map(|e| e.name.clone()));
        for exec in &config.notify.exec {
            let argv = exec.command.render(|p| format!("<{}>", p.name()));
            if exec.name == "nginx-deny" {
                assert_eq!(argv[3..], ["nginx-deny", "<event>", "<ip>"]);
                assert!(argv[2].contains("echo \"$2 1;\""), "{argv:?}");
            }
        }
    }
    assert_eq!(names, ["abuseipdb", "nginx-deny"]);
}
