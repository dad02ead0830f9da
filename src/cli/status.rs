//! `banjo status [JAIL]`, `stats`, `banned [JAIL]`, `explain ADDR`: the read-only questions to
//! the running daemon, answered as tables (or `--json`, the protocol's data as is). Also the
//! helpers the other control commands (cli/ban.rs) share: the client, output, exit codes.
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::exit;
use crate::addr::Target;
use crate::config::Compact;
use crate::control::{
    BannedAddr, BlocklistStatus, Client, ClientError, Command, Explain, JailExplain, JailStats, JailStatus,
    Status,
};

#[derive(Debug, clap::Args)]
#[command(after_long_help = exit::TEXT)]
pub struct StatusArgs {
    /// Show this jail in detail: failures, bans and the addresses banned with their time left.
    pub jail: Option<String>,
    /// Print the daemon's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_long_help = exit::TEXT)]
pub struct StatsArgs {
    /// Print the daemon's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_long_help = exit::TEXT)]
pub struct BannedArgs {
    /// Only the bans of this jail.
    pub jail: Option<String>,
    /// Print the daemon's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
#[command(after_long_help = exit::TEXT)]
pub struct ExplainArgs {
    /// The address (or network) to explain, e.g. 192.0.2.7 or 2001:db8::1.
    pub addr: Target,
    /// Print the daemon's answer as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `banjo status [JAIL]`.
pub fn status(socket: Option<&Path>, args: StatusArgs) -> ExitCode {
    let client = client(socket);
    finish(match &args.jail {
        None => client
            .call_as::<Status>(Command::Status {})
            .map(|s| show(args.json, &s, describe_status)),
        Some(jail) => client
            .call_as::<JailStatus>(Command::JailStatus { jail: jail.clone() })
            .map(|s| show(args.json, &s, describe_jail)),
    })
}

/// `banjo stats`.
pub fn stats(socket: Option<&Path>, args: StatsArgs) -> ExitCode {
    finish(
        client(socket)
            .call_as::<Vec<JailStats>>(Command::Stats {})
            .map(|rows| show(args.json, &rows, |r| describe_stats(r))),
    )
}

/// `banjo banned [JAIL]`.
pub fn banned(socket: Option<&Path>, args: BannedArgs) -> ExitCode {
    let command = Command::Banned {
        jail: args.jail.clone(),
    };
    finish(
        client(socket)
            .call_as::<Vec<BannedAddr>>(command)
            .map(|bans| show(args.json, &bans, |b| describe_banned(b, args.jail.as_deref()))),
    )
}

/// `banjo explain ADDR`.
pub fn explain(socket: Option<&Path>, args: ExplainArgs) -> ExitCode {
    finish(
        client(socket)
            .call_as::<Explain>(Command::Explain { addr: args.addr })
            .map(|e| show(args.json, &e, describe_explain)),
    )
}

/// The client for `--socket`, else the default socket.
pub(super) fn client(socket: Option<&Path>) -> Client {
    Client::new(crate::control::socket_path(socket, None))
}

/// The exit code of a control command, its error printed.
pub(super) fn finish(result: Result<(), ClientError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ ClientError::NotRunning { .. }) => {
            eprintln!("{e}");
            ExitCode::from(exit::of_client(&e))
        }
        Err(e) => {
            eprintln!("banjo: {e}");
            ExitCode::from(exit::of_client(&e))
        }
    }
}

/// A usage error found after parsing (clap's exit code 2).
pub(super) fn usage(message: &str) -> ExitCode {
    eprintln!("banjo: {message}");
    ExitCode::from(exit::USAGE)
}

/// Prints `data` as JSON, or as `describe` words it.
pub(super) fn show<T: Serialize>(json: bool, data: &T, describe: impl Fn(&T) -> String) {
    let text = if json {
        serde_json::to_string_pretty(data).unwrap_or_default() + "\n"
    } else {
        describe(data)
    };
    // A closed pipe (`banjo banned | head`) is not an error.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// A time in the local time zone, to the second.
pub(super) fn local(t: Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::system())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// Time left: "59m12s", or "permanent".
pub(super) fn left(secs: Option<u64>) -> String {
    secs.map_or("permanent".to_string(), |s| {
        Compact(Duration::from_secs(s)).to_string()
    })
}

/// "until 2025-03-01 13:00:00", or "permanent".
fn until(b: &BannedAddr) -> String {
    b.until.map_or("never".to_string(), local)
}

/// Left-aligned columns, two spaces apart; the last column is not padded.
fn table(headers: &[&str], rows: &[Vec<String>], indent: &str) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let headers: Vec<String> = headers.iter().map(ToString::to_string).collect();
    for row in std::iter::once(&headers).chain(rows) {
        let mut line = indent.to_string();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:w$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn describe_status(s: &Status) -> String {
    let mut out = format!(
        "banjo {} is running: pid {}, up {} (since {})\n",
        s.version,
        s.pid,
        Compact(Duration::from_secs(s.uptime)),
        local(s.started)
    );
    if s.jails.is_empty() {
        out.push_str("no jail is enabled\n");
        return out;
    }
    let _ = writeln!(out, "{} jail{}:", s.jails.len(), plural(s.jails.len()));
    let rows: Vec<Vec<String>> = s
        .jails
        .iter()
        .map(|j| {
            let banned = match j.refused {
                0 => j.banned.to_string(),
                n => format!("{} ({n} NOT blocked)", j.banned),
            };
            vec![j.jail.clone(), banned, j.sources.join("; ")]
        })
        .collect();
    out += &table(&["JAIL", "BANNED", "SOURCES"], &rows, "  ");
    if s.jails.iter().any(|j| j.refused > 0) {
        out.push_str("nftables refused some bans (banjo keeps trying them): see banjo status JAIL\n");
    }
    if let Some(b) = &s.blocklist {
        out += &describe_blocklist(b);
    }
    out
}

fn describe_blocklist(b: &BlocklistStatus) -> String {
    let mut out = format!(
        "blocklist: {} network{} and address{} blocked for good\n",
        b.blocked,
        plural(b.blocked),
        if b.blocked == 1 { "" } else { "es" }
    );
    for f in &b.files {
        let _ = write!(
            out,
            "  {}: {} entr{}",
            f.path,
            f.entries,
            if f.entries == 1 { "y" } else { "ies" }
        );
        if f.bad_lines > 0 {
            let _ = write!(
                out,
                ", {} bad line{} skipped (see the journal)",
                f.bad_lines,
                plural(f.bad_lines)
            );
        }
        if let Some(e) = &f.error {
            let _ = write!(out, "; NOT read again: {e}");
        }
        out.push('\n');
    }
    out
}

/// A network ban's addresses seen and its note, indented.
fn ban_details(b: &BannedAddr, indent: &str) -> String {
    let mut out = String::new();
    if !b.seen.is_empty() {
        let seen: Vec<String> = b.seen.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, "{indent}{} seen in it: {}", b.addr, seen.join(" "));
    }
    if let Some(note) = &b.note {
        let _ = writeln!(out, "{indent}{}: {note}", b.addr);
    }
    out
}

/// A line per ban nftables refused: the address is recorded but not blocked.
fn refusals(bans: &[BannedAddr], indent: &str) -> String {
    let mut out = String::new();
    for b in bans {
        if let Some(why) = &b.refused {
            let _ = writeln!(
                out,
                "{indent}{} in {} is NOT blocked: {why} (banjo keeps trying)",
                b.addr, b.jail
            );
        }
    }
    out
}

fn describe_jail(s: &JailStatus) -> String {
    let mut out = format!("jail {}\n", s.jail);
    let fields = [
        ("filter", s.filter.clone()),
        ("sources", s.sources.join("; ")),
        ("hook", format!("{} ({})", s.hook, s.family)),
        ("currently failed", s.currently_failed.to_string()),
        ("total failed", s.total_failed.to_string()),
        ("currently banned", s.currently_banned.to_string()),
        ("total banned", s.total_banned.to_string()),
    ];
    for (name, value) in fields {
        let _ = writeln!(out, "  {:<18}{value}", format!("{name}:"));
    }
    if let Some(m) = &s.multiline {
        let value = format!(
            "{} open, {} evicted (cap reached), {} expired",
            m.connections, m.evicted, m.expired
        );
        let _ = writeln!(out, "  {:<18}{value}", "connections:");
    }
    if s.banned.is_empty() {
        return out;
    }
    out.push_str("  banned:\n");
    let rows: Vec<Vec<String>> = s
        .banned
        .iter()
        .map(|b| vec![b.addr.to_string(), left(b.left), until(b), local(b.since)])
        .collect();
    out += &table(&["ADDRESS", "LEFT", "UNTIL", "SINCE"], &rows, "    ");
    for b in &s.banned {
        out += &ban_details(b, "    ");
    }
    out + &refusals(&s.banned, "  ")
}

fn describe_stats(rows: &[JailStats]) -> String {
    if rows.is_empty() {
        return "no jail is enabled\n".to_string();
    }
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.jail.clone(),
                r.found.to_string(),
                r.currently_failed.to_string(),
                r.banned.to_string(),
                r.total_banned.to_string(),
                r.sources.join("; "),
            ]
        })
        .collect();
    table(
        &["JAIL", "FOUND", "FAILING", "BANNED", "TOTAL-BANNED", "SOURCES"],
        &rows,
        "",
    )
}

fn describe_banned(bans: &[BannedAddr], jail: Option<&str>) -> String {
    if bans.is_empty() {
        return match jail {
            Some(j) => format!("nothing is banned in {j}\n"),
            None => "nothing is banned\n".to_string(),
        };
    }
    let rows: Vec<Vec<String>> = bans
        .iter()
        .map(|b| {
            vec![
                b.jail.clone(),
                b.addr.to_string(),
                left(b.left),
                until(b),
                local(b.since),
            ]
        })
        .collect();
    table(&["JAIL", "ADDRESS", "LEFT", "UNTIL", "SINCE"], &rows, "") + &refusals(bans, "")
}

fn describe_explain(e: &Explain) -> String {
    let banned: Vec<&str> = e
        .jails
        .iter()
        .filter(|j| j.ban.is_some())
        .map(|j| j.jail.as_str())
        .collect();
    let mut out = if banned.is_empty() {
        format!("{} is not banned\n", e.addr)
    } else {
        format!("{} is banned in {}\n", e.addr, banned.join(", "))
    };
    for entry in &e.blocklist {
        let _ = writeln!(out, "blocked for good by the blocklist: {entry}");
    }
    if e.jails.is_empty() {
        out.push_str("no jail is enabled\n");
    }
    for j in &e.jails {
        out.push_str(&describe_jail_explain(j, &e.addr));
    }
    out
}

fn describe_jail_explain(j: &JailExplain, addr: &Target) -> String {
    let mut out = format!("{}:\n", j.jail);
    if let Some(reason) = &j.ignored {
        let _ = writeln!(out, "  ignored: {reason}");
    }
    if let Some(net) = &j.counted_as {
        let _ = writeln!(out, "  its failures are counted under {net} (ipv6_prefix)");
    }
    match &j.ban {
        Some(b) => {
            let _ = writeln!(
                out,
                "  banned since {}, {} left (until {}), after {} failure{}",
                local(b.since),
                left(b.left),
                until(b),
                b.failures,
                plural(b.failures as usize)
            );
            if b.addr != *addr {
                let _ = writeln!(out, "  by the ban of {}", b.addr);
            }
            out += &ban_details(b, "  ");
            if let Some(why) = &b.refused {
                let _ = writeln!(
                    out,
                    "  NOT blocked: nftables refused it: {why} (banjo keeps trying)"
                );
            }
        }
        None => out.push_str("  not banned\n"),
    }
    let findtime = Compact(Duration::from_secs(j.findtime));
    let _ = writeln!(
        out,
        "  failures within {findtime}: {} of maxretry {}",
        j.failures.len(),
        j.maxretry
    );
    for f in &j.failures {
        let _ = writeln!(out, "    {}  {}", local(f.time), f.line);
    }
    let next = j.next_bantime.map_or("permanent".to_string(), |s| {
        Compact(Duration::from_secs(s)).to_string()
    });
    let _ = writeln!(
        out,
        "  {} ban{} so far (what escalation counts); a next ban would last {next}",
        j.ban_count,
        plural(j.ban_count as usize)
    );
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_pads_all_but_the_last_column() {
        let rows = vec![vec!["sshd".to_string(), "3".into(), "journal x".into()]];
        let t = table(&["JAIL", "BANNED", "SOURCES"], &rows, "");
        assert_eq!(t, "JAIL  BANNED  SOURCES\nsshd  3       journal x\n");
    }

    #[test]
    fn left_is_compact_or_permanent() {
        assert_eq!(left(Some(3552)), "59m12s");
        assert_eq!(left(None), "permanent");
    }
}
