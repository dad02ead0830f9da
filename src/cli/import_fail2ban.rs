//! `banjo import-fail2ban [DIR]`: fail2ban's enabled jails as banjo's TOML, on stdout or in
//! `-o FILE`, and a report on stderr (carried, changed meaning, what the admin must do).
//! Nothing is written when the fail2ban directory has an error.
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

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
    let stock = Stock::builtin().with_conffiles(&fail2ban_conffiles());
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

/// fail2ban's conffiles with the MD5 each had as the package shipped it, as dpkg recorded them
/// on this host; empty where fail2ban is not installed or there is no dpkg. dpkg-query, not
/// dpkg's database files: their layout is dpkg's own business.
fn fail2ban_conffiles() -> String {
    std::process::Command::new("dpkg-query")
        .args(["--show", "--showformat=${Conffiles}\n", "fail2ban"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}
