//! `banjo generate man DIR`, `banjo generate completions DIR`, `banjo generate config-man DIR`
//! (hidden): man pages and shell completions from the clap definitions, and banjo.toml(5) from
//! the config reference (`config::reference`, held to the schema by its tests), so they are
//! never written twice. `make install` calls them.
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub what: What,
}

#[derive(Debug, clap::Subcommand)]
pub enum What {
    /// Write banjo.8 and one banjo-COMMAND.8 per subcommand into DIR.
    Man { dir: PathBuf },
    /// Write completions for bash (banjo.bash), zsh (_banjo) and fish (banjo.fish) into DIR.
    Completions { dir: PathBuf },
    /// Write banjo.toml.5, the configuration's reference, into DIR.
    ConfigMan { dir: PathBuf },
}

pub fn run(args: Args) -> Result<()> {
    let written = match &args.what {
        What::Man { dir } => man(dir),
        What::Completions { dir } => completions(dir),
        What::ConfigMan { dir } => config_man(dir),
    }?;
    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}

/// The man pages, section 8 (banjo is an admin's tool); returns the files written.
pub fn man(dir: &Path) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    man_pages(cmd, dir, &mut written).with_context(|| format!("writing man pages in {}", dir.display()))?;
    Ok(written)
}

fn man_pages(cmd: clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
        man_pages(sub, dir, written)?;
    }
    let page = clap_mangen::Man::new(cmd).section("8").manual("banjo");
    written.push(page.generate_to(dir)?);
    Ok(())
}

/// banjo.toml(5); returns the file written.
pub fn config_man(dir: &Path) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("banjo.toml.5");
    let page = crate::config::reference::man_page(env!("CARGO_PKG_VERSION"));
    fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
    Ok(vec![path])
}

/// Completions for bash, zsh and fish; returns the files written.
pub fn completions(dir: &Path) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut cmd = Cli::command();
    [Shell::Bash, Shell::Zsh, Shell::Fish]
        .into_iter()
        .map(|shell| {
            clap_complete::generate_to(shell, &mut cmd, "banjo", dir)
                .with_context(|| format!("writing {shell} completions in {}", dir.display()))
        })
        .collect()
}
