//! The command line: one file per subcommand; this one parses and dispatches.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod ban;
pub mod check;
pub mod exit;
pub mod generate;
pub mod import_fail2ban;
pub mod notify;
pub mod metrics;
pub mod run;
pub mod status;
pub mod test_filter;

/// Where the config is read from unless --config says otherwise.
pub const DEFAULT_CONFIG: &str = "/etc/banjo/config.toml";

/// banjo: bans the addresses that fail to log in, from the journal straight into nftables.
#[derive(Debug, Parser)]
#[command(name = "banjo", version, about, long_about = None, propagate_version = true)]
#[command(after_long_help = exit::TEXT)]
pub struct Cli {
    /// The config file; config.d/*.toml beside it is read after it.
    #[arg(long, short = 'c', global = true, value_name = "PATH", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
    /// The control socket [default: $RUNTIME_DIRECTORY/banjo.sock, else /run/banjo/banjo.sock].
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: read the sources, count failures, ban in nftables.
    Run(run::Args),
    /// Validate the config and show each jail as banjo understands it.
    Check(check::Args),
    /// Run a filter over a log file, stdin or the journal and report what it matches.
    TestFilter(test_filter::Args),
    /// Show whether the daemon runs and its jails; with JAIL, that jail's counters and bans.
    Status(status::StatusArgs),
    /// One row per jail: failures found, addresses failing and banned now, bans so far.
    Stats(status::StatsArgs),
    /// List the banned addresses with their time left, in every jail or in JAIL.
    Banned(status::BannedArgs),
    /// Ban an address or network in a jail now.
    Ban(ban::BanArgs),
    /// Lift a ban, in one jail or in every jail; --all lifts every ban.
    Unban(ban::UnbanArgs),
    /// Read the config again, like SIGHUP; a config that does not validate is refused.
    Reload(ban::ReloadArgs),
    /// Why an address is or is not banned: per jail its failures, ignoreip, bans and time left.
    Explain(status::ExplainArgs),
    /// The daemon's counters in the Prometheus text format; --http answers one scrape.
    Metrics(metrics::Args),
    /// Turn a fail2ban directory's enabled jails into banjo's TOML, with a report of the changes.
    ImportFail2ban(import_fail2ban::Args),
    /// Mail bans and run commands on them, from banjo's records in the journal ([notify]).
    ///
    /// The service of banjo-notify.service: it follows banjo's ban and unban records in the
    /// journal with its own cursor (in $STATE_DIRECTORY, else /var/lib/banjo-notify), mails
    /// them through the local MTA's sendmail as [notify.mail] says (beyond digest_after mails
    /// per jail in digest_interval, as one digest per interval) and runs each
    /// [[notify.exec]] command with the ban's values as arguments. A restart, a crash or a
    /// reboot loses no mail, and repeats one only if it dies in the moment between sendmail's
    /// exit and the save (with the same Message-ID). SIGHUP reloads the config. Exit status
    /// 78: the config does not load.
    Notify(notify::Args),
    /// Write man pages or shell completions (for make install).
    #[command(hide = true)]
    Generate(generate::Args),
}

/// Exit codes: see [`exit`].
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(&cli.config, cli.socket.as_deref(), args),
        Command::Check(args) => check::run(&cli.config, args),
        Command::TestFilter(args) => test_filter::run(args, &cli.config),
        Command::Status(args) => return status::status(cli.socket.as_deref(), args),
        Command::Stats(args) => return status::stats(cli.socket.as_deref(), args),
        Command::Banned(args) => return status::banned(cli.socket.as_deref(), args),
        Command::Ban(args) => return ban::ban(cli.socket.as_deref(), args),
        Command::Unban(args) => return ban::unban(cli.socket.as_deref(), args),
        Command::Reload(args) => return ban::reload(cli.socket.as_deref(), args),
        Command::Explain(args) => return status::explain(cli.socket.as_deref(), args),
        Command::Metrics(args) => return metrics::metrics(cli.socket.as_deref(), args),
        Command::ImportFail2ban(args) => import_fail2ban::run(args),
        Command::Notify(args) => return notify::run(&cli.config, args),
        Command::Generate(args) => generate::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("banjo: {e:#}");
            ExitCode::from(exit::of_error(&e))
        }
    }
}
