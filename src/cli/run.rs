//! `banjo run`: the daemon.
use std::path::Path;

use anyhow::{Result, bail};

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(config: &Path, _args: Args) -> Result<()> {
    let cfg = crate::config::load(config)?;
    cfg.require_jails()?;
    bail!(
        "{}: config is valid ({} jails), but the daemon (journal reader, ban ledger, nftables) is not built yet; \
         use `banjo check` and `banjo test-filter` meanwhile",
        config.display(),
        cfg.jails.len()
    )
}
