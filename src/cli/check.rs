//! `banjo check`: validate the config and show each jail as banjo understands it.
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;

use crate::addrlist::AddrList;
use crate::config::notify::Notify;
use crate::config::{Compact, Config, IgnoreIp, Jail, JournalFrom, MultilogSource};
use crate::filter::Filter;
use crate::source::journal::Route;

#[derive(Debug, clap::Args)]
#[command(after_long_help = super::exit::TEXT)]
pub struct Args {}

/// Exit 0 with the jails printed, or 78 (EX_CONFIG) with every problem found (see cli::exit).
pub fn run(config: &Path, _args: Args) -> Result<()> {
    let cfg = crate::config::load(config)?;
    cfg.require_jails()?;
    print!("{}", describe(&cfg)?);
    Ok(())
}

/// The report `banjo check` prints: files read, each jail, warnings, a summary line.
pub fn describe(cfg: &Config) -> Result<String> {
    let mut out = String::new();
    let files: Vec<String> = cfg.files.iter().map(|f| f.display().to_string()).collect();
    writeln!(out, "config: {}", files.join(" + "))?;
    for f in &cfg.ignored_files {
        writeln!(
            out,
            "note: {} not read (config.d/ reads *.toml only)",
            f.display()
        )?;
    }
    let mut warnings = 0;
    for jail in &cfg.jails {
        writeln!(out)?;
        warnings += jail_section(&mut out, jail)?;
    }
    if !cfg.disabled_jails.is_empty() {
        writeln!(out, "\ndisabled: {}", cfg.disabled_jails.join(", "))?;
    }
    if let Some(list) = &cfg.blocklist {
        writeln!(out, "\n[blocklist] scope {}", list.scope.as_str())?;
        for path in &list.files {
            warnings += list_file(&mut out, "blocks", path)?;
        }
    }
    if cfg.notify.is_configured() {
        writeln!(out)?;
        warnings += notify_section(&mut out, &cfg.notify)?;
    }
    writeln!(
        out,
        "\nOK: {} jail{} enabled{}",
        cfg.jails.len(),
        if cfg.jails.len() == 1 { "" } else { "s" },
        if warnings > 0 {
            format!(", {warnings} warning(s)")
        } else {
            String::new()
        }
    )?;
    Ok(out)
}

fn jail_section(out: &mut String, jail: &Jail) -> Result<usize> {
    let def = &jail.filter_def;
    writeln!(out, "[jails.{}]", jail.name)?;
    writeln!(
        out,
        "  filter     {} ({}): {} failregex, {} ignoreregex{}",
        jail.filter,
        def.origin,
        def.failregex.len(),
        def.ignoreregex.len(),
        if def.prefregex.is_some() {
            ", prefregex"
        } else {
            ""
        }
    )?;
    let source = match &jail.multilog {
        Some(MultilogSource::FdName(n)) => format!("multilog fd named {n:?} (FileDescriptorName=)"),
        Some(MultilogSource::Fifo(p)) => format!("multilog FIFO {}", p.display()),
        None => format!(
            "journal {}{}",
            join(&jail.journal, " "),
            match jail.journal_from {
                JournalFrom::Filter => " (the filter's journalmatch: the jail sets no journal)",
                JournalFrom::Jail => "",
            }
        ),
    };
    writeln!(out, "  source     {source}")?;
    if jail.multilog.is_none() {
        let words: Vec<String> = jail.journal.iter().map(ToString::to_string).collect();
        if let Ok(route) = Route::new(&words) {
            writeln!(out, "  reads      entries with {route}")?;
        }
    }
    let ports = if jail.ports.is_empty() {
        "all".to_string()
    } else {
        join(&jail.ports, ",")
    };
    writeln!(
        out,
        "  blocks     ports {ports}, protocols {}, hook {} ({}), {}",
        join(&jail.protocols, ","),
        jail.hook,
        jail.family,
        jail.blocktype
    )?;
    writeln!(
        out,
        "  bans       after {} failures within {}, for {}{}",
        jail.maxretry,
        crate::config::Compact(jail.findtime),
        jail.bantime,
        match &jail.increment {
            Some(i) if i.multipliers.is_empty() =>
                format!(", longer for repeat offenders (factor {})", i.factor),
            Some(i) => format!(
                ", longer for repeat offenders (multipliers {})",
                join(&i.multipliers, " ")
            ),
            None => String::new(),
        }
    )?;
    let ignore = if jail.ignoreip.is_empty() {
        "none".to_string()
    } else {
        join(&jail.ignoreip, " ")
    };
    writeln!(
        out,
        "  ignoreip   {ignore}{}",
        if jail.ignoreself {
            " + this host's addresses"
        } else {
            ""
        }
    )?;
    let mut list_warnings = 0;
    for entry in &jail.ignoreip {
        if let IgnoreIp::File(path) = entry {
            list_warnings += list_file(out, "ignores", path)?;
        }
    }
    let widest = |w: u8, from: u8| {
        if w >= from {
            "off".to_string()
        } else {
            format!("up to /{w}")
        }
    };
    writeln!(
        out,
        "  prefixes   IPv6 counted and banned by /{}; {} bans in one wider network within {} widen: IPv6 {}, IPv4 {}",
        jail.ipv6_prefix,
        jail.widen.after,
        crate::config::Compact(jail.widen.within),
        widest(jail.widen.ipv6_widest, jail.ipv6_prefix),
        widest(jail.widen.ipv4_widest, 32)
    )?;
    let warnings = Filter::compile(def).map(|f| f.warnings()).unwrap_or_default();
    for w in &warnings {
        writeln!(out, "  warning:   {w}")?;
    }
    Ok(warnings.len() + list_warnings)
}

/// A list file as the daemon would read it now: its entries, and each bad line as a warning
/// (the daemon skips them); a file it cannot read is a warning too (it ignores or blocks
/// nothing from it until it can).
fn list_file(out: &mut String, verb: &str, path: &Path) -> Result<usize> {
    match AddrList::read(path) {
        Ok(list) => {
            writeln!(
                out,
                "  list       {} {verb} {} address(es) and network(s)",
                path.display(),
                list.entries.len()
            )?;
            for bad in &list.bad {
                writeln!(out, "  warning:   {bad}")?;
            }
            Ok(list.bad.len())
        }
        Err(e) => {
            writeln!(out, "  warning:   {e}")?;
            Ok(1)
        }
    }
}

/// `[notify]` as banjo-notify will act on it; a program that is not installed is a warning.
fn notify_section(out: &mut String, notify: &Notify) -> Result<usize> {
    let mut warnings = 0;
    writeln!(out, "[notify] (banjo notify, banjo-notify.service)")?;
    if let Some(m) = &notify.mail {
        writeln!(
            out,
            "  mail       {} of {} to {}, from \"{}\" <{}>",
            join(&m.events, "/"),
            m.jails,
            m.dest.join(", "),
            m.sender_name,
            m.sender
        )?;
        writeln!(
            out,
            "             via {} (timeout {}, {} retries), whois {}",
            m.command,
            Compact(m.timeout),
            m.retries,
            if m.whois {
                format!("when installed (timeout {})", Compact(m.whois_timeout))
            } else {
                "off".into()
            }
        )?;
        let digest = match m.digest_after {
            0 => format!(
                "every ban goes into a digest mail every {}",
                Compact(m.digest_interval)
            ),
            n => format!(
                "beyond {n} mails per jail in {}, bans go into one digest per {}",
                Compact(m.digest_interval),
                Compact(m.digest_interval)
            ),
        };
        writeln!(out, "             {digest}")?;
        warnings += missing_program(
            out,
            &m.command.program(),
            "install an MTA (exim4, postfix, qmail…) or set command",
        )?;
    }
    for e in &notify.exec {
        writeln!(
            out,
            "  exec       {}: on {} of {}: {} (timeout {}, {} retries)",
            e.name,
            join(&e.events, "/"),
            e.jails,
            e.command,
            Compact(e.timeout),
            e.retries
        )?;
        warnings += missing_program(out, &e.command.program(), "install it or fix the path")?;
    }
    Ok(warnings)
}

/// A warning line when `program` is neither an executable path nor found in PATH.
fn missing_program(out: &mut String, program: &str, fix: &str) -> Result<usize> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    let found = if program.contains('/') {
        executable(Path::new(program))
    } else {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| executable(&dir.join(program))))
    };
    if found {
        return Ok(0);
    }
    writeln!(out, "  warning:   {program} is not installed here: {fix}")?;
    Ok(1)
}

fn join<T: std::fmt::Display>(items: &[T], sep: &str) -> String {
    items.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(sep)
}
