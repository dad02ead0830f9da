//! `[blocklist]`: the list files read (at start and on reload) into the networks banned for
//! good in sets of their own (`_blocklist-v4`, `-v6`, `-net4`, `-net6`; a jail's name
//! starts with a letter or digit, so none can take these). The entries never enter the
//! ledger or bans.json: the files are their record, and every reconcile puts them back.
//!
//! Reading is forgiving: a bad line is logged with file and line and skipped; a file that
//! cannot be read on reload keeps the entries it had (logged), so a half-written download
//! never lifts a blocklist; at start it blocks nothing until it can be read.

use std::path::PathBuf;
use std::time::Instant;

use crate::addr::Target;
use crate::addrlist::{self, AddrList};
use crate::ban::Change;
use crate::config::{self, BlocklistScope, Config};
use crate::control::{BlocklistFile, BlocklistStatus};
use crate::firewall::{BlockType, Family, Hook, JailRules};
use crate::name::JailName;

/// The name the blocklist's sets and rules carry where a jail's name would be.
pub const NAME: &str = "_blocklist";

/// One list file as last read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListFile {
    pub path: PathBuf,
    pub entries: Vec<Target>,
    /// Lines skipped at the last read.
    pub bad_lines: usize,
    /// Why the last read failed, when it did (the entries are those of the read before).
    pub error: Option<String>,
}

/// The blocklist as the daemon holds it.
#[derive(Debug, Clone, Default)]
pub struct Blocklist {
    pub files: Vec<ListFile>,
    pub scope: Option<BlocklistScope>,
    /// The entries of every file, nested ones left out (what the sets hold).
    entries: Vec<Target>,
}

impl Blocklist {
    /// Reads the config's list files; a file that cannot be read keeps what `self` had of it.
    pub fn reload(&mut self, cfg: &Config) {
        let Some(list) = &cfg.blocklist else {
            if !self.files.is_empty() {
                tracing::info!("blocklist: no [blocklist] any more, its entries lifted");
            }
            *self = Blocklist::default();
            return;
        };
        let started = Instant::now();
        let mut files = Vec::with_capacity(list.files.len());
        for path in &list.files {
            files.push(match AddrList::read(path) {
                Ok(read) => {
                    for bad in &read.bad {
                        tracing::warn!(file = %path.display(), line = bad.line, "blocklist: {bad}");
                    }
                    ListFile {
                        path: path.clone(),
                        bad_lines: read.bad.len(),
                        entries: read.entries,
                        error: None,
                    }
                }
                Err(e) => {
                    let before = self.files.iter().find(|f| &f.path == path);
                    let entries = before.map(|f| f.entries.clone()).unwrap_or_default();
                    tracing::error!(
                        file = %path.display(),
                        "blocklist: {e}; its {} entr(ies) read before stay, read again on reload",
                        entries.len()
                    );
                    ListFile {
                        path: path.clone(),
                        entries,
                        bad_lines: before.map_or(0, |f| f.bad_lines),
                        error: Some(e.to_string()),
                    }
                }
            });
        }
        let all = files.iter().flat_map(|f| f.entries.iter().copied()).collect();
        self.entries = addrlist::outermost(all);
        self.files = files;
        self.scope = Some(list.scope);
        tracing::info!(
            "blocklist: {} network(s) and address(es) from {} file(s), read in {:.3}s",
            self.entries.len(),
            self.files.len(),
            started.elapsed().as_secs_f64()
        );
    }

    /// Its entries as the kernel must hold them: for good.
    pub fn changes(&self) -> impl Iterator<Item = Change> + '_ {
        let jail = JailName::new(NAME);
        self.entries.iter().map(move |t| Change::Add {
            jail: jail.clone(),
            target: *t,
            timeout: None,
        })
    }

    /// The list entries that hold `target` (for `banjo explain`), as "FILE: ENTRY".
    pub fn holding(&self, target: &Target) -> Vec<String> {
        let target = target.canonical();
        self.files
            .iter()
            .flat_map(|f| {
                f.entries
                    .iter()
                    .filter(move |e| e.covers(&target))
                    .map(move |e| format!("{}: {e}", f.path.display()))
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// What `banjo status` shows of it; `None` without a `[blocklist]`.
    pub fn status(&self) -> Option<BlocklistStatus> {
        self.scope?;
        Some(BlocklistStatus {
            blocked: self.len(),
            files: self
                .files
                .iter()
                .map(|f| BlocklistFile {
                    path: f.path.display().to_string(),
                    entries: f.entries.len(),
                    bad_lines: f.bad_lines,
                    error: f.error.clone(),
                })
                .collect(),
        })
    }
}

/// The blocklist's rules: one set of rules in the input hook, for every port and protocol
/// (`scope = "all"`) or for the ports and protocols of the inet jails together (`"jails"`);
/// dropped. `None` without a `[blocklist]`.
pub fn rules(cfg: &Config) -> Option<JailRules> {
    let list = cfg.blocklist.as_ref()?;
    let (ports, protocols) = match list.scope {
        BlocklistScope::All => (Vec::new(), Vec::new()),
        BlocklistScope::Jails => jails_ports(&cfg.jails),
    };
    Some(JailRules {
        name: JailName::new(NAME),
        hook: Hook::Input,
        family: Family::Inet,
        ports,
        protocols,
        blocktype: BlockType::Drop,
    })
}

/// The ports and protocols the inet jails guard, together; every port when one guards all.
fn jails_ports(jails: &[config::Jail]) -> (Vec<config::PortRange>, Vec<config::Protocol>) {
    let inet: Vec<&config::Jail> = jails.iter().filter(|j| j.family == Family::Inet).collect();
    let ports = if inet.iter().any(|j| j.ports.is_empty()) {
        Vec::new()
    } else {
        inet.iter().flat_map(|j| j.ports.iter().cloned()).collect()
    };
    let protocols = if inet.iter().any(|j| j.protocols.is_empty()) {
        Vec::new()
    } else {
        let mut p: Vec<config::Protocol> = inet.iter().flat_map(|j| j.protocols.iter().copied()).collect();
        p.sort_by_key(|p| p.to_string());
        p.dedup();
        p
    };
    (ports, protocols)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        crate::config::from_toml(std::path::Path::new("/etc/banjo/config.toml"), text).expect("config")
    }

    #[test]
    fn a_file_that_cannot_be_read_on_reload_keeps_its_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("drop.txt");
        std::fs::write(&path, "192.0.2.0/24\n10.0.0.0/8\n10.1.0.0/16\nnonsense\n").unwrap();
        let text = format!("[blocklist]\nfiles = [\"{}\"]\n", path.display());
        let c = cfg(&text);
        let mut list = Blocklist::default();
        list.reload(&c);
        assert_eq!(list.len(), 2, "the nested /16 is left out");
        assert_eq!(list.files[0].bad_lines, 1);
        std::fs::remove_file(&path).unwrap();
        list.reload(&c);
        assert_eq!(list.len(), 2);
        assert!(list.files[0].error.is_some());
        std::fs::write(&path, "198.51.100.7\n").unwrap();
        list.reload(&c);
        let t: Vec<Target> = list.changes().map(|c| c.target()).collect();
        assert_eq!(t, ["198.51.100.7".parse::<Target>().unwrap()]);
        assert_eq!(list.holding(&"198.51.100.7".parse().unwrap()).len(), 1);
    }

    #[test]
    fn without_a_blocklist_there_are_no_rules_and_no_entries() {
        let c = cfg("");
        assert_eq!(rules(&c), None);
        let mut list = Blocklist::default();
        list.reload(&c);
        assert_eq!(list.changes().count(), 0);
    }

    #[test]
    fn scope_jails_takes_the_ports_of_the_jails_together() {
        let c = cfg("[blocklist]\nfiles = [\"/x\"]\nscope = \"jails\"\n\
             [jails.a]\nfilter = \"sshd\"\njournal = [\"_SYSTEMD_UNIT=ssh.service\"]\nports = [22]\nprotocols = [\"tcp\"]\n\
             [jails.b]\nfilter = \"sshd\"\njournal = [\"_SYSTEMD_UNIT=ssh.service\"]\nports = [25, 587]\nprotocols = [\"tcp\"]\n");
        let r = rules(&c).unwrap();
        assert_eq!(r.ports.len(), 3);
        assert_eq!(r.name.as_str(), NAME);
        let all = rules(&cfg("[blocklist]\nfiles = [\"/x\"]\n")).unwrap();
        assert!(all.ports.is_empty() && all.protocols.is_empty());
    }
}
