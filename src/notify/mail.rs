//! The mails: what fail2ban's sendmail-whois-lines carries (the jail and the address in the
//! subject, failures and ban time, the matched lines, a whois of the address) plus the banjo
//! commands to look closer or lift the ban, and the digest that stands for many bans. Pure
//! text: the headers sendmail -t reads, then the body. Log lines and whois output come from
//! outside, so they are made harmless here: control characters shown escaped, every line
//! indented (no line is a lone "." or a header), no line longer than SMTP allows.
use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::outbox::{Digest, MailJob, Message};
use super::record::{Event, Kind};
use super::whois::Whois;
use crate::config::notify::Mail as MailConfig;

/// Longest body line written, in bytes (SMTP allows 998).
const MAX_LINE: usize = 900;
/// Whois lines kept; registries answer with pages of terms of use.
const WHOIS_LINES: usize = 120;

/// The whole mail for `job`, headers and body, ready for `sendmail -t`.
pub fn render(job: &MailJob, cfg: &MailConfig, whois: &Whois, now: Timestamp, tz: &TimeZone) -> String {
    let (host, subject, body) = match &job.message {
        Message::Single(e) => (e.host.as_str(), subject(e), single_body(e, whois, tz)),
        Message::Digest(d) => {
            let host = d.events.first().map_or("localhost", |e| e.host.as_str());
            (host, digest_subject(d, host), digest_body(d, cfg, tz))
        }
    };
    let mut mail = String::with_capacity(body.len() + 1024);
    let _ = writeln!(mail, "From: {}", from(cfg));
    let _ = writeln!(mail, "To: {}", cfg.dest.join(", "));
    let _ = writeln!(mail, "Subject: {}", header_text(&subject));
    let date = jiff::fmt::rfc2822::to_string(&now.to_zoned(tz.clone()))
        .unwrap_or_else(|_| now.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string());
    let _ = writeln!(mail, "Date: {date}");
    let _ = writeln!(mail, "Message-ID: <{}@banjo-notify.{}>", job.id, domain(host));
    mail.push_str("Auto-Submitted: auto-generated\n");
    mail.push_str("MIME-Version: 1.0\n");
    mail.push_str("Content-Type: text/plain; charset=utf-8\n");
    mail.push_str("Content-Transfer-Encoding: 8bit\n");
    match &job.message {
        Message::Single(e) => {
            let _ = writeln!(mail, "X-Banjo-Event: {}", e.kind.as_str());
            let _ = writeln!(mail, "X-Banjo-Jail: {}", e.jail);
            let _ = writeln!(mail, "X-Banjo-IP: {}", e.target);
        }
        Message::Digest(d) => {
            let _ = writeln!(mail, "X-Banjo-Event: digest");
            let _ = writeln!(mail, "X-Banjo-Jail: {}", d.jail);
            let _ = writeln!(mail, "X-Banjo-Count: {}", d.bans + d.unbans);
        }
    }
    mail.push('\n');
    mail.push_str(&body);
    mail
}

/// "[banjo] vpopmail: banned 192.0.2.7 on mail.example.org".
pub fn subject(e: &Event) -> String {
    let what = match e.kind {
        Kind::Ban => "banned",
        Kind::Unban => "unbanned",
    };
    format!("[banjo] {}: {what} {} on {}", e.jail, e.target, e.host)
}

fn digest_subject(d: &Digest, host: &str) -> String {
    format!("[banjo] {}: digest of {} on {host}", d.jail, counts(d))
}

/// "198 bans", "198 bans and 3 unbans", "1 unban".
fn counts(d: &Digest) -> String {
    let n = |count: u64, word: &str| format!("{count} {word}{}", if count == 1 { "" } else { "s" });
    match (d.bans, d.unbans) {
        (b, 0) => n(b, "ban"),
        (0, u) => n(u, "unban"),
        (b, u) => format!("{} and {}", n(b, "ban"), n(u, "unban")),
    }
}

fn single_body(e: &Event, whois: &Whois, tz: &TimeZone) -> String {
    let mut b = String::new();
    match e.kind {
        Kind::Ban => ban_text(&mut b, e, tz),
        Kind::Unban => {
            let _ = writeln!(
                b,
                "banjo on {} lifted the ban of {} in jail {} at {}{}.",
                e.host,
                e.target,
                e.jail,
                local(e.time, tz),
                e.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
            );
        }
    }
    if let Some(section) = whois_section(e, whois) {
        b.push('\n');
        b.push_str(&section);
    }
    b.push('\n');
    let _ = writeln!(b, "Why it is (or was) banned:  banjo explain {}", e.target);
    if e.kind == Kind::Ban {
        let _ = writeln!(
            b,
            "Lift the ban:               banjo unban {} {}",
            e.jail, e.target
        );
    }
    signature(&mut b);
    b
}

fn ban_text(b: &mut String, e: &Event, tz: &TimeZone) {
    let _ = writeln!(
        b,
        "banjo on {} banned {} in jail {} at {}",
        e.host,
        e.target,
        e.jail,
        local(e.time, tz)
    );
    let failures = e
        .failures
        .map_or_else(String::new, |n| format!("after {n} failures, "));
    let length = match (e.bantime.as_deref(), e.until.as_deref()) {
        (Some("permanent"), _) | (_, Some("never")) => "for good (until an admin lifts it)".into(),
        (Some(t), Some(until)) => format!("for {t} (until {})", until_text(until, tz)),
        (Some(t), None) => format!("for {t}"),
        (None, _) => "(ban time not recorded)".into(),
    };
    let _ = writeln!(b, "{failures}{length}.");
    if let Some(n) = e.bans_before.filter(|n| *n > 0) {
        let _ = writeln!(
            b,
            "It had been banned {n} time{} before.",
            if n == 1 { "" } else { "s" }
        );
    }
    b.push('\n');
    if e.lines.is_empty() {
        b.push_str("The record has no log lines (a ban by an admin, or from an older banjo).\n");
    } else {
        let _ = writeln!(b, "The lines that counted ({}):\n", e.lines.len());
        for line in &e.lines {
            quoted(b, line);
        }
    }
}

fn whois_section(e: &Event, whois: &Whois) -> Option<String> {
    let ip = e.address();
    let mut s = String::new();
    match whois {
        Whois::Off => return None,
        Whois::NotInstalled => {
            let _ = writeln!(
                s,
                "whois: not installed here (apt install whois to see who {ip} belongs to)."
            );
        }
        Whois::Failed(why) => {
            let _ = writeln!(s, "whois {ip}: {why}.");
        }
        Whois::Text(text) => {
            let _ = writeln!(s, "whois {ip}:\n");
            let lines: Vec<&str> = whois_lines(text);
            for line in lines.iter().take(WHOIS_LINES) {
                quoted(&mut s, line);
            }
            if lines.len() > WHOIS_LINES {
                let _ = writeln!(s, "  … {} more lines: whois {ip}", lines.len() - WHOIS_LINES);
            }
        }
    }
    Some(s)
}

/// The informative lines of a whois answer: comments (`%`, `#`) dropped, blank runs folded.
fn whois_lines(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end();
        if line.starts_with('%') || line.starts_with('#') {
            continue;
        }
        if line.is_empty() && out.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out
}

fn digest_body(d: &Digest, cfg: &MailConfig, tz: &TimeZone) -> String {
    let mut b = String::new();
    let host = d.events.first().map_or("localhost", |e| e.host.as_str());
    let (first, last) = match (d.events.first(), d.events.last()) {
        (Some(f), Some(l)) => (local(f.time, tz), local(l.time, tz)),
        _ => (String::new(), String::new()),
    };
    let _ = writeln!(
        b,
        "banjo on {host}, jail {}: {} between {first} and {last}.",
        d.jail,
        counts(d)
    );
    let _ = writeln!(
        b,
        "Beyond {} mail{} per {} a jail's bans are collected into one mail like this one;\n\
         this digest holds {} event{}.\n",
        cfg.digest_after,
        if cfg.digest_after == 1 { "" } else { "s" },
        crate::config::Compact(cfg.digest_interval),
        d.bans + d.unbans,
        if d.bans + d.unbans == 1 { "" } else { "s" },
    );
    let width = d
        .events
        .iter()
        .map(|e| e.target.to_string().len())
        .max()
        .unwrap_or(7)
        .max(7);
    let _ = writeln!(
        b,
        "  time                 event  {:<width$}  failures  bantime  first line",
        "address"
    );
    for e in &d.events {
        let row = format!(
            "{:<19}  {:<5}  {:<width$}  {:<8}  {:<7}  {}",
            local_short(e.time, tz),
            e.kind.as_str(),
            e.target.to_string(),
            e.failures.map_or_else(|| "-".into(), |n| n.to_string()),
            e.bantime.as_deref().unwrap_or("-"),
            e.lines
                .first()
                .map_or_else(|| e.reason.clone().unwrap_or_default(), Clone::clone),
        );
        quoted(&mut b, &row);
    }
    let listed = d.events.len() as u64;
    if d.bans + d.unbans > listed {
        let _ = writeln!(
            b,
            "  … and {} more not listed (journalctl -u banjo JAIL={}).",
            d.bans + d.unbans - listed,
            d.jail
        );
    }
    b.push('\n');
    let _ = writeln!(b, "The jail's bans now:  banjo banned {}", d.jail);
    b.push_str("Why one is banned:    banjo explain ADDRESS\n");
    let _ = writeln!(b, "Lift one:             banjo unban {} ADDRESS", d.jail);
    signature(&mut b);
    b
}

fn signature(b: &mut String) {
    b.push_str("\n-- \nbanjo-notify (banjo ");
    b.push_str(env!("CARGO_PKG_VERSION"));
    b.push_str(")\n");
}

/// One line from outside, indented by two spaces, control characters escaped, cut into
/// pieces SMTP can carry.
fn quoted(b: &mut String, line: &str) {
    if line.is_empty() {
        b.push('\n');
        return;
    }
    let clean = escape_controls(line);
    let mut rest = clean.as_str();
    loop {
        let mut cut = rest.len().min(MAX_LINE);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (piece, tail) = rest.split_at(cut);
        b.push_str("  ");
        b.push_str(piece);
        b.push('\n');
        if tail.is_empty() {
            return;
        }
        rest = tail;
    }
}

/// Control characters (but tab) as `\xNN`, so a log line cannot rewrite the mail.
fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// A header value on one line of printable text.
fn header_text(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// `"banjo" <banjo@example.org>`.
fn from(cfg: &MailConfig) -> String {
    let name = cfg.sender_name.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{}\" <{}>", header_text(&name), cfg.sender)
}

/// A host name fit for the right side of a Message-ID.
fn domain(host: &str) -> String {
    let d: String = host
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-')
        .collect();
    if d.is_empty() { "localhost".into() } else { d }
}

fn local(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone())
        .strftime("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

fn local_short(t: Timestamp, tz: &TimeZone) -> String {
    t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S").to_string()
}

/// The record's UNTIL (RFC 3339) in local time; as written when it does not parse.
fn until_text(until: &str, tz: &TimeZone) -> String {
    until
        .parse::<Timestamp>()
        .map_or_else(|_| header_text(until), |t| local(t, tz))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::NotifyEvent;
    use crate::config::notify::{Argv, Jails, Placeholder};
    use crate::notify::record::tests::{ban_fields, t};

    fn cfg() -> MailConfig {
        MailConfig {
            dest: vec!["postmaster@example.org".into(), "admin@example.org".into()],
            sender: "banjo@example.org".into(),
            sender_name: "banjo \"mail\"".into(),
            jails: Jails::All,
            events: vec![NotifyEvent::Ban],
            command: Argv::parse(&["sendmail".to_string()], Placeholder::MAIL).unwrap(),
            timeout: Duration::from_secs(60),
            retries: 2,
            retry_delay: Duration::from_secs(30),
            whois: true,
            whois_timeout: Duration::from_secs(10),
            digest_after: 5,
            digest_interval: Duration::from_secs(600),
        }
    }

    fn ban() -> Event {
        Event::from_record(
            &ban_fields("vpopmail", "192.0.2.7"),
            "1a2b.6f2b".into(),
            t("2026-11-24T10:00:00Z"),
        )
        .unwrap()
    }

    fn single(e: Event) -> MailJob {
        MailJob {
            id: e.id.clone(),
            message: Message::Single(e),
            attempts: 0,
            not_before: None,
        }
    }

    fn now() -> Timestamp {
        t("2026-11-24T10:00:01Z")
    }

    /// Headers (up to the blank line) and body.
    fn split(mail: &str) -> (&str, &str) {
        mail.split_once("\n\n").expect("a blank line after the headers")
    }

    #[test]
    fn a_ban_mail_carries_what_sendmail_whois_lines_does() {
        let whois =
            Whois::Text("% comment\nnetname: EXAMPLE-NET\ncountry: ZZ\n\n\n# x\norg: Example\n".into());
        let mail = render(&single(ban()), &cfg(), &whois, now(), &TimeZone::UTC);
        let (headers, body) = split(&mail);
        assert_eq!(
            headers,
            "From: \"banjo \\\"mail\\\"\" <banjo@example.org>\n\
             To: postmaster@example.org, admin@example.org\n\
             Subject: [banjo] vpopmail: banned 192.0.2.7 on mail.example.org\n\
             Date: Tue, 24 Nov 2026 10:00:01 +0000\n\
             Message-ID: <1a2b.6f2b@banjo-notify.mail.example.org>\n\
             Auto-Submitted: auto-generated\n\
             MIME-Version: 1.0\n\
             Content-Type: text/plain; charset=utf-8\n\
             Content-Transfer-Encoding: 8bit\n\
             X-Banjo-Event: ban\n\
             X-Banjo-Jail: vpopmail\n\
             X-Banjo-IP: 192.0.2.7"
        );
        let expected = "\
banjo on mail.example.org banned 192.0.2.7 in jail vpopmail at 2026-11-24 10:00:00 UTC
after 5 failures, for 1d (until 2026-11-25 10:00:00 UTC).

The lines that counted (2):

  vchkpw-submission: password fail (pass: 'x') a@b.xy:192.0.2.7
  second line

whois 192.0.2.7:

  netname: EXAMPLE-NET
  country: ZZ

  org: Example

Why it is (or was) banned:  banjo explain 192.0.2.7
Lift the ban:               banjo unban vpopmail 192.0.2.7

-- 
banjo-notify (banjo ";
        assert!(body.starts_with(expected), "{body}");
    }

    #[test]
    fn log_lines_cannot_forge_headers_or_end_the_mail() {
        let mut e = ban();
        e.lines = vec![
            ".".into(),
            "x\r\nBcc: victim@example.net".into(),
            "é".repeat(1000),
        ];
        let mail = render(&single(e), &cfg(), &Whois::Off, now(), &TimeZone::UTC);
        assert!(!mail.contains("\r"));
        assert!(mail.contains("\n  .\n"), "a dot line is indented");
        assert!(mail.contains("  x\\x0d"), "{mail}");
        assert!(mail.lines().all(|l| l.len() <= MAX_LINE + 2));
        assert!(!mail.lines().any(|l| l.starts_with("Bcc:")));
    }

    #[test]
    fn whois_absent_or_failing_is_said() {
        let mail = render(
            &single(ban()),
            &cfg(),
            &Whois::NotInstalled,
            now(),
            &TimeZone::UTC,
        );
        assert!(
            mail.contains("whois: not installed here (apt install whois"),
            "{mail}"
        );
        let mail = render(
            &single(ban()),
            &cfg(),
            &Whois::Failed("timed out after 10s".into()),
            now(),
            &TimeZone::UTC,
        );
        assert!(mail.contains("whois 192.0.2.7: timed out after 10s."), "{mail}");
        let mail = render(&single(ban()), &cfg(), &Whois::Off, now(), &TimeZone::UTC);
        assert!(!mail.contains("whois"), "{mail}");
    }

    #[test]
    fn an_unban_mail_says_why() {
        let mut e = ban();
        e.kind = Kind::Unban;
        e.reason = Some("bantime over".into());
        let mail = render(&single(e), &cfg(), &Whois::Off, now(), &TimeZone::UTC);
        assert!(mail.contains("Subject: [banjo] vpopmail: unbanned 192.0.2.7 on mail.example.org\n"));
        assert!(mail.contains(
            "lifted the ban of 192.0.2.7 in jail vpopmail at 2026-11-24 10:00:00 UTC: bantime over."
        ));
        assert!(!mail.contains("banjo unban"), "nothing to lift");
    }

    #[test]
    fn a_permanent_ban_says_so() {
        let mut e = ban();
        e.bantime = Some("permanent".into());
        e.until = Some("never".into());
        e.bans_before = Some(2);
        let mail = render(&single(e), &cfg(), &Whois::Off, now(), &TimeZone::UTC);
        assert!(
            mail.contains(
                "after 5 failures, for good (until an admin lifts it).\nIt had been banned 2 times before.\n"
            ),
            "{mail}"
        );
    }

    #[test]
    fn a_digest_says_how_many_it_holds() {
        let mut events = Vec::new();
        for n in 0..3u32 {
            let mut e = ban();
            e.id = format!("{n}.ab");
            e.target = format!("2001:db8::{n}").parse().unwrap();
            e.time = t("2026-11-24T10:00:00Z") + jiff::SignedDuration::from_secs(n as i64 * 60);
            e.lines.truncate(1);
            events.push(e);
        }
        let digest = Digest {
            jail: "vpopmail".into(),
            due: t("2026-11-24T10:10:00Z"),
            bans: 742,
            unbans: 0,
            events,
        };
        let job = MailJob {
            id: "0.ab.digest".into(),
            message: Message::Digest(digest),
            attempts: 0,
            not_before: None,
        };
        let mail = render(&job, &cfg(), &Whois::Off, now(), &TimeZone::UTC);
        let (headers, body) = split(&mail);
        assert!(
            headers.contains("Subject: [banjo] vpopmail: digest of 742 bans on mail.example.org\n"),
            "{headers}"
        );
        assert!(headers.ends_with("X-Banjo-Count: 742"), "{headers}");
        let expected = "\
banjo on mail.example.org, jail vpopmail: 742 bans between 2026-11-24 10:00:00 UTC and 2026-11-24 10:02:00 UTC.
Beyond 5 mails per 10m a jail's bans are collected into one mail like this one;
this digest holds 742 events.

  time                 event  address      failures  bantime  first line
  2026-11-24 10:00:00  ban    2001:db8::   5         1d       vchkpw-submission: password fail (pass: 'x') a@b.xy:192.0.2.7
  2026-11-24 10:01:00  ban    2001:db8::1  5         1d       vchkpw-submission: password fail (pass: 'x') a@b.xy:192.0.2.7
  2026-11-24 10:02:00  ban    2001:db8::2  5         1d       vchkpw-submission: password fail (pass: 'x') a@b.xy:192.0.2.7
  … and 739 more not listed (journalctl -u banjo JAIL=vpopmail).

The jail's bans now:  banjo banned vpopmail
Why one is banned:    banjo explain ADDRESS
Lift one:             banjo unban vpopmail ADDRESS
";
        assert!(body.starts_with(expected), "{body}");
    }
}
