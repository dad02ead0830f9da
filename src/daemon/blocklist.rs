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
use crate::config::{BlocklistScope, Config};
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

/// The blocklist's rules, all looking up its sets (one copy per table), dropping what the
/// listed sources send. Empty without a `[blocklist]`.
///
/// - `scope = "all"`: every port and protocol, in the inet input hook and in every other
///   hook and family a jail uses (inet forward on a router, the bridge table's hooks on a
///   bridge), so the list holds wherever banjo enforces anything.
/// - `scope = "jails"`: one rule per jail, with that jail's family, hook, ports, protocols
///   and blocktype, so a listed source meets exactly what a ban in that jail would do (jails
///   with the same firewall side share one rule). Without jails there is nothing to guard
///   but this host: every port in the inet input hook, as `"all"`.
pub fn rules(cfg: &Config) -> Vec<JailRules> {
    let Some(list) = cfg.blocklist.as_ref() else {
        return Vec::new();
    };
    let everything = |family, hook| JailRules {
        name: JailName::new(NAME),
        hook,
        family,
        ports: Vec::new(),
        protocols: Vec::new(),
        blocktype: BlockType::Drop,
    };
    let mut out: Vec<JailRules> = Vec::new();
    match list.scope {
        BlocklistScope::Jails if !cfg.jails.is_empty() => {
            for j in &cfg.jails {
                let rules = JailRules {
                    name: JailName::new(NAME),
                    hook: j.hook,
                    family: j.family,
                    ports: j.ports.clone(),
                    protocols: j.protocols.clone(),
                    blocktype: j.blocktype,
                };
                if !out.contains(&rules) {
                    out.push(rules);
                }
            }
        }
        _ => {
            for family in [Family::Inet, Family::Bridge] {
                for hook in [Hook::Input, Hook::Forward] {
                    let used = cfg.jails.iter().any(|j| j.family == family && j.hook == hook);
                    if used || (family == Family::Inet && hook == Hook::Input) {
                        out.push(everything(family, hook));
                    }
                }
            }
        }
    }
    out
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
        assert_eq!(rules(&c), []);
        let mut list = Blocklist::default();
        list.reload(&c);
        assert_eq!(list.changes().count(), 0);
    }

    const JAILS: &str = "[jails.ssh]\nfilter = \"sshd\"\njournal = [\"_SYSTEMD_UNIT=ssh.service\"]\n\
         ports = [22]\nprotocols = [\"tcp\"]\nblocktype = \"reject\"\n\
         [jails.smtp]\nfilter = \"sshd\"\njournal = [\"_SYSTEMD_UNIT=ssh.service\"]\nports = [25, 587]\n\
         protocols = [\"tcp\"]\n\
         [jails.web]\nfilter = \"sshd\"\njournal = [\"_SYSTEMD_UNIT=ssh.service\"]\nports = [80]\n\
         protocols = [\"tcp\"]\nhook = \"forward\"\n\
         [jails.lan]\nfilter = \"sshd\"\njournal = [\"_SYSTEMD_UNIT=ssh.service\"]\nports = [80]\n\
         protocols = [\"tcp\"]\nhook = \"forward\"\nfamily = \"bridge\"\n\
         [jails.same-as-lan]\nfilter = \"sshd\"\njournal = [\"_SYSTEMD_UNIT=ssh.service\"]\nports = [80]\n\
         protocols = [\"tcp\"]\nhook = \"forward\"\nfamily = \"bridge\"\n";

    fn shape(r: &JailRules) -> (Family, Hook, Vec<u16>, BlockType) {
        (
            r.family,
            r.hook,
            r.ports.iter().map(|p| p.low).collect(),
            r.blocktype,
        )
    }

    #[test]
    fn scope_jails_is_one_rule_per_jail_with_its_hook_ports_and_blocktype() {
        let c = cfg(&format!(
            "[blocklist]\nfiles = [\"/x\"]\nscope = \"jails\"\n{JAILS}"
        ));
        let r = rules(&c);
        assert!(r.iter().all(|r| r.name.as_str() == NAME));
        let got: Vec<_> = r.iter().map(shape).collect();
        let want = [
            (Family::Inet, Hook::Input, vec![22], BlockType::Reject),
            (Family::Inet, Hook::Input, vec![25, 587], BlockType::Drop),
            (Family::Inet, Hook::Forward, vec![80], BlockType::Drop),
            (Family::Bridge, Hook::Forward, vec![80], BlockType::Drop),
        ];
        assert_eq!(
            got.len(),
            want.len(),
            "two jails with the same firewall side share a rule: {got:?}"
        );
        assert!(want.iter().all(|w| got.contains(w)), "{got:?}");
    }

    #[test]
    fn scope_all_holds_in_every_hook_and_family_the_jails_use_and_input_at_least() {
        let c = cfg(&format!("[blocklist]\nfiles = [\"/x\"]\n{JAILS}"));
        let got: Vec<_> = rules(&c).iter().map(shape).collect();
        assert_eq!(
            got,
            [
                (Family::Inet, Hook::Input, vec![], BlockType::Drop),
                (Family::Inet, Hook::Forward, vec![], BlockType::Drop),
                (Family::Bridge, Hook::Forward, vec![], BlockType::Drop),
            ]
        );
        let alone: Vec<_> = rules(&cfg("[blocklist]\nfiles = [\"/x\"]\n"))
            .iter()
            .map(shape)
            .collect();
        assert_eq!(alone, [(Family::Inet, Hook::Input, vec![], BlockType::Drop)]);
        let no_jails = cfg("[blocklist]\nfiles = [\"/x\"]\nscope = \"jails\"\n");
        let got: Vec<_> = rules(&no_jails).iter().map(shape).collect();
        assert_eq!(
            got, alone,
            "without jails, \"jails\" guards this host as \"all\" does"
        );
    }
}
