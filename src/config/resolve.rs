//! Walks the merged figment value section by section: rejects unknown keys, parses each value
//! with the file or variable it came from at hand, applies [defaults] and the built-in
//! defaults to every jail, and resolves each enabled jail's filter. Problems are collected, not
//! returned at the first one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::value::{Dict, Tag, Value};
use figment::{Figment, Source};

use super::duration::BanTime;
use super::error::{ConfigError, Origin};
use super::net::IgnoreIp;
use super::schema::{self, Section};
use super::values::{self, render};
use super::values::{BlockType, BlocklistScope, Family, Hook, LogLevel, PortRange, Protocol, UseDns};
use super::{Blocklist, Config, Daemon, Increment, Jail, JournalFrom, Widen};
use crate::filter::{self, FilterDef, FilterError};
use crate::name::JailName;

/// One table of the merged config and its key path ("jails.sshd").
pub(super) struct Table<'a> {
    pub(super) path: String,
    pub(super) value: &'a Value,
    pub(super) dict: &'a Dict,
}

impl<'a> Table<'a> {
    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.dict.get(key)
    }

    pub(super) fn key(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }
}

/// The [defaults] keys, each unset until a section or the built-ins set it.
#[derive(Debug, Default, Clone)]
struct Settings {
    enabled: Option<bool>,
    maxretry: Option<u32>,
    findtime: Option<Duration>,
    bantime: Option<BanTime>,
    ignoreip: Option<Vec<IgnoreIp>>,
    ignoreself: Option<bool>,
    usedns: Option<UseDns>,
    ports: Option<Vec<PortRange>>,
    protocols: Option<Vec<Protocol>>,
    hook: Option<Hook>,
    family: Option<Family>,
    blocktype: Option<BlockType>,
    maxtracked: Option<usize>,
    increment: Option<bool>,
    factor: Option<f64>,
    multipliers: Option<Vec<u32>>,
    maxtime: Option<Duration>,
    rndtime: Option<Duration>,
    overalljails: Option<bool>,
    ipv6_prefix: Option<u8>,
    ipv6_widest: Option<u8>,
    ipv4_widest: Option<u8>,
    widen_after: Option<u32>,
    widen_within: Option<Duration>,
}

impl Settings {
    /// Each key from `self`, else from `fallback`.
    fn or(self, fallback: &Settings) -> Settings {
        let f = fallback.clone();
        Settings {
            enabled: self.enabled.or(f.enabled),
            maxretry: self.maxretry.or(f.maxretry),
            findtime: self.findtime.or(f.findtime),
            bantime: self.bantime.or(f.bantime),
            ignoreip: self.ignoreip.or(f.ignoreip),
            ignoreself: self.ignoreself.or(f.ignoreself),
            usedns: self.usedns.or(f.usedns),
            ports: self.ports.or(f.ports),
            protocols: self.protocols.or(f.protocols),
            hook: self.hook.or(f.hook),
            family: self.family.or(f.family),
            blocktype: self.blocktype.or(f.blocktype),
            maxtracked: self.maxtracked.or(f.maxtracked),
            increment: self.increment.or(f.increment),
            factor: self.factor.or(f.factor),
            multipliers: self.multipliers.or(f.multipliers),
            maxtime: self.maxtime.or(f.maxtime),
            rndtime: self.rndtime.or(f.rndtime),
            overalljails: self.overalljails.or(f.overalljails),
            ipv6_prefix: self.ipv6_prefix.or(f.ipv6_prefix),
            ipv6_widest: self.ipv6_widest.or(f.ipv6_widest),
            ipv4_widest: self.ipv4_widest.or(f.ipv4_widest),
            widen_after: self.widen_after.or(f.widen_after),
            widen_within: self.widen_within.or(f.widen_within),
        }
    }

    /// banjo's built-in [defaults].
    fn builtin() -> Settings {
        let net = |text: &str| text.parse::<IgnoreIp>().ok();
        Settings {
            enabled: Some(true),
            maxretry: Some(5),
            findtime: Some(Duration::from_secs(600)),
            bantime: Some(BanTime::For(Duration::from_secs(600))),
            ignoreip: Some(["127.0.0.1/8", "::1"].into_iter().filter_map(net).collect()),
            ignoreself: Some(true),
            usedns: Some(UseDns::Warn),
            ports: Some(vec![]),
            protocols: Some(Protocol::ALL.to_vec()),
            hook: Some(Hook::Input),
            family: Some(Family::Inet),
            blocktype: Some(BlockType::Drop),
            maxtracked: Some(100_000),
            increment: Some(false),
            factor: Some(1.0),
            multipliers: Some(vec![]),
            maxtime: None,
            rndtime: Some(Duration::ZERO),
            overalljails: Some(false),
            // RFC 7421: a /64 is one link; SLAAC and temporary addresses (RFC 8981) let one
            // host use any address of it.
            ipv6_prefix: Some(64),
            // RIPE-690 §4.2: /48 for a business site, /56 for a home; wider than /48 spans
            // end sites of different customers.
            ipv6_widest: Some(48),
            ipv4_widest: Some(32),
            widen_after: Some(3),
            widen_within: Some(Duration::from_secs(24 * 3600)),
        }
    }
}

/// The walk over one merged figment.
pub(super) struct Walk<'a> {
    figment: &'a Figment,
    base_dir: &'a Path,
    problems: Vec<ConfigError>,
}

impl<'a> Walk<'a> {
    pub(super) fn new(figment: &'a Figment, base_dir: &'a Path) -> Self {
        Walk {
            figment,
            base_dir,
            problems: Vec::new(),
        }
    }

    /// Everything below the top level, as `Config` minus the file lists.
    pub(super) fn run(
        mut self,
        files: Vec<PathBuf>,
        ignored_files: Vec<PathBuf>,
    ) -> Result<Config, ConfigError> {
        let root = match self.figment.find_value("") {
            Ok(root) => root,
            Err(e) => {
                return Err(ConfigError::Invalid {
                    origin: Origin::Builtin,
                    key: String::new(),
                    message: e.to_string(),
                });
            }
        };
        let empty = Dict::new();
        let top = Table {
            path: String::new(),
            value: &root,
            dict: root.as_dict().unwrap_or(&empty),
        };
        self.check_keys(&top, Section::Top);

        let daemon = self.table(&top, "daemon");
        let daemon = self.daemon(daemon.as_ref());
        let defaults = match self.table(&top, "defaults") {
            Some(t) => {
                self.check_keys(&t, Section::Defaults);
                self.settings(&t)
            }
            None => Settings::default(),
        }
        .or(&Settings::builtin());
        let filters = self.table(&top, "filters");
        let filters = self.filters(filters.as_ref());
        let jails = self.table(&top, "jails");
        let (jails, disabled_jails) = self.jails(jails.as_ref(), &defaults, &filters);
        let mut jail_names: Vec<JailName> = jails.iter().map(|j| j.name.clone()).collect();
        jail_names.extend(disabled_jails.iter().map(JailName::from));
        jail_names.sort();
        let notify = self.notify(&top, &jail_names);
        let blocklist = self.table(&top, "blocklist");
        let blocklist = blocklist.and_then(|t| self.blocklist(&t));

        if let Some(e) = ConfigError::from_list(self.problems) {
            return Err(e);
        }
        Ok(Config {
            daemon,
            jails,
            disabled_jails,
            filters,
            notify,
            blocklist,
            files,
            ignored_files,
            base_dir: self.base_dir.to_path_buf(),
        })
    }

    /// Records one problem; the walk goes on.
    pub(super) fn problem(&mut self, problem: ConfigError) {
        self.problems.push(problem);
    }

    pub(super) fn origin(&self, tag: Tag) -> Origin {
        match self.figment.get_metadata(tag).and_then(|md| md.source.as_ref()) {
            Some(Source::File(path)) => Origin::File(path.clone()),
            Some(Source::Custom(var)) => Origin::Env(var.clone()),
            _ => Origin::Builtin,
        }
    }

    /// Where a table was first written: the earliest layer among the values inside it.
    pub(super) fn table_origin(&self, value: &Value) -> Origin {
        fn earliest(value: &Value) -> Option<Tag> {
            match value {
                Value::Dict(_, dict) if !dict.is_empty() => dict.values().filter_map(earliest).min(),
                other => Some(other.tag()),
            }
        }
        self.origin(earliest(value).unwrap_or(value.tag()))
    }

    pub(super) fn check_keys(&mut self, table: &Table, section: Section) {
        for (key, value) in table.dict {
            if !section.knows(key) {
                let help = top_level_jail_hint(section, key, value)
                    .unwrap_or_else(|| schema::unknown_key_help(section, key));
                self.problems.push(ConfigError::UnknownKey {
                    origin: self.table_origin(value),
                    key: table.key(key),
                    help,
                });
            }
        }
    }

    /// The sub-table `key` of `parent`, if it is there and is a table.
    pub(super) fn table<'t>(&mut self, parent: &Table<'t>, key: &str) -> Option<Table<'t>> {
        let value = parent.get(key)?;
        match value.as_dict() {
            Some(dict) => Some(Table {
                path: parent.key(key),
                value,
                dict,
            }),
            None => {
                let example = format!("[{}]", parent.key(key));
                self.problems.push(ConfigError::BadValue {
                    origin: self.origin(value.tag()),
                    key: parent.key(key),
                    value: render(value),
                    expected: format!("expected a table: write a section header {example}"),
                });
                None
            }
        }
    }

    /// Parses `table.key` if it is set; a bad value becomes a problem and `None`.
    pub(super) fn field<T>(
        &mut self,
        table: &Table,
        key: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        let value = table.get(key)?;
        self.parse_value(table, key, value, parse)
    }

    pub(super) fn parse_value<T>(
        &mut self,
        table: &Table,
        key: &str,
        value: &Value,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        match parse(value) {
            Ok(v) => Some(v),
            Err(problem) => {
                let explained = ["did you mean", "e.g.", "write ", " = "];
                let expected = if explained.iter().any(|e| problem.contains(e)) {
                    problem
                } else {
                    format!("{problem}, e.g. {key} = {}", schema::example(key))
                };
                self.problems.push(ConfigError::BadValue {
                    origin: self.origin(value.tag()),
                    key: table.key(key),
                    value: render(value),
                    expected,
                });
                None
            }
        }
    }

    /// A key that also has a fail2ban alias: at most one of the two may be set.
    fn aliased<T>(
        &mut self,
        table: &Table,
        key: &str,
        alias: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        match (table.get(key), table.get(alias)) {
            (Some(a), Some(b)) => {
                self.problems.push(ConfigError::Invalid {
                    origin: self.origin(b.tag()),
                    key: table.key(alias),
                    message: format!(
                        "both `{key}` (in {}) and its alias `{alias}` are set; keep one",
                        self.origin(a.tag())
                    ),
                });
                None
            }
            (Some(v), None) => self.parse_value(table, key, v, parse),
            (None, Some(v)) => self.parse_value(table, alias, v, parse),
            (None, None) => None,
        }
    }

    fn daemon(&mut self, table: Option<&Table>) -> Daemon {
        let mut daemon = Daemon::default();
        let Some(t) = table else { return daemon };
        self.check_keys(t, Section::Daemon);
        if let Some(v) = self.field(t, "loglevel", values::keyword::<LogLevel>) {
            daemon.loglevel = v;
        }
        if let Some(v) = self.field(t, "table", values::table_name) {
            daemon.table = v;
        }
        if let Some(v) = self.field(t, "flush_on_stop", values::boolean) {
            daemon.flush_on_stop = v;
        }
        daemon.state_dir = self.field(t, "state_dir", values::abs_path);
        daemon.runtime_dir = self.field(t, "runtime_dir", values::abs_path);
        daemon.admin_group = self.field(t, "admin_group", values::group_name);
        daemon.read_group = self.field(t, "read_group", values::group_name);
        daemon
    }

    fn settings(&mut self, t: &Table) -> Settings {
        let whole = |what: &'static str, max: u64| move |v: &Value| values::whole(v, what, 1, max);
        Settings {
            enabled: self.field(t, "enabled", values::boolean),
            maxretry: self
                .field(t, "maxretry", whole("failures", u64::from(u32::MAX)))
                .map(|n| n as u32),
            findtime: self.field(t, "findtime", values::positive_duration),
            bantime: self.field(t, "bantime", values::bantime),
            ignoreip: self.field(t, "ignoreip", values::ignoreip),
            ignoreself: self.field(t, "ignoreself", values::boolean),
            usedns: self.field(t, "usedns", values::usedns),
            ports: self.aliased(t, "ports", "port", values::ports),
            protocols: self.aliased(t, "protocols", "protocol", values::protocols),
            hook: self.aliased(t, "hook", "chain_hook", values::keyword::<Hook>),
            family: self.field(t, "family", values::keyword::<Family>),
            blocktype: self.field(t, "blocktype", values::keyword::<BlockType>),
            maxtracked: self
                .field(t, "maxtracked", whole("addresses", usize::MAX as u64))
                .map(|n| n as usize),
            increment: self.field(t, "bantime_increment", values::boolean),
            factor: self.field(t, "bantime_factor", values::positive_number),
            multipliers: self.field(t, "bantime_multipliers", values::multipliers),
            maxtime: self.field(t, "bantime_maxtime", values::ban_length),
            rndtime: self.field(t, "bantime_rndtime", values::ban_extra),
            overalljails: self.field(t, "bantime_overalljails", values::boolean),
            ipv6_prefix: self.field(t, "ipv6_prefix", |v| values::prefix_len(v, 32, 128)),
            ipv6_widest: self.field(t, "ipv6_widest", |v| values::prefix_len(v, 16, 128)),
            ipv4_widest: self.field(t, "ipv4_widest", |v| values::prefix_len(v, 8, 32)),
            widen_after: self
                .field(t, "widen_after", |v| values::whole(v, "bans", 2, 1000))
                .map(|n| n as u32),
            widen_within: self.field(t, "widen_within", values::positive_duration),
        }
    }

    /// `[blocklist]`: its files (at least one) and scope.
    fn blocklist(&mut self, t: &Table) -> Option<Blocklist> {
        self.check_keys(t, Section::Blocklist);
        let scope = self
            .field(t, "scope", values::keyword::<BlocklistScope>)
            .unwrap_or(BlocklistScope::All);
        if t.get("files").is_none() {
            self.problems.push(ConfigError::Invalid {
                origin: self.table_origin(t.value),
                key: t.key("files"),
                message: format!(
                    "[blocklist] needs its list files, e.g. files = {}",
                    schema::example("files")
                ),
            });
            return None;
        }
        let files = self.field(t, "files", values::abs_paths)?;
        Some(Blocklist { files, scope })
    }

    fn filters(&mut self, table: Option<&Table<'_>>) -> BTreeMap<String, FilterDef> {
        let mut filters = BTreeMap::new();
        let Some(all) = table else { return filters };
        for name in all.dict.keys() {
            let Some(t) = self.named_table(all, name) else {
                continue;
            };
            let t = &t;
            self.check_keys(t, Section::Filter);
            let failregex = self.field(t, "failregex", values::regex_list);
            let def = FilterDef {
                name: name.clone(),
                origin: format!("{} [filters.{name}]", self.table_origin(t.value)),
                failregex: failregex.clone().unwrap_or_default(),
                ignoreregex: self
                    .field(t, "ignoreregex", values::regex_list)
                    .unwrap_or_default(),
                prefregex: self.field(t, "prefregex", values::text),
                datepattern: self.field(t, "datepattern", values::text),
                journalmatch: self.field(t, "journalmatch", values::words).unwrap_or_default(),
                maxlines: 1,
                unsupported: vec![],
            };
            if failregex.as_ref().is_some_and(Vec::is_empty) || t.get("failregex").is_none() {
                self.problems.push(ConfigError::Invalid {
                    origin: self.table_origin(t.value),
                    key: t.key("failregex"),
                    message: format!(
                        "a filter needs at least one failregex, e.g. failregex = {}",
                        schema::example("failregex")
                    ),
                });
            }
            filters.insert(name.clone(), def);
        }
        filters
    }

    /// `parent.name` as a table, with the name checked.
    fn named_table<'t>(&mut self, parent: &Table<'t>, name: &str) -> Option<Table<'t>> {
        let t = self.table(parent, name)?;
        if let Err(problem) = values::section_name(name) {
            self.problems.push(ConfigError::Invalid {
                origin: self.table_origin(t.value),
                key: t.path.clone(),
                message: problem,
            });
            return None;
        }
        Some(t)
    }

    fn jails(
        &mut self,
        table: Option<&Table<'_>>,
        defaults: &Settings,
        filters: &BTreeMap<String, FilterDef>,
    ) -> (Vec<Jail>, Vec<String>) {
        let (mut jails, mut disabled) = (Vec::new(), Vec::new());
        let Some(all) = table else {
            return (jails, disabled);
        };
        let mut compiled = BTreeSet::new();
        for name in all.dict.keys() {
            let Some(t) = self.named_table(all, name) else {
                continue;
            };
            let t = &t;
            self.check_keys(t, Section::Jail);
            let settings = self.settings(t).or(defaults);
            let filter_spec = self.field(t, "filter", values::text);
            let journal = self.field(t, "journal", values::journal);
            let multilog = self.field(t, "multilog", values::multilog);
            if settings.enabled == Some(false) {
                disabled.push(name.clone());
                continue;
            }
            let spec = filter_spec.clone().unwrap_or_else(|| name.clone());
            let filter_def = self.filter(t, &spec, filter_spec.is_none(), filters, &mut compiled);
            let (journal, journal_from) = match journal {
                Some(own) => (Some(own), JournalFrom::Jail),
                None if multilog.is_none() && t.get("journal").is_none() => {
                    (self.filter_journal(t, filter_def.as_ref()), JournalFrom::Filter)
                }
                None => (None, JournalFrom::Jail),
            };
            self.check_source(t, &journal, &multilog, filter_def.as_ref());
            let (Some(filter_def), Some(jail)) = (filter_def, build_jail(name, settings)) else {
                continue;
            };
            jails.push(Jail {
                filter: spec,
                filter_def,
                journal: journal.unwrap_or_default(),
                journal_from,
                multilog,
                origin: self.table_origin(t.value),
                ..jail
            });
        }
        (jails, disabled)
    }

    /// A jail with neither `journal` nor `multilog` reads what its filter's `journalmatch`
    /// names (fail2ban's rule); `None` when the filter names nothing (a problem is recorded
    /// when what it names is not a valid match).
    fn filter_journal(&mut self, t: &Table, def: Option<&FilterDef>) -> Option<Vec<values::JournalMatch>> {
        let def = def.filter(|d| !d.journalmatch.is_empty())?;
        match values::journal_words(&def.journalmatch) {
            Ok(matches) => Some(matches),
            Err(problem) => {
                self.problems.push(ConfigError::Invalid {
                    origin: self.table_origin(t.value),
                    key: t.key("journal"),
                    message: format!(
                        "not set, and the journalmatch of filter {} ({}) is not usable: {problem}; \
                         set journal = [\"_SYSTEMD_UNIT=NAME.service\"] on the jail",
                        def.name, def.origin
                    ),
                });
                // the problem is reported; not also as "no source"
                Some(Vec::new())
            }
        }
    }

    fn check_source(
        &mut self,
        t: &Table,
        journal: &Option<Vec<values::JournalMatch>>,
        multilog: &Option<values::MultilogSource>,
        filter: Option<&FilterDef>,
    ) {
        let message = match (t.get("journal"), t.get("multilog")) {
            (None, None) if journal.is_some() => return,
            (None, None) => format!(
                "no source: set journal = [\"_SYSTEMD_UNIT=NAME.service\"] (or \
                 [\"SYSLOG_IDENTIFIER=NAME\"]) or multilog = \"FD-NAME\"{}; banjo never scans \
                 the whole journal",
                match filter {
                    Some(def) => format!(" (filter {} has no journalmatch to default to)", def.name),
                    None => String::new(),
                }
            ),
            (Some(_), Some(_)) if journal.is_some() && multilog.is_some() => {
                "both journal and multilog are set: a jail reads one source; make two jails \
                 with the same filter"
                    .to_string()
            }
            _ => return,
        };
        self.problems.push(ConfigError::Invalid {
            origin: self.table_origin(t.value),
            key: t.path.clone(),
            message,
        });
    }

    /// Resolves and compiles the filter a jail names; an inline filter is compiled once.
    fn filter(
        &mut self,
        t: &Table,
        spec: &str,
        defaulted: bool,
        inline: &BTreeMap<String, FilterDef>,
        compiled: &mut BTreeSet<String>,
    ) -> Option<FilterDef> {
        let origin = match t.get("filter") {
            Some(v) => self.origin(v.tag()),
            None => self.table_origin(t.value),
        };
        let def = match filter::resolve(spec, self.base_dir, inline) {
            Ok(def) => def,
            Err(e) => {
                let mut message = e.to_string();
                if defaulted {
                    message.push_str(&format!(
                        "; {} sets no filter, so it uses the one named like the jail: \
                         set filter = \"NAME\"",
                        t.path
                    ));
                }
                self.problems.push(ConfigError::Filter {
                    origin,
                    key: t.key("filter"),
                    value: Some(format!("{spec:?}")),
                    message,
                });
                return None;
            }
        };
        let is_inline = inline.get(&def.name).is_some_and(|d| d.origin == def.origin);
        if is_inline && !compiled.insert(def.name.clone()) {
            return Some(def);
        }
        if let Err(e) = filter::Filter::compile(&def) {
            let problem = self.compile_problem(t, spec, origin, is_inline, &def, e);
            self.problems.extend(problem);
        }
        Some(def)
    }

    /// A compile error, blamed on the `[filters.NAME]` key when the filter is inline, else on
    /// the jail's `filter`. `None` when the problem was already reported on the section.
    fn compile_problem(
        &self,
        t: &Table,
        spec: &str,
        origin: Origin,
        is_inline: bool,
        def: &FilterDef,
        e: FilterError,
    ) -> Option<ConfigError> {
        if !is_inline {
            return Some(ConfigError::Filter {
                origin,
                key: t.key("filter"),
                value: Some(format!("{spec:?}")),
                message: e.to_string(),
            });
        }
        let section = format!("filters.{}", def.name);
        match e {
            FilterError::NoFailregex { .. } => None,
            FilterError::BadRegex {
                key,
                index,
                regex,
                message,
                ..
            } => {
                let path = format!("{section}.{key}");
                let origin = self
                    .figment
                    .find_value(&path)
                    .map_or(origin, |v| self.origin(v.tag()));
                Some(ConfigError::Filter {
                    origin,
                    key: path,
                    value: Some(format!("{regex:?}")),
                    message: format!("{key} #{index}: {message} (used by {})", t.path),
                })
            }
            FilterError::BadDatepattern { pattern, message, .. } => {
                let path = format!("{section}.datepattern");
                let origin = self
                    .figment
                    .find_value(&path)
                    .map_or(origin, |v| self.origin(v.tag()));
                Some(ConfigError::Filter {
                    origin,
                    key: path,
                    value: Some(format!("{pattern:?}")),
                    message: format!("{message} (used by {})", t.path),
                })
            }
            other => Some(ConfigError::Filter {
                origin,
                key: section,
                value: None,
                message: format!("{other} (used by {})", t.path),
            }),
        }
    }
}

/// A jail with defaults applied; filter and source are filled in by the caller.
fn build_jail(name: &str, s: Settings) -> Option<Jail> {
    let increment = s.increment.unwrap_or(false).then(|| Increment {
        factor: s.factor.unwrap_or(1.0),
        multipliers: s.multipliers.clone().unwrap_or_default(),
        maxtime: s.maxtime,
        rndtime: s.rndtime.unwrap_or_default(),
        overalljails: s.overalljails.unwrap_or(false),
    });
    Some(Jail {
        name: name.into(),
        filter: String::new(),
        filter_def: FilterDef::default(),
        maxretry: s.maxretry?,
        findtime: s.findtime?,
        bantime: s.bantime?,
        ignoreip: s.ignoreip?,
        ignoreself: s.ignoreself?,
        usedns: s.usedns?,
        ports: s.ports?,
        protocols: s.protocols?,
        hook: s.hook?,
        family: s.family?,
        blocktype: s.blocktype?,
        maxtracked: s.maxtracked?,
        ipv6_prefix: s.ipv6_prefix?,
        widen: Widen {
            ipv6_widest: s.ipv6_widest?,
            ipv4_widest: s.ipv4_widest?,
            after: s.widen_after?,
            within: s.widen_within?,
        },
        increment,
        journal: vec![],
        journal_from: JournalFrom::Jail,
        multilog: None,
        origin: Origin::Builtin,
    })
}

/// `[sshd]` at the top level is a fail2ban jail.local habit.
fn top_level_jail_hint(section: Section, key: &str, value: &Value) -> Option<String> {
    let dict = value.as_dict()?;
    if matches!(
        key.to_ascii_lowercase().as_str(),
        "default" | "definition" | "init"
    ) {
        return None;
    }
    let looks_like_jail = dict.keys().any(|k| Section::Jail.knows(k));
    (section == Section::Top && looks_like_jail && !Section::Top.knows(key)).then(|| {
        format!(
            "`[{key}]` looks like a fail2ban jail: in banjo it is [jails.{key}]; {}",
            schema::unknown_key_help(Section::Top, key)
                .rsplit("; ")
                .next()
                .unwrap_or_default()
        )
    })
}
