//! The command line: one file per subcommand; this one parses and dispatches.
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod check;
pub mod run;
pub mod test_filter;

/// Where the config is read from unless --config says otherwise.
pub const DEFAULT_CONFIG: &str = "/etc/banjo/config.toml";

/// banjo: bans the addresses that fail to log in, from the journal straight into nftables.
#[derive(Debug, Parser)]
#[command(name = "banjo", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// The config file; config.d/*.toml beside it is read after it.
    #[arg(long, short = 'c', global = true, value_name = "PATH", default_value = DEFAULT_CONFIG)]
    pub config: PathBuf,
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
}

/// Exit codes: 0 success, 1 failure (bad config, unreadable input, …), 2 bad usage.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(&cli.config, args),
        Command::Check(args) => check::run(&cli.config, args),
        Command::TestFilter(args) => test_filter::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("banjo: {e:#}");
            ExitCode::FAILURE
        }
    }
}
