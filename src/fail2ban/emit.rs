//! The imported jails and their `[notify.mail]` as banjo's TOML (deterministic: the same
//! fail2ban directory gives the same bytes), and the report's text.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::mail::NotifyMail;
use super::sources::{self, Source};
use super::{FilterChoice, Jail, Mail, Report, toml_string};
use crate::config::{Family, Hook};
use crate::filter::FilterDef;

pub(super) fn toml(
    dir: &Path,
    jails: &[Jail],
    filters: &BTreeMap<String, FilterDef>,
    notify: Option<&NotifyMail>,
) -> String {
    let mut out = String::new();
    let dir = dir.display();
    let _ = writeln!(
        out,
        "# banjo jails imported from fail2ban's {dir} by `banjo import-fail2ban`.\n\
         # Each jail states every setting, so [defaults] elsewhere does not change what fail2ban\n\
         # did. A jail of the same name in another config file is merged with it key by key:\n\
         # remove it there. Check with `banjo check`, then `systemctl reload banjo`."
    );
    for jail in jails {
        out.push('\n');
        jail_text(&mut out, jail);
    }
    if let Some(notify) = notify {
        out.push('\n');
        notify_text(&mut out, notify);
    }
    for def in filters.values() {
        out.push('\n');
        filter_text(&mut out, def);
    }
    out
}

fn jail_text(out: &mut String, jail: &Jail) {
    let mut head = vec![format!("fail2ban's [{}], {}", jail.f2b_name, jail.at)];
    head.extend(jail.comments.iter().cloned());
    head.extend(jail.ban.notes.iter().map(|n| format!("changed: {n}")));
    match &jail.source {
        Source::Journal {
            how,
            by_filter,
            matches,
            ..
        } => {
            head.extend(how.iter().cloned());
            if *by_filter {
                head.push(format!(
                    "No `journal =`: the built-in {} filter's journalmatch is used (`banjo \
                     check` shows it; a `journal = [...]` would replace it): {}",
                    filter_name(&jail.filter),
                    sources::expression(matches)
                ));
            }
        }
        Source::Multilog { fd, path } => head.extend(sources::multilog_recipe(fd, path)),
        Source::Unmapped { .. } => {}
    }
    if jail.ban.hook == Hook::Forward && jail.ban.family == Family::Inet {
        head.push(
            "hook = \"forward\" as fail2ban's chain_hook: routed traffic to the hosts behind \
             this one. If this host bridges their traffic (layer 2), write family = \"bridge\"."
                .to_string(),
        );
    }
    head.extend(jail.mails.iter().map(mail_line));
    if !jail.bans {
        head.push(
            "fail2ban's jail did not ban (no firewall action): banjo would, so it is written \
             with enabled = false; set enabled = true if it should"
                .to_string(),
        );
    }
    let mut body = String::new();
    let _ = writeln!(body, "[jails.{}]", jail.name);
    if !jail.bans {
        let _ = writeln!(body, "enabled = false");
    }
    match &jail.filter {
        FilterChoice::Builtin { spec } => {
            let _ = writeln!(body, "filter = {}", toml_string(spec));
        }
        FilterChoice::Inline { def } => {
            let _ = writeln!(body, "filter = {}", toml_string(&def.name));
        }
    }
    match &jail.source {
        Source::Journal { by_filter: true, .. } => {}
        Source::Journal { matches, .. } => {
            let _ = writeln!(body, "journal = {}", list(matches.iter().map(|m| toml_string(m))));
        }
        Source::Multilog { fd, .. } => {
            let _ = writeln!(body, "multilog = {}", toml_string(fd));
        }
        Source::Unmapped { .. } => {}
    }
    settings_text(&mut body, jail);
    section(out, &head, &body, jail.held.as_deref());
}

/// A section with its comment lines above it; commented out, with the reason, when held.
fn section(out: &mut String, head: &[String], body: &str, held: Option<&str>) {
    for line in head {
        for part in wrap(line) {
            let _ = writeln!(out, "# {part}");
        }
    }
    match held {
        None => out.push_str(body),
        Some(reason) => {
            for part in wrap(&format!("not imported: {reason}")) {
                let _ = writeln!(out, "# {part}");
            }
            for line in body.lines() {
                let _ = writeln!(out, "# {line}");
            }
        }
    }
}

/// `[notify.mail]`: the keys fail2ban's mail actions decide; the rest are banjo-notify's
/// defaults (events = ["ban"]: fail2ban's mail actions mail no unbans).
fn notify_text(out: &mut String, notify: &NotifyMail) {
    let mut body = String::from("[notify.mail]\n");
    let mut put = |k: &str, v: String| {
        let _ = writeln!(body, "{k} = {v}");
    };
    match notify.dest.as_slice() {
        [one] => put("dest", toml_string(one)),
        many => put("dest", list(many.iter().map(|a| toml_string(a)))),
    }
    if let Some(s) = &notify.sender {
        put("sender", toml_string(s));
    }
    if let Some(n) = &notify.sender_name {
        put("sender_name", toml_string(n));
    }
    put("jails", long_list(notify.jails.iter().map(|j| toml_string(j))));
    put("events", "[\"ban\"]".to_string());
    put("whois", notify.whois.to_string());
    if notify.digest {
        put("digest_after", "0".to_string());
    }
    section(out, &notify.comments, &body, notify.held.as_deref());
}

fn settings_text(body: &mut String, jail: &Jail) {
    let s = &jail.settings;
    let b = &jail.ban;
    let mut put = |k: &str, v: String| {
        let _ = writeln!(body, "{k} = {v}");
    };
    put("maxretry", s.maxretry.to_string());
    put("findtime", s.findtime.clone());
    put("bantime", s.bantime.clone());
    put("ignoreip", list(s.ignoreip.iter().map(|a| toml_string(a))));
    put("ignoreself", s.ignoreself.to_string());
    put("usedns", toml_string(s.usedns.as_str()));
    let ports = b.ports.as_deref().unwrap_or_default();
    put("ports", list(ports.iter().map(|p| port_value(p))));
    put(
        "protocols",
        list(b.protocols.iter().map(|p| toml_string(p.as_str()))),
    );
    put("hook", toml_string(b.hook.as_str()));
    put("family", toml_string(b.family.as_str()));
    put("blocktype", toml_string(b.blocktype.as_str()));
    match &s.increment {
        None => put("bantime_increment", "false".into()),
        Some(inc) => {
            put("bantime_increment", "true".into());
            put("bantime_factor", format!("{:?}", inc.factor));
            put(
                "bantime_multipliers",
                list(inc.multipliers.iter().map(|m| m.to_string())),
            );
            if let Some(m) = &inc.maxtime {
                put("bantime_maxtime", m.clone());
            }
            put(
                "bantime_rndtime",
                inc.rndtime.clone().unwrap_or_else(|| "0".into()),
            );
            put("bantime_overalljails", inc.overalljails.to_string());
        }
    }
}

/// The filter's name as the jail's `filter =` gives it, parameters left out.
fn filter_name(filter: &FilterChoice) -> &str {
    match filter {
        FilterChoice::Builtin { spec } => spec.split('[').next().unwrap_or(spec),
        FilterChoice::Inline { def } => &def.name,
    }
}

/// A port as the config writes it: a number bare, a name or range quoted.
fn port_value(port: &str) -> String {
    match port.parse::<u16>() {
        Ok(n) => n.to_string(),
        Err(_) => toml_string(port),
    }
}

fn list(items: impl Iterator<Item = String>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(", "))
}

/// A list on one line when it fits, else over indented lines of about 96 columns.
fn long_list(items: impl Iterator<Item = String>) -> String {
    let items: Vec<String> = items.collect();
    let one = format!("[{}]", items.join(", "));
    if one.len() <= 80 {
        return one;
    }
    let mut out = String::from("[\n");
    let mut line = String::new();
    for item in items {
        if !line.is_empty() && line.len() + item.len() + 2 > 92 {
            out.push_str(&format!("    {}\n", line.trim_end()));
            line.clear();
        }
        line.push_str(&item);
        line.push_str(", ");
    }
    out.push_str(&format!("    {}\n]", line.trim_end()));
    out
}

/// A jail's mail alert, said where the jail is; `[notify.mail]` carries it.
fn mail_line(mail: &Mail) -> String {
    format!(
        "mail: fail2ban's {} mailed each ban to {}: see [notify.mail] below",
        mail.action, mail.dest
    )
}

fn filter_text(out: &mut String, def: &FilterDef) {
    let _ = writeln!(out, "# from {}, expanded", def.origin);
    let _ = writeln!(out, "[filters.{}]", def.name);
    let regexes = |out: &mut String, key: &str, list: &[String]| {
        let _ = writeln!(out, "{key} = [");
        for r in list {
            let _ = writeln!(out, "    {},", toml_string(r));
        }
        let _ = writeln!(out, "]");
    };
    regexes(out, "failregex", &def.failregex);
    if !def.ignoreregex.is_empty() {
        regexes(out, "ignoreregex", &def.ignoreregex);
    }
    if let Some(p) = &def.prefregex {
        let _ = writeln!(out, "prefregex = {}", toml_string(p));
    }
    if let Some(d) = &def.datepattern {
        let _ = writeln!(out, "datepattern = {}", toml_string(d));
    }
    if !def.journalmatch.is_empty() {
        let _ = writeln!(out, "journalmatch = {}", toml_string(&def.journalmatch.join(" ")));
    }
}

/// Comment lines for `text`: its own lines, each cut at about 96 columns at spaces, with
/// continuation lines indented.
fn wrap(text: &str) -> Vec<String> {
    text.lines().flat_map(wrap_line).collect()
}

fn wrap_line(text: &str) -> Vec<String> {
    const WIDTH: usize = 96;
    if text.len() <= WIDTH || text.starts_with("  ") {
        return vec![text.to_string()];
    }
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.len() + 1 + word.len() > WIDTH {
            lines.push(std::mem::take(&mut line));
            line.push_str("  ");
        } else if !line.is_empty() && !line.ends_with("  ") {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.trim().is_empty() {
        lines.push(line);
    }
    lines
}

/// The report's lists from the mapped jails.
pub(super) fn fill_report(report: &mut Report, jails: &[Jail], notify: Option<&NotifyMail>) {
    for jail in jails {
        let name = &jail.name;
        if let Some(reason) = &jail.held {
            report.held_back.push(name.clone());
            report
                .admin
                .push(format!("{name}: written commented out: {reason}"));
            continue;
        }
        if !jail.bans {
            report.held_back.push(name.clone());
            report.admin.push(format!(
                "{name}: fail2ban's jail did not ban; written with enabled = false"
            ));
        } else {
            report.carried.push(name.clone());
        }
        for c in &jail.comments {
            if let Some(rest) = c.strip_prefix("changed: ") {
                report.changed.push(format!("{name}: {rest}"));
            } else if let Some(rest) = c.strip_prefix("to do: ") {
                report.admin.push(format!("{name}: {rest}"));
            } else if let Some(rest) = c.strip_prefix("not carried: ") {
                report.not_carried.push(format!("{name}: {rest}"));
            } else if c.starts_with("filter: ") {
                report.changed.push(format!("{name}: {c}"));
            }
        }
        for n in &jail.ban.notes {
            report.changed.push(format!("{name}: {n}"));
        }
        match &jail.source {
            Source::Journal { todo: Some(t), .. } => report.admin.push(format!("{name}: {t}")),
            Source::Multilog { fd, path } => report.admin.push(format!(
                "{name}: multilog writes {path}: set up the FIFO banjo-{fd}.socket and the \
                 log/run change (the comment above [jails.{name}])"
            )),
            _ => {}
        }
    }
    if let Some(n) = notify {
        report.mail = Some(match &n.held {
            None => n.summary.clone(),
            Some(_) => format!("{} (written commented out)", n.summary),
        });
        report.changed.extend(n.changed.iter().cloned());
        report.not_carried.extend(n.not_carried.iter().cloned());
        report.admin.extend(n.admin.iter().cloned());
    }
}

impl Report {
    /// The report as printed on stderr.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "banjo import-fail2ban: {}: {} jail(s) carried{}{}",
            self.dir,
            self.carried.len(),
            if self.held_back.is_empty() {
                String::new()
            } else {
                format!(
                    ", {} held back ({})",
                    self.held_back.len(),
                    self.held_back.join(", ")
                )
            },
            if self.disabled == 0 {
                String::new()
            } else {
                format!(", {} not enabled in fail2ban (not imported)", self.disabled)
            }
        );
        if !self.carried.is_empty() {
            let _ = writeln!(out, "carried: {}", self.carried.join(", "));
        }
        if let Some(mail) = &self.mail {
            let _ = writeln!(out, "mail alerts: {mail}");
        }
        let section = |out: &mut String, title: &str, items: &[String]| {
            if items.is_empty() {
                return;
            }
            let _ = writeln!(out, "{title}:");
            let mut seen = Vec::new();
            for item in items {
                if !seen.contains(item) {
                    let _ = writeln!(out, "  - {item}");
                    seen.push(item.clone());
                }
            }
        };
        section(&mut out, "changed meaning", &self.changed);
        section(&mut out, "not carried", &self.not_carried);
        section(&mut out, "needs the admin", &self.admin);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_comments_wrap_at_spaces() {
        let text = "word ".repeat(40);
        let lines = wrap(text.trim());
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| l.len() <= 98), "{lines:?}");
        assert!(lines[1].starts_with("  word"));
    }

    #[test]
    fn every_line_of_a_message_stays_a_comment() {
        assert_eq!(wrap("a\n  regex: x"), ["a", "  regex: x"]);
    }

    #[test]
    fn ports_are_numbers_or_strings() {
        assert_eq!(port_value("25"), "25");
        assert_eq!(port_value("ssh"), "\"ssh\"");
        assert_eq!(port_value("1000-2000"), "\"1000-2000\"");
    }
}
