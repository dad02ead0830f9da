//! `banjo run`: the daemon (see crate::daemon).
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::daemon::{self, log::LogTarget};

#[derive(Debug, clap::Args)]
#[command(after_long_help = super::exit::TEXT)]
pub struct Args {
    /// Where log and audit records go.
    #[arg(long, value_enum, default_value = "auto")]
    pub log: LogTarget,
    /// Read the journal files in this directory instead of the system journal (like journalctl -D).
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
}

pub fn run(config: &Path, socket: Option<&Path>, args: Args) -> Result<()> {
    let opts = daemon::Options {
        log: args.log,
        journal_dir: args.journal_dir,
        socket: socket.map(Path::to_path_buf),
    };
    daemon::run(config, opts)
}
