//! `banjo import-fail2ban`: a fail2ban directory read the way fail2ban reads it, and each
//! enabled jail written as banjo's `[jails.NAME]`, with a report of what changed meaning and
//! what the admin must do.
//!
//! Sans-I/O: files come through a [`Tree`] (the disk, or memory in tests), and the result is a
//! value ([`Import`]: the TOML text and the [`Report`]); the command writes them.
//! - `jails`: jail.conf's layers and fail2ban's jail options;
//! - `actions`: action.d resolution → a ban, a mail alert or an action not carried;
//! - `mail`: the jails' mail alerts → banjo-notify's one `[notify.mail]`;
//! - `sources`: backend/journalmatch/logpath → journal matches or a multilog pipe;
//! - `stock`: which filter files are fail2ban's own, untouched;
//! - `time`: fail2ban's time expressions;
//! - `emit`: the TOML and the report's text.

mod actions;
mod emit;
mod jails;
mod mail;
mod sources;
mod stock;
mod time;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use actions::{Action, Ban, Mail};
pub use sources::Source;
pub use stock::Stock;

use crate::config::{BlockType, Family, Hook, IgnoreIp, Protocol, UseDns};
use crate::filter::f2bconf::{self, F2bConfError, FileSource};
use crate::filter::{self, FilterDef, builtin};
use jails::Opt;

/// Where the fail2ban files are read from.
pub trait Tree {
    fn files(&self) -> &dyn FileSource;
    /// The files in `dir` whose names end with `suffix`, sorted (fail2ban's `glob(dir/*suffix)`).
    fn glob(&self, dir: &Path, suffix: &str) -> Vec<PathBuf>;
}

/// The disk.
pub struct Disk;

impl Tree for Disk {
    fn files(&self) -> &dyn FileSource {
        &f2bconf::Disk
    }

    fn glob(&self, dir: &Path, suffix: &str) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.ends_with(suffix) && !n.starts_with('.'))
            })
            .collect();
        paths.sort();
        paths
    }
}

/// Why nothing was written. Each names the file, the line and the key where it can.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    File(String),
    #[error("{at}: {message}")]
    Value { at: String, message: String },
    #[error(
        "{dir}: neither jail.conf nor jail.local is there: is this fail2ban's directory? \
         (give it as `banjo import-fail2ban DIR`; the default is /etc/fail2ban)"
    )]
    NoJailConf { dir: String },
}

impl From<F2bConfError> for ImportError {
    fn from(e: F2bConfError) -> Self {
        let text = match e {
            F2bConfError::NoSectionHeader { file, line, text } => {
                let section = if file.contains("/action.d/") {
                    "[Definition] or [Init]"
                } else if file.contains("/filter.d/") {
                    "[Definition]"
                } else {
                    "[DEFAULT] or [JAIL-NAME]"
                };
                format!(
                    "{file}:{line}: no section header before `{text}` (fail2ban: \"File contains no \
                     section headers\"): every key belongs to a section; add {section} above line {line}"
                )
            }
            F2bConfError::Read { file, source } => format!("cannot read {file}: {source}"),
            F2bConfError::UndefinedName { at, name, .. } => format!(
                "{at}: %({name})s is not defined: no key {name} in [{}], [DEFAULT] or what the \
                 files include (fail2ban: \"Bad value substitution\")",
                at.section
            ),
            F2bConfError::InterpolationTooDeep { at, name, .. } => format!(
                "{at}: %({name})s refers back to itself, directly or through other %(…)s \
                 (fail2ban: \"Recursion limit exceeded in value substitution\")"
            ),
            other => other.to_string(),
        };
        ImportError::File(text)
    }
}

/// What the import produced.
#[derive(Debug, Clone)]
pub struct Import {
    pub toml: String,
    pub report: Report,
}

/// For the admin: what was carried, what changed meaning, what they must do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub dir: String,
    /// Jails written enabled.
    pub carried: Vec<String>,
    /// Jails written, but commented out or disabled (with why, in `admin`).
    pub held_back: Vec<String>,
    /// fail2ban's jails that were not enabled, so not imported.
    pub disabled: usize,
    /// The mail alerts carried as `[notify.mail]`.
    pub mail: Option<String>,
    pub changed: Vec<String>,
    pub not_carried: Vec<String>,
    pub admin: Vec<String>,
}

/// One fail2ban jail, mapped.
#[derive(Debug, Clone)]
struct Jail {
    name: String,
    /// The fail2ban section's name when banjo's had to differ.
    f2b_name: String,
    at: String,
    /// fail2ban's jail did not ban: written with enabled = false.
    bans: bool,
    filter: FilterChoice,
    settings: Settings,
    ban: Ban,
    source: Source,
    mails: Vec<Mail>,
    /// Comment lines above the jail.
    comments: Vec<String>,
    /// Why the whole jail is written commented out.
    held: Option<String>,
}

/// The jail keys banjo shares with fail2ban, as TOML values.
#[derive(Debug, Clone, PartialEq)]
struct Settings {
    maxretry: u64,
    findtime: String,
    bantime: String,
    increment: Option<Increment>,
    ignoreip: Vec<String>,
    ignoreself: bool,
    usedns: UseDns,
}

#[derive(Debug, Clone, PartialEq)]
struct Increment {
    factor: f64,
    multipliers: Vec<u32>,
    maxtime: Option<String>,
    rndtime: Option<String>,
    overalljails: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum FilterChoice {
    /// banjo's built-in, by spec (`sshd`, `sshd[mode=aggressive]`).
    Builtin { spec: String },
    /// The admin's file (or fail2ban's stock file banjo has no built-in for), expanded.
    Inline { def: FilterDef },
}

/// Reads fail2ban's configuration under `dir` and maps its enabled jails.
pub fn import(tree: &dyn Tree, dir: &Path, stock: &Stock) -> Result<Import, Vec<ImportError>> {
    let layers = jails::read(tree, dir).map_err(|e| vec![e])?;
    let mut report = Report {
        dir: dir.display().to_string(),
        ..Report::default()
    };
    let mut problems = Vec::new();
    let mut mapped = Vec::new();
    let mut stock_replaced = Vec::new();
    for section in layers.sections() {
        let reader = JailReader {
            tree,
            dir,
            stock,
            layers: &layers,
            section: &section,
        };
        match reader.read(&mut stock_replaced) {
            Ok(Some(jail)) => mapped.push(jail),
            Ok(None) => report.disabled += 1,
            Err(mut e) => problems.append(&mut e),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if !stock_replaced.is_empty() {
        stock_replaced.sort();
        stock_replaced.dedup();
        report.changed.push(format!(
            "filters: fail2ban's stock {} replaced by banjo's built-in filters of the same names \
             (`banjo test-filter NAME LOG` shows what they match)",
            stock_replaced.join(", ")
        ));
    }
    let filters = name_inline_filters(&mut mapped);
    let notify = mail::plan(&mapped);
    let toml = emit::toml(dir, &mapped, &filters, notify.as_ref());
    emit::fill_report(&mut report, &mapped, notify.as_ref());
    Ok(Import { toml, report })
}

/// Gives each inline filter a `[filters.NAME]` name: the fail2ban filter's name, or
/// `NAME-JAIL` when another jail's filter of that name came out different.
fn name_inline_filters(jails: &mut [Jail]) -> BTreeMap<String, FilterDef> {
    let mut named: BTreeMap<String, FilterDef> = BTreeMap::new();
    for jail in jails.iter_mut() {
        let FilterChoice::Inline { def } = &mut jail.filter else {
            continue;
        };
        if jail.held.is_some() {
            continue;
        }
        let same = |d: &FilterDef| same_regexes(d, def) && d.journalmatch == def.journalmatch;
        let name = match named.get(&def.name) {
            None => def.name.clone(),
            Some(d) if same(d) => def.name.clone(),
            Some(_) => format!("{}-{}", def.name, jail.name),
        };
        def.name = name.clone();
        named.entry(name).or_insert_with(|| def.clone());
    }
    named
}

fn same_regexes(a: &FilterDef, b: &FilterDef) -> bool {
    a.failregex == b.failregex
        && a.ignoreregex == b.ignoreregex
        && a.prefregex == b.prefregex
        && a.datepattern == b.datepattern
}

/// Reads one jail section as fail2ban's JailReader does.
struct JailReader<'a> {
    tree: &'a dyn Tree,
    dir: &'a Path,
    stock: &'a Stock,
    layers: &'a f2bconf::Layers,
    section: &'a str,
}

impl JailReader<'_> {
    fn get(&self, key: &str, vars: &[(String, String)]) -> Result<Option<Opt>, ImportError> {
        jails::get_or_default(self.layers, self.section, key, vars)
    }

    /// `file:line` of the section's `key` (fail2ban's defaults have none).
    fn line_of(&self, key: &str) -> String {
        self.layers.place(self.section, key).map_or_else(
            || format!("[{}]", self.section),
            |p| format!("{}:{}", p.file, p.line),
        )
    }

    fn at(&self, key: &str) -> String {
        self.layers
            .place(self.section, key)
            .map_or_else(|| format!("[{}] {key}", self.section), |p| p.to_string())
    }

    fn bad(&self, key: &str, message: String) -> ImportError {
        ImportError::Value {
            at: self.at(key),
            message,
        }
    }

    /// `None` for a jail that is not enabled (fail2ban reads only enabled, backend and filter
    /// of those, so their other keys cannot be wrong).
    fn read(&self, stock_replaced: &mut Vec<String>) -> Result<Option<Jail>, Vec<ImportError>> {
        let one = |e| vec![e];
        let enabled = self.get("enabled", &[]).map_err(one)?;
        let backend = self
            .get("backend", &[])
            .map_err(one)?
            .map(|o| o.value)
            .unwrap_or_default();
        let filter_opt = self.get("filter", &[]).map_err(one)?;
        if !enabled.is_some_and(|o| jails::as_bool(&o.value)) {
            return Ok(None);
        }
        let spec = filter_opt
            .as_ref()
            .map(|o| o.value.trim().to_string())
            .unwrap_or_default();
        if spec.is_empty() {
            return Err(one(self.bad(
                "filter",
                format!(
                    "jail [{}] has no filter: banjo needs one to know what a failure is",
                    self.section
                ),
            )));
        }
        let fail2ban_logtype = if backend.trim().starts_with("systemd") {
            "journal"
        } else {
            "file"
        };
        let mut choice = self.filter(&spec, fail2ban_logtype).map_err(one)?;
        let known = known_vars(&choice.def);
        let mut opts: BTreeMap<&str, Opt> = BTreeMap::new();
        let mut problems = Vec::new();
        for key in jails::JAIL_OPTIONS {
            match self.get(key, &known) {
                Ok(Some(o)) => {
                    opts.insert(key, o);
                }
                Ok(None) => {}
                Err(e) => problems.push(e),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let jail = self.map(&opts, &mut choice, &backend).map_err(|e| match e {
            MapError::One(e) => vec![e],
            MapError::Many(v) => v,
        })?;
        if choice.stock_replaced {
            stock_replaced.push(format!("{}.conf", choice.name));
        }
        Ok(Some(jail))
    }

    /// The filter a jail names: the admin's own file, else banjo's built-in, else fail2ban's
    /// stock file; an error when none exists.
    fn filter(&self, spec: &str, logtype: &str) -> Result<Chosen, ImportError> {
        let (name, params) = f2bconf::parse_spec(spec).map_err(|e| self.bad("filter", e.to_string()))?;
        let base = self.dir.join("filter.d").join(&name);
        let paths = jails::layered(self.tree, &base);
        let builtin = builtin::load(&name, &params).map_err(|e| self.bad("filter", e.to_string()))?;
        let own = !paths.is_empty() && !self.is_stock_filter(&name, &paths);
        // a built-in without the parameter's mode (postfix[mode=more]): fail2ban's stock file
        let builtin_fails = builtin
            .as_ref()
            .and_then(|def| filter::Filter::compile(def).err())
            .filter(|_| !paths.is_empty());
        if let Some(e) = &builtin_fails {
            let mut chosen = self.filter_from_file(&name, &paths, &params, logtype)?;
            chosen.note = Some(format!(
                "filter: banjo's built-in {} does not take these parameters ({e}); fail2ban's \
                 {name}.conf is carried as [filters.{name}]",
                spec_text(&name, &params)
            ));
            return Ok(chosen);
        }
        if !own && let Some(def) = builtin {
            let plain = builtin::load(&name, &[]).ok().flatten();
            let spec = if plain.as_ref().is_some_and(|p| same_regexes(p, &def)) {
                name.clone()
            } else {
                spec_text(&name, &params)
            };
            return Ok(Chosen {
                name: name.clone(),
                stock_replaced: !paths.is_empty(),
                choice: FilterChoice::Builtin { spec },
                def,
                note: None,
            });
        }
        if paths.is_empty() {
            return Err(self.bad(
                "filter",
                format!(
                    "unknown filter {name:?}: {}/filter.d/ has no {name}.conf or {name}.local, and banjo \
                     has no built-in filter of that name ({})",
                    self.dir.display(),
                    builtin::names().join(", ")
                ),
            ));
        }
        let mut chosen = self.filter_from_file(&name, &paths, &params, logtype)?;
        let def = chosen.def.clone();
        let note = match &builtin {
            Some(b) if !same_regexes(b, &def) => Some(format!(
                "filter: {}/filter.d/{name}.conf (the admin's own) differs from banjo's built-in \
                 {name}; the admin's is carried as [filters.{name}]",
                self.dir.display()
            )),
            _ => None,
        };
        if builtin.as_ref().is_some_and(|b| same_regexes(b, &def)) {
            return Ok(Chosen {
                name: name.clone(),
                stock_replaced: false,
                choice: FilterChoice::Builtin { spec: name.clone() },
                def,
                note: None,
            });
        }
        chosen.note = note;
        Ok(chosen)
    }

    /// The filter read from the fail2ban files, to be written as `[filters.NAME]`.
    fn filter_from_file(
        &self,
        name: &str,
        paths: &[PathBuf],
        params: &[(String, String)],
        logtype: &str,
    ) -> Result<Chosen, ImportError> {
        let def = self.load_file_filter(name, paths, params, logtype)?;
        Ok(Chosen {
            name: name.to_string(),
            stock_replaced: false,
            choice: FilterChoice::Inline { def: def.clone() },
            def,
            note: None,
        })
    }

    fn load_file_filter(
        &self,
        name: &str,
        paths: &[PathBuf],
        params: &[(String, String)],
        logtype: &str,
    ) -> Result<FilterDef, ImportError> {
        let mut params = params.to_vec();
        // FilterReader.applyAutoOptions: logtype from the backend unless the filter sets it
        let pinned = f2bconf::read_layers(self.tree.files(), paths)?
            .own_keys("Definition")
            .iter()
            .any(|k| k == "logtype");
        if !pinned && !params.iter().any(|(k, _)| k == "logtype") {
            params.push(("logtype".to_string(), logtype.to_string()));
        }
        let mut def = f2bconf::load_layers(self.tree.files(), paths, &params)?;
        def.name = name.to_string();
        Ok(def)
    }

    /// An untouched stock filter: its .conf is fail2ban's, with no .local or .d/ of the admin's,
    /// and so are the files it includes.
    fn is_stock_filter(&self, name: &str, paths: &[PathBuf]) -> bool {
        let conf = self.dir.join("filter.d").join(format!("{name}.conf"));
        if paths != [conf.clone()] {
            return false;
        }
        let stock_file = |path: &Path| {
            let rel = path.strip_prefix(self.dir).unwrap_or(path).display().to_string();
            self.tree
                .files()
                .read(path)
                .is_ok_and(|text| self.stock.is_stock(&rel, &text))
        };
        if !stock_file(&conf) {
            return false;
        }
        let Ok(layers) = f2bconf::read_layers(self.tree.files(), std::slice::from_ref(&conf)) else {
            return false;
        };
        for key in ["before", "after"] {
            let Ok(Some(list)) = layers.get("INCLUDES", key, &[]) else {
                continue;
            };
            for file in list.split_whitespace() {
                let path = self.dir.join("filter.d").join(file);
                let files = self.tree.files();
                if files.exists(&path) && !stock_file(&path) {
                    return false;
                }
                if files.exists(&path.with_extension("local")) {
                    return false;
                }
            }
        }
        true
    }
}

/// The filter picked for a jail, before the jail's own filter options.
struct Chosen {
    name: String,
    stock_replaced: bool,
    choice: FilterChoice,
    def: FilterDef,
    note: Option<String>,
}

enum MapError {
    One(ImportError),
    Many(Vec<ImportError>),
}

impl From<ImportError> for MapError {
    fn from(e: ImportError) -> Self {
        MapError::One(e)
    }
}

/// The filter's options as the jail sees them: `%(known/failregex)s` and the like.
fn known_vars(def: &FilterDef) -> Vec<(String, String)> {
    let mut vars = vec![
        ("known/failregex".to_string(), def.failregex.join("\n")),
        ("known/ignoreregex".to_string(), def.ignoreregex.join("\n")),
        ("known/journalmatch".to_string(), def.journalmatch.join(" ")),
    ];
    if let Some(p) = &def.prefregex {
        vars.push(("known/prefregex".to_string(), p.clone()));
    }
    if let Some(d) = &def.datepattern {
        vars.push(("known/datepattern".to_string(), d.clone()));
    }
    vars
}

/// `name[k=v, …]` as fail2ban writes it, values quoted.
fn spec_text(name: &str, params: &[(String, String)]) -> String {
    if params.is_empty() {
        return name.to_string();
    }
    let items: Vec<String> = params.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}[{}]", items.join(", "))
}

impl JailReader<'_> {
    fn map(&self, opts: &BTreeMap<&str, Opt>, chosen: &mut Chosen, backend: &str) -> Result<Jail, MapError> {
        let mut comments = Vec::new();
        let mut changed = Vec::new();
        let mut admin = Vec::new();
        if let Some(note) = chosen.note.take() {
            comments.push(note);
        }
        self.apply_filter_options(opts, chosen, &mut comments)?;
        let settings = self.settings(opts, &mut changed, &mut admin)?;
        let (mut ban, bans, mails, others) = self.actions(opts)?;
        let mut held = None;
        if let Some(ports) = ban.ports.take() {
            let all = ports.iter().any(|p| p == "0-65535" || p == "1-65535");
            let ports: Result<Vec<String>, String> = ports.iter().map(|p| banjo_port(p)).collect();
            match ports {
                Ok(p) if !all && !p.is_empty() => ban.ports = Some(p),
                Ok(_) => {}
                Err(e) => held = Some(e),
            }
        }
        for name in &others {
            comments.push(format!("not carried: action {name}"));
        }
        let logpaths: Vec<String> = opts
            .get("logpath")
            .map(|o| {
                o.value
                    .lines()
                    .map(|l| strip_tail(l.trim()).to_string())
                    .filter(|l| !l.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let jail_journalmatch: Vec<String> = match opts.get("journalmatch") {
            Some(o) if o.at.is_some() => f2bconf::journal_matches(Some(&o.value)),
            _ => Vec::new(),
        };
        let source = sources::pick(&sources::Input {
            filter: &chosen.name,
            backend,
            logpaths: &logpaths,
            jail_journalmatch: &jail_journalmatch,
            filter_journalmatch: &chosen.def.journalmatch,
            builtin: matches!(chosen.choice, FilterChoice::Builtin { .. }),
        });
        if let Source::Unmapped { reason } = &source {
            held = Some(reason.clone());
        }
        if let Err(e) = filter::Filter::compile(&chosen.def) {
            held = Some(format!("banjo cannot compile the filter: {e}"));
        }
        if let FilterChoice::Inline { def } = &chosen.choice {
            for note in &def.unsupported {
                changed.push(note.clone());
            }
        }
        let (name, renamed) = banjo_name(self.section);
        if renamed {
            changed.push(format!(
                "the jail is called {name} in banjo ([{}] has characters banjo's jail names do not allow)",
                self.section
            ));
        }
        let mut jail = Jail {
            name,
            f2b_name: self.section.to_string(),
            at: self.line_of("enabled"),
            bans,
            filter: chosen.choice.clone(),
            settings,
            ban,
            source,
            mails,
            comments,
            held,
        };
        jail.comments
            .extend(changed.iter().map(|c| format!("changed: {c}")));
        jail.comments.extend(admin.iter().map(|c| format!("to do: {c}")));
        Ok(jail)
    }

    /// The jail's own failregex, ignoreregex, … replace its filter's (fail2ban's FilterReader
    /// takes a filter option from the jail when the jail sets it); its own journalmatch is
    /// read where the source is picked.
    fn apply_filter_options(
        &self,
        opts: &BTreeMap<&str, Opt>,
        chosen: &mut Chosen,
        comments: &mut Vec<String>,
    ) -> Result<(), MapError> {
        let regex_keys: Vec<&str> = ["failregex", "ignoreregex", "prefregex", "datepattern"]
            .into_iter()
            .filter(|k| opts.get(k).is_some_and(|o| o.at.is_some()))
            .collect();
        if regex_keys.is_empty() {
            return Ok(());
        }
        let mut def = chosen.def.clone();
        let lines = |k: &str| -> Vec<String> {
            opts[k]
                .value
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        };
        for key in &regex_keys {
            let nonempty = || Some(opts[*key].value.trim().to_string()).filter(|v| !v.is_empty());
            match *key {
                "failregex" => def.failregex = lines("failregex"),
                "ignoreregex" => def.ignoreregex = lines("ignoreregex"),
                "prefregex" => def.prefregex = nonempty(),
                _ => def.datepattern = nonempty(),
            }
        }
        if def.failregex.is_empty() {
            return Err(self
                .bad("failregex", "the jail's failregex is empty".into())
                .into());
        }
        comments.push(format!(
            "filter: the jail sets {} itself; carried as [filters.{}]",
            regex_keys.join(", "),
            self.section
        ));
        def.name = banjo_name(self.section).0;
        def.origin = format!("fail2ban jail [{}] over filter {}", self.section, chosen.name);
        chosen.choice = FilterChoice::Inline { def: def.clone() };
        chosen.def = def;
        chosen.stock_replaced = false;
        Ok(())
    }

    fn settings(
        &self,
        opts: &BTreeMap<&str, Opt>,
        changed: &mut Vec<String>,
        admin: &mut Vec<String>,
    ) -> Result<Settings, MapError> {
        let text = |k: &str| {
            opts.get(k)
                .map(|o| o.value.trim().to_string())
                .unwrap_or_default()
        };
        let maxretry = match text("maxretry").parse::<u64>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err(self
                    .bad(
                        "maxretry",
                        format!("maxretry = {:?}: expected a whole number ≥ 1", text("maxretry")),
                    )
                    .into());
            }
        };
        let findtime = self.duration("findtime", &text("findtime"), false)?;
        let bantime = self.duration("bantime", &text("bantime"), true)?;
        let increment = if jails::as_bool(&text("bantime.increment")) {
            Some(self.increment(opts, changed)?)
        } else {
            None
        };
        let mut ignoreip = Vec::new();
        for word in text("ignoreip")
            .split([' ', ',', '\n', '\t'])
            .filter(|w| !w.is_empty())
        {
            match word.parse::<IgnoreIp>() {
                Ok(_) => ignoreip.push(word.to_string()),
                Err(e) => changed.push(format!("ignoreip {word} left out: {e}")),
            }
        }
        let ignoreself = opts.get("ignoreself").is_none_or(|o| jails::as_bool(&o.value));
        let usedns = match text("usedns").to_lowercase().as_str() {
            "" => UseDns::Warn,
            word => word
                .parse::<UseDns>()
                .map_err(|e| self.bad("usedns", format!("usedns = {word}: {e}")))?,
        };
        let command = text("ignorecommand");
        if !command.is_empty() {
            admin.push(format!(
                "ignorecommand = {command} is not carried: banjo runs no commands; put the addresses \
                 it exempts into ignoreip"
            ));
        }
        let encoding = text("logencoding");
        if !encoding.is_empty()
            && !encoding.eq_ignore_ascii_case("auto")
            && !encoding.eq_ignore_ascii_case("utf-8")
        {
            changed.push(format!(
                "logencoding = {encoding}: banjo reads UTF-8 (the journal's)"
            ));
        }
        let zone = text("logtimezone");
        if !zone.is_empty() {
            changed.push(format!(
                "logtimezone = {zone}: banjo takes each journal entry's own time; text times are local"
            ));
        }
        Ok(Settings {
            maxretry,
            findtime,
            bantime,
            increment,
            ignoreip,
            ignoreself,
            usedns,
        })
    }

    /// A fail2ban time as banjo's TOML value: as written when banjo reads it the same, else
    /// in seconds.
    fn duration(&self, key: &str, text: &str, permanent_ok: bool) -> Result<String, ImportError> {
        let secs = time::seconds(text).map_err(|e| self.bad(key, e))?;
        if secs < 0.0 && permanent_ok {
            return Ok("-1".to_string());
        }
        if secs < 1.0 {
            return Err(self.bad(key, format!("{key} = {text}: expected a positive time, e.g. 10m")));
        }
        let whole = secs.round() as u64;
        let as_written = crate::config::parse_duration(text).ok().map(|d| d.as_secs());
        Ok(if as_written == Some(whole) && text.parse::<u64>().is_err() {
            toml_string(text)
        } else {
            whole.to_string()
        })
    }

    fn increment(
        &self,
        opts: &BTreeMap<&str, Opt>,
        changed: &mut Vec<String>,
    ) -> Result<Increment, MapError> {
        let text = |k: &str| {
            opts.get(k)
                .map(|o| o.value.trim().to_string())
                .unwrap_or_default()
        };
        let factor = match text("bantime.factor") {
            t if t.is_empty() => 1.0,
            t => t
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && *f > 0.0)
                .ok_or_else(|| {
                    self.bad(
                        "bantime.factor",
                        format!("bantime.factor = {t}: expected a number > 0"),
                    )
                })?,
        };
        let mut multipliers = Vec::new();
        for word in text("bantime.multipliers").split_whitespace() {
            match word.parse::<u32>() {
                Ok(n) if n >= 1 => multipliers.push(n),
                _ => {
                    return Err(self
                        .bad(
                            "bantime.multipliers",
                            format!("`{word}` is not a whole number ≥ 1"),
                        )
                        .into());
                }
            }
        }
        let formula = text("bantime.formula");
        if !formula.is_empty() && multipliers.is_empty() {
            changed.push(format!(
                "bantime.formula = {formula}: banjo computes fail2ban's default formula \
                 (bantime × 2^count × factor); use bantime_multipliers for another curve"
            ));
        }
        let time = |k: &str| -> Result<Option<String>, ImportError> {
            let t = text(k);
            if t.is_empty() {
                return Ok(None);
            }
            self.duration(k, &t, false).map(Some)
        };
        Ok(Increment {
            factor,
            multipliers,
            maxtime: time("bantime.maxtime")?,
            rndtime: time("bantime.rndtime")?,
            overalljails: jails::as_bool(&text("bantime.overalljails")),
        })
    }

    /// The jail's actions: the merged ban, whether any action banned, mail alerts, and the
    /// names of the actions not carried.
    fn actions(&self, opts: &BTreeMap<&str, Opt>) -> Result<(Ban, bool, Vec<Mail>, Vec<String>), MapError> {
        let action = opts.get("action").map(|o| o.value.clone()).unwrap_or_default();
        let at = self.layers.place(self.section, "action");
        let mut bans: Vec<Ban> = Vec::new();
        let mut mails = Vec::new();
        let mut others = Vec::new();
        let mut other_firewall = false;
        let mut problems = Vec::new();
        for item in jails::split_actions(&action) {
            let (name, params) = match f2bconf::parse_spec(&item) {
                Ok(p) => p,
                Err(e) => {
                    problems.push(self.bad("action", format!("cannot read action {item:?}: {e}")));
                    continue;
                }
            };
            let spec = actions::ActionSpec {
                name,
                params,
                at: at.clone(),
            };
            match actions::resolve(self.tree, self.dir, self.section, &spec) {
                Ok(Action::Ban(b)) => bans.push(b),
                Ok(Action::Mail(m)) => mails.push(m),
                Ok(Action::Other { name, bans }) => {
                    other_firewall |= bans;
                    others.push(name);
                }
                Err(e) => problems.push(e),
            }
        }
        if !problems.is_empty() {
            return Err(MapError::Many(problems));
        }
        let banned = !bans.is_empty() || other_firewall;
        let ban = match merge_bans(bans) {
            Some(b) => b,
            None => self.jail_ports()?,
        };
        Ok((ban, banned, mails, others))
    }

    /// With no nftables/iptables/firewalld action: the jail's own `port` and `protocol`, which
    /// fail2ban hands its `%(action_)s`.
    fn jail_ports(&self) -> Result<Ban, ImportError> {
        let port = self.get("port", &[])?.map(|o| o.value).unwrap_or_default();
        let protocol = self.get("protocol", &[])?.map(|o| o.value).unwrap_or_default();
        let ports: Vec<String> = port
            .split([',', ' '])
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .map(|w| w.replace(':', "-"))
            .collect();
        let all = ports.is_empty() || ports == ["0-65535"] || ports == ["1-65535"];
        let protocols = protocol
            .split([',', ' '])
            .filter_map(|w| w.trim().parse::<Protocol>().ok())
            .collect::<Vec<_>>();
        Ok(Ban {
            action: "the jail's port".to_string(),
            ports: (!all).then_some(ports),
            protocols: if protocols.is_empty() {
                vec![Protocol::Tcp]
            } else {
                protocols
            },
            hook: Hook::Input,
            family: Family::Inet,
            blocktype: BlockType::Drop,
            notes: vec![],
        })
    }
}

/// Several banning actions in one jail: one banjo ban covering all of them.
fn merge_bans(bans: Vec<Ban>) -> Option<Ban> {
    let mut iter = bans.into_iter();
    let mut merged = iter.next()?;
    for b in iter {
        if merged.ports != b.ports {
            merged.notes.push(format!(
                "{} and {} block different ports: banjo blocks the union for every protocol listed",
                merged.action, b.action
            ));
            merged.ports = match (merged.ports.take(), b.ports) {
                (Some(mut a), Some(c)) => {
                    for p in c {
                        if !a.contains(&p) {
                            a.push(p);
                        }
                    }
                    Some(a)
                }
                _ => None,
            };
        }
        for p in b.protocols {
            if !merged.protocols.contains(&p) {
                merged.protocols.push(p);
            }
        }
        if (b.hook, b.family, b.blocktype) != (merged.hook, merged.family, merged.blocktype) {
            merged.notes.push(format!(
                "{} and {} differ in chain, family or blocktype: banjo uses {}'s",
                merged.action, b.action, merged.action
            ));
        }
        merged.notes.extend(b.notes);
        merged.action = format!("{} + {}", merged.action, b.action);
    }
    Some(merged)
}

/// fail2ban's `NAME head`/`NAME tail` in logpath.
fn strip_tail(path: &str) -> &str {
    match path.rsplit_once(' ') {
        Some((p, "head" | "tail")) => p.trim_end(),
        _ => path,
    }
}

/// A banjo jail name for a fail2ban section, and whether it had to change.
fn banjo_name(section: &str) -> (String, bool) {
    if crate::config::section_name(section).is_ok() {
        return (section.to_string(), false);
    }
    let mut name: String = section
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_start_matches(['-', '_']).chars().take(64).collect();
    if name.is_empty() {
        name = "jail".to_string();
    }
    (name, true)
}

/// Port names fail2ban's stock jails use that banjo's `ports` does not know by name (the
/// numbers of /etc/services, tcp).
const MORE_SERVICES: &[(&str, u16)] = &[
    ("ftp-data", 20),
    ("ftp", 21),
    ("telnet", 23),
    ("domain", 53),
    ("imap2", 143),
    ("ldap", 389),
    ("ssmtp", 465),
    ("ldaps", 636),
    ("ftps-data", 989),
    ("ftps", 990),
    ("socks", 1080),
    ("openvpn", 1194),
    ("mysql", 3306),
    ("sieve", 4190),
    ("sip", 5060),
    ("sip-tls", 5061),
    ("postgresql", 5432),
    ("http-alt", 8080),
    ("webmin", 10000),
];

/// A fail2ban port as banjo's `ports` takes it: numbers and ranges as they are, names banjo
/// knows as they are, other names as their number.
fn banjo_port(port: &str) -> Result<String, String> {
    let known = |name: &str| {
        crate::config::SERVICES
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    let number = |part: &str| -> Result<String, String> {
        if part.parse::<u16>().is_ok() || known(part) {
            return Ok(part.to_string());
        }
        MORE_SERVICES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(part))
            .map(|(_, p)| p.to_string())
            .ok_or_else(|| format!("port {part:?} is not a number or a service name banjo knows"))
    };
    if let Ok(p) = number(port) {
        return Ok(p);
    }
    match port.split_once('-') {
        Some((low, high)) => Ok(format!("{}-{}", number(low)?, number(high)?)),
        None => number(port),
    }
}

/// A TOML string literal.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests;
