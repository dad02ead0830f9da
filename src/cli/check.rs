//! `banjo check`: validate the config and print each jail.
use std::path::Path;

use anyhow::Result;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(config: &Path, _args: Args) -> Result<()> {
    let cfg = crate::config::load(config)?;
    cfg.require_jails()?;
    Ok(())
}
