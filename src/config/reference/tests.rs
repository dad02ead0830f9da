//! The reference held to the schema and to the defaults banjo applies.

use std::collections::BTreeSet;

use super::super::schema::{self, Section};
use super::super::{Config, load_with_env};
use super::*;

fn keys(lists: &[&[Entry]]) -> Vec<&'static str> {
    lists.iter().flat_map(|l| l.iter().map(|e| e.key)).collect()
}

#[test]
fn every_key_the_schema_accepts_has_an_entry_and_no_other() {
    for (section, _, lists) in SECTIONS {
        assert_eq!(
            keys(lists),
            section.keys(),
            "{}: the reference lists these keys, the schema accepts those",
            section.label()
        );
    }
    let sections: BTreeSet<&str> = schema::TOP.iter().map(|(k, _)| *k).collect();
    let described: BTreeSet<&str> = (SECTIONS.iter())
        .map(|(s, ..)| match s {
            Section::Daemon => "daemon",
            Section::Defaults => "defaults",
            Section::Jail => "jails",
            Section::Filter => "filters",
            Section::Blocklist => "blocklist",
            Section::Notify => "notify",
            Section::NotifyMail | Section::NotifyExec => "notify",
            Section::Top => "",
        })
        .collect();
    assert_eq!(
        sections, described,
        "every top-level section has its part of the page"
    );
}

#[test]
fn every_entry_says_what_it_means() {
    for e in SECTIONS
        .iter()
        .flat_map(|(_, _, l)| l.iter().flat_map(|l| l.iter()))
    {
        assert!(e.meaning.ends_with('.'), "{}: a sentence: {:?}", e.key, e.meaning);
        assert!(
            e.meaning.len() > 20 && !e.form.is_empty(),
            "{}: say what it is",
            e.key
        );
    }
}

/// A config with one jail and `extra` in [defaults] or [daemon].
fn load(dir: &std::path::Path, daemon: &str, defaults: &str) -> Config {
    let path = dir.join("config.toml");
    let text = format!(
        "[daemon]\n{daemon}\n[defaults]\n{defaults}\n\
         [filters.app]\nfailregex = [\"auth failed from <HOST>\"]\n\
         [jails.app]\njournal = [\"_SYSTEMD_UNIT=app.service\"]\n"
    );
    std::fs::write(&path, text).expect("write the config");
    load_with_env(&path, Vec::<(String, String)>::new()).unwrap_or_else(|e| panic!("{e}"))
}

/// Writing a documented default gives the config banjo builds without it.
#[test]
fn each_default_written_here_is_the_one_banjo_applies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let base = load(dir.path(), "", "");
    for e in DAEMON {
        if let Toml(value) = e.default {
            let with = load(dir.path(), &format!("{} = {value}", e.key), "");
            assert_eq!(with, base, "[daemon] {} = {value} is not its default", e.key);
        }
    }
    // the bantime_* keys act only with bantime_increment on
    let increment = "bantime_increment = true\n";
    let base_incr = load(dir.path(), "", increment);
    for e in SETTINGS {
        let Toml(value) = e.default else { continue };
        let line = format!("{} = {value}", e.key);
        let (with, base) = if e.key.starts_with("bantime_") && e.key != "bantime_increment" {
            (load(dir.path(), "", &format!("{increment}{line}")), &base_incr)
        } else {
            (load(dir.path(), "", &line), &base)
        };
        assert_eq!(&with, base, "[defaults] {line} is not its default");
    }
}

/// The same for [notify.mail] and [[notify.exec]]: a documented default written out gives
/// the config banjo builds without it.
#[test]
fn each_notify_default_written_here_is_the_one_banjo_notify_applies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let with_notify = |mail: &str, exec: &str| {
        let path = dir.path().join("config.toml");
        let text = format!(
            "[filters.app]\nfailregex = [\"auth failed from <HOST>\"]\n\
             [jails.app]\njournal = [\"_SYSTEMD_UNIT=app.service\"]\n\
             [notify.mail]\ndest = \"root\"\n{mail}\n\
             [[notify.exec]]\nname = \"report\"\ncommand = [\"/bin/true\", \"{{ip}}\"]\n{exec}\n"
        );
        std::fs::write(&path, text).expect("write the config");
        load_with_env(&path, Vec::<(String, String)>::new()).unwrap_or_else(|e| panic!("{e}"))
    };
    let base = with_notify("", "");
    for e in NOTIFY_MAIL {
        let Toml(value) = e.default else { continue };
        let line = format!("{} = {value}", e.key);
        assert_eq!(
            with_notify(&line, ""),
            base,
            "[notify.mail] {line} is not its default"
        );
    }
    for e in NOTIFY_EXEC {
        let Toml(value) = e.default else { continue };
        let line = format!("{} = {value}", e.key);
        assert_eq!(
            with_notify("", &line),
            base,
            "[[notify.exec]] {line} is not its default"
        );
    }
}

#[test]
fn the_page_has_every_key_and_roff_escapes() {
    let page = man_page("1.2.3");
    assert!(page.starts_with(".TH BANJO.TOML 5 \"\" \"banjo 1.2.3\""));
    for e in SECTIONS
        .iter()
        .flat_map(|(_, _, l)| l.iter().flat_map(|l| l.iter()))
    {
        assert!(page.contains(&format!(".B {}\n", roff(e.key))), "{}", e.key);
    }
    assert_eq!(roff(".x\n'y\\z"), "\\&.x\n\\&'y\\ez");
}
