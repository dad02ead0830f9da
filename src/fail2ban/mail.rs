//! fail2ban's mail actions (sendmail-*, mail-*, smtp.py; `action_mw`/`action_mwl` expand to
//! them) as banjo-notify's one `[notify.mail]`: the jails that mailed, the recipient and
//! sender most of them used, whois and digests from the action variants. What one section
//! cannot say (other recipients, start/stop mails) goes into its comments and the report.

use figment::value::Value;

use super::{Jail, Mail};
use crate::config::notify;

/// The `[notify.mail]` the import writes, with what to tell the admin about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyMail {
    pub dest: Vec<String>,
    pub sender: Option<String>,
    pub sender_name: Option<String>,
    /// The jails whose bans are mailed, in the order of the file.
    pub jails: Vec<String>,
    pub whois: bool,
    /// Every ban into a digest (fail2ban's *-buffered actions).
    pub digest: bool,
    /// Comment lines above the section.
    pub comments: Vec<String>,
    /// Why the section is written commented out.
    pub held: Option<String>,
    /// The report's line on what was carried.
    pub summary: String,
    pub changed: Vec<String>,
    pub not_carried: Vec<String>,
    pub admin: Vec<String>,
}

/// Who a mail went to and from: the jails that share it are one group.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Envelope<'a> {
    dest: &'a str,
    sender: Option<&'a str>,
    sender_name: Option<&'a str>,
}

impl<'a> Envelope<'a> {
    fn of(mail: &'a Mail) -> Self {
        Envelope {
            dest: &mail.dest,
            sender: mail.sender.as_deref(),
            sender_name: mail.sendername.as_deref(),
        }
    }
}

impl std::fmt::Display for Envelope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.dest)?;
        match (self.sender_name, self.sender) {
            (Some(n), Some(s)) => write!(f, " from {n} <{s}>"),
            (None, Some(s)) => write!(f, " from {s}"),
            (Some(n), None) => write!(f, " from {n}"),
            (None, None) => Ok(()),
        }
    }
}

/// The one `[notify.mail]` for the jails' mail actions; `None` when no jail mailed.
pub fn plan(jails: &[Jail]) -> Option<NotifyMail> {
    let all: Vec<(&Jail, &Mail)> = jails
        .iter()
        .flat_map(|j| j.mails.iter().map(move |m| (j, m)))
        .collect();
    if all.is_empty() {
        return None;
    }
    let imported: Vec<(&Jail, &Mail)> = all.iter().copied().filter(|(j, _)| j.held.is_none()).collect();
    let mut held = None;
    let mailing = if imported.is_empty() {
        held = Some(
            "every jail that mailed is written commented out above; uncomment this with them".to_string(),
        );
        all.clone()
    } else {
        imported
    };
    let groups = groups(&mailing);
    // the envelope of the most jails; on a tie the first in the file
    let mut chosen = &groups[0].0;
    let mut most = 0;
    for (envelope, jails) in &groups {
        if jails.len() > most {
            (chosen, most) = (envelope, jails.len());
        }
    }
    let mut out = NotifyMail {
        dest: Vec::new(),
        sender: None,
        sender_name: None,
        jails: names(mailing.iter().map(|(j, _)| *j)),
        whois: mailing.iter().any(|(_, m)| m.whois),
        digest: mailing.iter().all(|(_, m)| m.buffered),
        comments: Vec::new(),
        held,
        summary: String::new(),
        changed: Vec::new(),
        not_carried: Vec::new(),
        admin: Vec::new(),
    };
    out.addresses(chosen);
    let actions = unique(mailing.iter().map(|(_, m)| m.action.clone()));
    let from = chosen.to_string();
    out.summary = format!(
        "{} (mail to {}){} of {} → [notify.mail], sent by banjo-notify.service",
        actions.join(", "),
        chosen.dest,
        &from[chosen.dest.len()..],
        out.jails.join(", ")
    );
    out.comments.push(format!(
        "Mail on bans, as fail2ban's {} did for {}: banjo-notify.service sends them through \
         the local MTA's sendmail. It starts once this section is in the config: `banjo check`, \
         `banjo notify --send-test`, then `systemctl restart banjo-notify`.",
        actions.join(", "),
        out.jails.join(", ")
    ));
    out.admin.push(
        "[notify.mail]: banjo-notify.service mails the bans through the local MTA's sendmail; \
         after `banjo check`, try it with `banjo notify --send-test`, then `systemctl restart \
         banjo-notify`"
            .to_string(),
    );
    for (envelope, group) in groups.iter().filter(|(e, _)| e != chosen) {
        let line = format!(
            "{} mailed to {envelope} in fail2ban; banjo-notify has one [notify.mail], so their \
             bans go to {chosen} (the most common); add {} to dest to keep that recipient",
            names_text(group),
            envelope.dest
        );
        out.comments.push(line.clone());
        out.changed.push(format!("mail: {line}"));
    }
    out.variants(&mailing);
    out.dropped(&mailing);
    let held_back = names(all.iter().filter(|(j, _)| j.held.is_some()).map(|(j, _)| *j));
    if out.held.is_none() && !held_back.is_empty() {
        out.comments.push(format!(
            "{} mailed too but {} written commented out: add {} to jails once imported",
            held_back.join(", "),
            if held_back.len() == 1 { "is" } else { "are" },
            if held_back.len() == 1 { "it" } else { "them" },
        ));
    }
    if let Some(reason) = &out.held {
        out.admin
            .push(format!("[notify.mail] written commented out: {reason}"));
    }
    Some(out)
}

impl NotifyMail {
    /// dest, sender and sender_name from fail2ban's, as banjo-notify takes them.
    fn addresses(&mut self, envelope: &Envelope) {
        let mut bad = Vec::new();
        for word in envelope
            .dest
            .split([',', ' ', '\t', '\n'])
            .filter(|w| !w.is_empty())
        {
            match address(word) {
                Ok((a, note)) => {
                    self.comments.extend(note);
                    self.dest.push(a);
                }
                Err(e) => bad.push(format!("dest {word:?}: {e}")),
            }
        }
        if self.dest.is_empty() && bad.is_empty() {
            bad.push("fail2ban's dest is empty".to_string());
        }
        if !bad.is_empty() {
            let reason = format!("{}; set dest by hand", bad.join("; "));
            self.held = Some(match self.held.take() {
                Some(other) => format!("{other}; {reason}"),
                None => reason,
            });
        }
        if let Some(sender) = envelope.sender {
            match address(sender) {
                Ok((a, note)) => {
                    self.comments.extend(note);
                    self.sender = Some(a);
                }
                Err(e) => self.comments.push(format!(
                    "fail2ban's sender {sender:?} is left out ({e}): banjo-notify sends as \"banjo\", \
                     which the MTA completes with its own domain"
                )),
            }
        }
        if let Some(name) = envelope.sender_name {
            match notify::display_name(&Value::from(name.to_string())) {
                Ok(n) => self.sender_name = Some(n),
                Err(e) => self.comments.push(format!(
                    "fail2ban's sendername {name:?} is left out ({e}): banjo-notify's is \"banjo\""
                )),
            }
        }
    }

    /// whois, log lines and buffering, which fail2ban chose per action and banjo-notify has
    /// once.
    fn variants(&mut self, mailing: &[(&Jail, &Mail)]) {
        let without = |f: fn(&Mail) -> bool| names(mailing.iter().filter(|(_, m)| !f(m)).map(|(j, _)| *j));
        let no_whois = without(|m| m.whois);
        if self.whois && !no_whois.is_empty() {
            self.note(format!(
                "{} mailed without a whois in fail2ban; with whois = true their mails have one too",
                names_text(&no_whois)
            ));
        }
        let no_lines = without(|m| m.lines);
        if !no_lines.is_empty() {
            self.note(format!(
                "{} mailed without the log lines in fail2ban; banjo-notify's mails always quote \
                 the lines that counted",
                names_text(&no_lines)
            ));
        }
        let buffered = names(mailing.iter().filter(|(_, m)| m.buffered).map(|(j, _)| *j));
        if self.digest {
            self.note(
                "fail2ban's buffered mail collected a number of bans (its `lines`, 5 by default) \
                 into one mail; digest_after = 0 collects every ban into a digest sent \
                 digest_interval (10m) after the first: by time, not by count"
                    .to_string(),
            );
        } else if !buffered.is_empty() {
            self.note(format!(
                "{} collected bans into one mail in fail2ban; banjo-notify mails each ban, and \
                 beyond digest_after (5) mails per jail within digest_interval (10m) a digest",
                names_text(&buffered)
            ));
        }
    }

    /// A comment above the section that is also a change of meaning in the report.
    fn note(&mut self, line: String) {
        self.changed.push(format!("mail: {line}"));
        self.comments.push(line);
    }

    /// The start/stop mails banjo-notify does not send.
    fn dropped(&mut self, mailing: &[(&Jail, &Mail)]) {
        let actions = unique(
            mailing
                .iter()
                .filter(|(_, m)| m.start_stop)
                .map(|(_, m)| m.action.clone()),
        );
        for action in actions {
            let jails = names(
                mailing
                    .iter()
                    .filter(|(_, m)| m.start_stop && m.action == action)
                    .map(|(j, _)| *j),
            );
            let whose = if jails == self.jails {
                String::new()
            } else {
                format!(" ({})", names_text(&jails))
            };
            let line = format!(
                "{action}{whose}: its mails when a jail starts or stops (actionstart, \
                 actionstop): banjo-notify mails bans only"
            );
            self.comments.push(format!("not carried: {line}"));
            self.not_carried.push(line);
        }
    }
}

/// The jails per envelope, in the order first met.
fn groups<'a>(mailing: &[(&'a Jail, &'a Mail)]) -> Vec<(Envelope<'a>, Vec<String>)> {
    let mut groups: Vec<(Envelope, Vec<String>)> = Vec::new();
    for (jail, mail) in mailing {
        let envelope = Envelope::of(mail);
        match groups.iter_mut().find(|(e, _)| *e == envelope) {
            Some((_, names)) if !names.contains(&jail.name) => names.push(jail.name.clone()),
            Some(_) => {}
            None => groups.push((envelope, vec![jail.name.clone()])),
        }
    }
    groups
}

/// fail2ban's address as banjo-notify takes it, with a comment when it had to change:
/// `root@<fq-hostname>` (jail.conf's sender) becomes `root`, which the MTA completes.
fn address(text: &str) -> Result<(String, Option<String>), String> {
    let text = text.trim();
    for tag in ["@<fq-hostname>", "@<hostname>"] {
        if let Some(local) = text.strip_suffix(tag) {
            let a = notify::mail_address(&Value::from(local.to_string()))?;
            let note = format!(
                "fail2ban's {text} is written as {a:?}: fail2ban put in the host's name, the MTA \
                 completes a bare name with its own domain"
            );
            return Ok((a, Some(note)));
        }
    }
    notify::mail_address(&Value::from(text.to_string())).map(|a| (a, None))
}

fn names<'a>(jails: impl Iterator<Item = &'a Jail>) -> Vec<String> {
    unique(jails.map(|j| j.name.clone()))
}

fn unique(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// "jail a", "jails a, b".
fn names_text(names: &[String]) -> String {
    match names {
        [one] => format!("jail {one}"),
        _ => format!("jails {}", names.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_taken_as_banjo_notify_takes_them() {
        assert_eq!(
            address(" postmaster@example.org").unwrap(),
            ("postmaster@example.org".into(), None)
        );
        assert_eq!(address("root").unwrap().0, "root");
        let (a, note) = address("fail2ban@<fq-hostname>").unwrap();
        assert_eq!(a, "fail2ban");
        assert!(note.unwrap().contains("the MTA completes a bare name"));
        for bad in ["<admin>", "a@b\nBcc: c@d", "-oQ/tmp"] {
            assert!(address(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_read_as_a_phrase() {
        assert_eq!(names_text(&["sshd".into()]), "jail sshd");
        assert_eq!(names_text(&["a".into(), "b".into()]), "jails a, b");
    }
}
