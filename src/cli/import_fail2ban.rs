//! `banjo import-fail2ban [DIR]`: fail2ban's enabled jails as banjo's TOML, on stdout or in
//! `-o FILE`, and a report on stderr (carried, changed meaning, what the admin must do).
//! Nothing is written when the fail2ban directory has an error.
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::fail2ban::{self, Disk, Stock};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// fail2ban's configuration directory.
    #[arg(value_name = "DIR", default_value = "/etc/fail2ban")]
    pub dir: PathBuf,
    /// Write the TOML here (e.g. /etc/banjo/config.d/50-fail2ban.toml) instead of to stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let stock = Stock::builtin().with_dpkg_status(&fail2ban_status());
    let import = match fail2ban::import(&Disk, &args.dir, &stock) {
        Ok(import) => import,
        Err(problems) => {
            for p in &problems {
                eprintln!("banjo: {p}");
            }
            bail!(
                "{} problem(s) in {}; nothing written",
                problems.len(),
                args.dir.display()
            );
        }
    };
    match &args.output {
        None => print!("{}", import.toml),
        Some(path) => {
            crate::state::write_atomically(path, import.toml.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
                .with_context(|| format!("chmod 644 {}", path.display()))?;
        }
    }
    eprint!("{}", import.report.text());
    if let Some(path) = &args.output {
        eprintln!(
            "written: {}; next: `banjo check`, then `systemctl reload banjo`",
            path.display()
        );
    }
    Ok(())
}

/// fail2ban's entry in dpkg's database, as `dpkg-query --status` prints it: the md5 of each
/// conffile as the package shipped it. dpkg's database is dpkg's own (lintian's
/// uses-dpkg-database-directly), so it is asked, not read. Empty when fail2ban is not
/// installed or there is no dpkg: then only the files banjo knows are told as stock.
fn fail2ban_status() -> String {
    let asked = Command::new("dpkg-query")
        .args(["--status", "fail2ban"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match asked {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
        _ => String::new(),
    }
}
