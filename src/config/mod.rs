//! banjo's configuration: figment layers (config file < config.d/*.toml < `BANJO_…` variables),
//! the schema, validation and messages that name the file, the key, the value and the fix.
//! Reads config files and nothing else; filters are resolved through `crate::filter`.
//!
//! ```toml
//! [defaults]
//! bantime = "1d"
//!
//! [jails.dovecot-imap]
//! filter = "dovecot"
//! journal = ["_SYSTEMD_UNIT=dovecot.service"]
//! ports = [993, 995]
//! ```

mod duration;
mod error;
mod layers;
mod net;
pub mod notify;
pub mod reference;
mod resolve;
pub(crate) mod schema;
mod values;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use duration::{BanTime, Compact, check_ban_length, longest_ban_text, parse_duration};
pub use error::{ConfigError, EXAMPLE_CONFIG, Origin};
pub use layers::{ENV_PREFIX, ENV_SPLIT};
pub use net::IgnoreIp;
pub use values::{
    BlockType, BlocklistScope, Family, Hook, JournalMatch, LogLevel, MultilogSource, NotifyEvent, PortRange,
    Protocol, SERVICES, UseDns, section_name,
};

use crate::filter::FilterDef;
use crate::name::JailName;

/// Where banjo looks for its configuration when `--config` is not given.
pub const DEFAULT_PATH: &str = "/etc/banjo/config.toml";

/// The validated configuration the rest of banjo uses.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub daemon: Daemon,
    /// Enabled jails, defaults applied, sorted by name.
    pub jails: Vec<Jail>,
    /// Names of the jails with `enabled = false` (checked for typos, not loaded).
    pub disabled_jails: Vec<String>,
    /// The `[filters.NAME]` sections.
    pub filters: BTreeMap<String, FilterDef>,
    /// `[notify]`: banjo-notify's mails and commands (the daemon ignores it).
    pub notify: notify::Notify,
    /// `[blocklist]`: list files of addresses and networks banned for good.
    pub blocklist: Option<Blocklist>,
    /// The files read, in the order they were layered.
    pub files: Vec<PathBuf>,
    /// Files in config.d/ that were not read because their name does not end in `.toml`.
    pub ignored_files: Vec<PathBuf>,
    /// The config file's directory: relative filter file paths start here.
    pub base_dir: PathBuf,
}

/// `[daemon]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daemon {
    pub loglevel: LogLevel,
    /// The nftables table banjo owns.
    pub table: String,
    /// Remove the table when banjo stops; by default it stays and the kernel expires bans.
    pub flush_on_stop: bool,
    /// `None`: the caller uses $STATE_DIRECTORY, else /var/lib/banjo.
    pub state_dir: Option<PathBuf>,
    /// `None`: the caller uses $RUNTIME_DIRECTORY, else /run/banjo.
    pub runtime_dir: Option<PathBuf>,
    /// Members may ban, unban and reload through the control socket (root always may).
    pub admin_group: Option<String>,
    /// Members may query status, stats, banned and explain.
    pub read_group: Option<String>,
}

impl Default for Daemon {
    fn default() -> Self {
        Daemon {
            loglevel: LogLevel::Info,
            table: "banjo".to_string(),
            flush_on_stop: false,
            state_dir: None,
            runtime_dir: None,
            admin_group: None,
            read_group: None,
        }
    }
}

/// One enabled jail, every setting resolved (jail > [defaults] > built-in).
#[derive(Debug, Clone, PartialEq)]
pub struct Jail {
    pub name: JailName,
    /// The filter as written (`"sshd[mode=aggressive]"`); the jail's name when not set.
    pub filter: String,
    /// The filter it names, resolved (and known to compile).
    pub filter_def: FilterDef,
    pub maxretry: u32,
    pub findtime: Duration,
    pub bantime: BanTime,
    pub ignoreip: Vec<IgnoreIp>,
    pub ignoreself: bool,
    pub usedns: UseDns,
    /// Empty: all ports.
    pub ports: Vec<PortRange>,
    pub protocols: Vec<Protocol>,
    pub hook: Hook,
    pub family: Family,
    pub blocktype: BlockType,
    /// Addresses with failures kept before the oldest are evicted.
    pub maxtracked: usize,
    /// IPv6 failures are counted, and banned, by the network of this many bits: 64 counts
    /// every address of a /64 as one attacker; 128 counts each address alone.
    pub ipv6_prefix: u8,
    /// When bans of several narrower networks make a wider one.
    pub widen: Widen,
    /// fail2ban's `bantime.increment`, when enabled.
    pub increment: Option<Increment>,
    /// Journal matches in effect: the jail's `journal`, else its filter's `journalmatch`;
    /// empty when the jail reads multilog.
    pub journal: Vec<JournalMatch>,
    /// Whether `journal` is the jail's own or its filter's default.
    pub journal_from: JournalFrom,
    pub multilog: Option<MultilogSource>,
    /// Where the jail's section was first written.
    pub origin: Origin,
}

/// Adaptive prefix bans: when `after` distinct networks (or IPv4 addresses) inside the next
/// wider one were banned within `within`, the wider one is banned instead, up to the widest
/// prefix of the family. The steps: an IPv6 ban narrower than /64 widens to its /64, a /64 or
/// wider one by 8 bits (/56, /48, …); IPv4 by 8 bits (/32 → /24 → /16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Widen {
    /// The widest IPv6 ban (48); no wider than `ipv6_prefix`: never widen.
    pub ipv6_widest: u8,
    /// The widest IPv4 ban (32: never widen).
    pub ipv4_widest: u8,
    /// Distinct narrower bans inside a wider network that make banjo ban the wider one.
    pub after: u32,
    /// How far back those bans may have started.
    pub within: Duration,
}

impl Widen {
    /// The widest prefix bans of this family may grow to.
    pub fn widest(&self, ipv6: bool) -> u8 {
        if ipv6 { self.ipv6_widest } else { self.ipv4_widest }
    }
}

/// `[blocklist]`: files of addresses and networks, banned for good in a set of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocklist {
    /// Absolute paths, read at start and on reload.
    pub files: Vec<PathBuf>,
    /// What the listed sources may not reach.
    pub scope: BlocklistScope,
}

/// Where a jail's journal matches come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JournalFrom {
    /// The jail's own `journal = [...]` (and multilog jails, which have none).
    Jail,
    /// The filter's `journalmatch`: the jail sets neither `journal` nor `multilog`.
    Filter,
}

/// fail2ban's `bantime.increment` family: repeat offenders get longer bans.
#[derive(Debug, Clone, PartialEq)]
pub struct Increment {
    /// `bantime.factor`.
    pub factor: f64,
    /// `bantime.multipliers`; empty means the factor formula.
    pub multipliers: Vec<u32>,
    /// `bantime.maxtime`: no ban grows longer than this.
    pub maxtime: Option<Duration>,
    /// `bantime.rndtime`: up to this much random extra time.
    pub rndtime: Duration,
    /// `bantime.overalljails`: count bans from every jail, not only this one.
    pub overalljails: bool,
}

impl Config {
    /// An error when there is nothing to run: no jail is enabled.
    pub fn require_jails(&self) -> Result<(), ConfigError> {
        if !self.jails.is_empty() {
            return Ok(());
        }
        Err(ConfigError::NoJails {
            path: self.files.first().cloned().unwrap_or_else(|| DEFAULT_PATH.into()),
            disabled: self.disabled_jails.clone(),
        })
    }

    /// The enabled jail called `name`.
    pub fn jail(&self, name: &str) -> Option<&Jail> {
        self.jails.iter().find(|j| j.name == name)
    }
}

/// Loads `path`, its config.d/ and the process's `BANJO_…` environment variables.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let env = std::env::vars_os()
        .map(|(k, v)| (k.to_string_lossy().into_owned(), v.to_string_lossy().into_owned()));
    load_with_env(path, env)
}

/// Like [`load`], with the environment given as (name, value) pairs instead of read from the
/// process (tests, `banjo check` of another host's settings).
pub fn load_with_env<I>(path: &Path, env: I) -> Result<Config, ConfigError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let (files, ignored) = layers::read_files(path)?;
    build(path, &files, ignored, env)
}

/// One config text alone: no config.d/, no environment. `path` is only used in messages and
/// for relative filter paths. For fuzzing and for tools that hold the text already.
pub fn from_toml(path: &Path, text: &str) -> Result<Config, ConfigError> {
    let file = layers::TomlFile {
        path: path.to_path_buf(),
        text: text.to_string(),
    };
    layers::check_file(&file)?;
    build(path, &[file], vec![], std::iter::empty())
}

fn build<I>(
    path: &Path,
    files: &[layers::TomlFile],
    ignored: Vec<PathBuf>,
    env: I,
) -> Result<Config, ConfigError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let figment = layers::figment(files, env);
    let base_dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let paths = files.iter().map(|f| f.path.clone()).collect();
    resolve::Walk::new(&figment, &base_dir).run(paths, ignored)
}
