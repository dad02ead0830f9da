//! fail2ban filter.d files → `FilterDef`: INI sections, `[INCLUDES]` before/after, `.local`
//! files and `NAME.d/` drop-ins, `%(name)s` interpolation, `<tag>` substitution, `[Init]`
//! (and conditional `[Init?family=inet6]`) and `NAME[k=v]` parameters.
//!
//! Files are read through a `FileSource`, so the built-in filters (embedded in the binary) and an
//! admin's /etc/fail2ban/filter.d read alike. Compiling the regexes is left to the caller.
//!
//! The steps follow fail2ban 1.0 (client/configparserinc.py, configreader.py, filterreader.py and
//! helpers.substituteRecursiveTags) on top of Python's ConfigParser:
//! 1. read the file, then its drop-ins `NAME.d/*.conf`, `NAME.local` and `NAME.d/*.local` (each
//!    with its `before` includes first and `after` ones last, each followed by its `.local`
//!    sibling); merge them, remembering overridden values for `%(known/key)s`; a section
//!    `[S?family=inet6]` adds its keys to `[S]` as `key?family=inet6`;
//! 2. take `[Init]` values as parameters, overridden by the spec's `[k=v]` ones;
//! 3. read the seven filter options from `[Definition]`, expanding `%(name)s` from the
//!    parameters, the section and `[DEFAULT]` (and `%(section/key)s`, `%(known/key)s`);
//! 4. replace `<name>` tags that name a parameter or a key (`<lt_file/key>` too) until none is
//!    left that can be; `<HOST>`, `<F-USER>` and the like name nothing and stay.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::FilterDef;

/// Nesting of `%(name)s` references (Python configparser's MAX_INTERPOLATION_DEPTH).
const MAX_INTERPOLATION_DEPTH: usize = 10;
/// How often one `<tag>` may be replaced within one option (fail2ban's MAX_TAG_REPLACE_COUNT).
const MAX_TAG_REPLACE_COUNT: usize = 25;
/// Nesting of `[INCLUDES]`.
const MAX_INCLUDE_DEPTH: usize = 10;
/// An expanded value longer than this is refused: references that multiply, not a real filter.
const MAX_VALUE_LEN: usize = 1 << 20;
/// Every `<tag>` replacement of one option counts; a safety net above the per-tag limit.
const MAX_TAG_REPLACEMENTS: usize = 10_000;

/// The options fail2ban's FilterReader takes from a filter file; every other key is a variable.
const FILTER_OPTIONS: [&str; 7] = [
    "usedns",
    "prefregex",
    "ignoreregex",
    "failregex",
    "maxlines",
    "datepattern",
    "journalmatch",
];

const DEFAULT: &str = "DEFAULT";
const INCLUDES: &str = "INCLUDES";
const PARAMETERS: &str = "filter parameters";

/// Where filter files come from: the disk, or files embedded in the binary.
pub trait FileSource {
    fn read(&self, path: &Path) -> io::Result<String>;
    fn exists(&self, path: &Path) -> bool;
    /// The files in directory `dir` whose names end in `.EXTENSION`, sorted by name; empty if
    /// there is no such directory (fail2ban's `glob(dir/*.ext)`).
    fn list(&self, dir: &Path, extension: &str) -> Vec<PathBuf> {
        let _ = (dir, extension);
        Vec::new()
    }
}

/// Files on disk.
pub struct Disk;

impl FileSource for Disk {
    fn read(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn exists(&self, path: &Path) -> bool {
        path.is_file()
    }

    fn list(&self, dir: &Path, extension: &str) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == extension))
            .collect();
        files.sort();
        files
    }
}

/// Files embedded in the binary as (file name, contents); a path is looked up by its file name.
pub struct Embedded(pub &'static [(&'static str, &'static str)]);

impl Embedded {
    fn find(&self, path: &Path) -> Option<&'static str> {
        let name = path.file_name()?.to_str()?;
        self.0.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
    }
}

impl FileSource for Embedded {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.find(path).map(str::to_string).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "no such file among the built-in filter files",
            )
        })
    }

    fn exists(&self, path: &Path) -> bool {
        self.find(path).is_some()
    }
}

/// What went wrong reading a fail2ban filter file; every message names the file (and the line,
/// section and key where known) and what to do.
#[derive(Debug, thiserror::Error)]
pub enum F2bConfError {
    #[error("cannot read fail2ban filter file {file}: {source}")]
    Read {
        file: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "{file}:{line}: no section header before `{text}`: a fail2ban filter file is an INI file; \
         add a line `[Definition]` above line {line}"
    )]
    NoSectionHeader { file: String, line: usize, text: String },
    #[error(
        "{file}:{line}: cannot read `{text}`: expected `[section]`, `key = value`, `key: value`, \
         a comment (# or ;) or an indented continuation of the value above"
    )]
    BadLine { file: String, line: usize, text: String },
    #[error("{file}:{line}: [{section}] {key} is set twice in this file (first at line {first}); remove one")]
    DuplicateKey {
        file: String,
        line: usize,
        section: String,
        key: String,
        first: usize,
    },
    #[error("{file}:{line}: section [{section}] appears twice in this file; merge the two")]
    DuplicateSection {
        file: String,
        line: usize,
        section: String,
    },
    #[error("{file}: include cycle: {chain}; remove one of these `before`/`after` lines")]
    IncludeCycle { file: String, chain: String },
    #[error("{file}: includes nest more than {limit} files deep: {chain}")]
    IncludeTooDeep {
        file: String,
        chain: String,
        limit: usize,
    },
    #[error("{at}: %({name})s is not defined (looked in {looked_in})")]
    UndefinedName {
        at: Box<Place>,
        name: String,
        /// The places searched, and the includes that were missing if any.
        looked_in: String,
    },
    #[error("{at}: {detail}")]
    BadInterpolation { at: Box<Place>, detail: String },
    #[error(
        "{at}: %(…)s references nest more than {limit} deep at %({name})s; does a value refer to itself?"
    )]
    InterpolationTooDeep {
        at: Box<Place>,
        name: String,
        limit: usize,
    },
    #[error("{at}: <{tag}> cannot be resolved: it refers back to itself, directly or through other <…> tags")]
    TagLoop { at: Box<Place>, tag: String },
    #[error("{at} expands to more than {limit} bytes; do references multiply?")]
    TooLarge { at: Box<Place>, limit: usize },
    #[error("filter {spec:?}: {detail}")]
    BadSpec { spec: String, detail: String },
}

/// Where a value was written: shown as `file:line: [section] key` (a filter parameter has no
/// line and no section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub file: String,
    pub line: usize,
    pub section: String,
    pub key: String,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.file)?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        if !self.section.is_empty() {
            write!(f, ": [{}]", self.section)?;
        }
        write!(f, " {}", self.key)
    }
}

/// Reads the fail2ban filter at `path` with its includes and `.local` files, applies `params`
/// (from `NAME[k=v, …]`, see `parse_spec`) over its `[Init]` values, and expands everything.
pub fn load(
    src: &dyn FileSource,
    path: &Path,
    params: &[(String, String)],
) -> Result<FilterDef, F2bConfError> {
    let mut loader = Loader {
        src,
        stack: Vec::new(),
        read: Vec::new(),
        files: Vec::new(),
        missing: Vec::new(),
    };
    loader.load_with_dropins(path)?;
    let mut cfg = Config::default();
    for file in loader.files {
        cfg.merge(file);
    }
    cfg.missing = loader.missing.iter().map(|p| p.display().to_string()).collect();
    let options = cfg.filter_options(params)?;
    Ok(build(path, &cfg, params, options))
}

/// Splits a filter spec `NAME[k=v, k2="v 2"]` (fail2ban's `filter = sshd[mode=aggressive]`)
/// into the name (or path) and its parameters, in order; `[a=1][b=2]` groups are accepted too.
pub fn parse_spec(spec: &str) -> Result<(String, Vec<(String, String)>), F2bConfError> {
    let bad = |detail: String| F2bConfError::BadSpec {
        spec: spec.to_string(),
        detail,
    };
    let (name, rest) = match spec.find('[') {
        Some(i) => (&spec[..i], Some(spec[i..].trim_end())),
        None => (spec, None),
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(bad(
            "no filter name; write e.g. sshd or sshd[mode=aggressive]".into()
        ));
    }
    let Some(rest) = rest else {
        return Ok((name.to_string(), Vec::new()));
    };
    let Some(inner) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
        return Err(bad(
            "the parameters must end with `]`, e.g. sshd[mode=aggressive]".into(),
        ));
    };
    let params = parse_params(inner).map_err(bad)?;
    Ok((name.to_string(), params))
}

/// `k=v, k2="v 2", k3='v'`: fail2ban's helpers.OPTION_EXTRACT_CRE, by hand.
fn parse_params(inner: &str) -> Result<Vec<(String, String)>, String> {
    let mut params = Vec::new();
    let mut rest = inner;
    loop {
        let r = rest.trim_start();
        if r.is_empty() || (r.starts_with(',') && r[1..].trim().is_empty()) {
            return Ok(params);
        }
        let key_len = r
            .find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .unwrap_or(r.len());
        if key_len == 0 || !r[key_len..].starts_with('=') {
            return Err(format!("expected key=value at `{}`", excerpt(r)));
        }
        let key = &r[..key_len];
        let (value, after) = split_param_value(&r[key_len + 1..]);
        params.push((key.to_string(), value.trim().to_string()));
        rest = if after.is_empty() {
            after
        } else if let Some(next) = after.strip_prefix(',') {
            next
        } else if let Some(next) = after
            .strip_prefix(']')
            .and_then(|a| a.trim_start().strip_prefix('['))
        {
            next
        } else {
            return Err(format!(
                "unexpected `{}` after {key}=…; quote a value that holds `,` or `]`",
                excerpt(after)
            ));
        };
    }
}

/// A parameter value (quoted or bare up to `,`/`]`) and what follows it.
fn split_param_value(v: &str) -> (&str, &str) {
    for quote in ['"', '\''] {
        if let Some(body) = v.strip_prefix(quote)
            && let Some(end) = body.find(quote)
        {
            return (&body[..end], &body[end + 1..]);
        }
    }
    let end = v.find([',', ']']).unwrap_or(v.len());
    (&v[..end], &v[end..])
}

fn excerpt(s: &str) -> String {
    s.chars().take(25).collect()
}

// ---------------------------------------------------------------------------------------------
// Reading one file: Python ConfigParser's syntax as fail2ban configures it.

/// One value as written, with where it was written.
#[derive(Debug, Clone)]
struct Value {
    text: String,
    file: Rc<str>,
    /// 0 for filter parameters.
    line: usize,
    section: String,
    key: String,
}

impl Value {
    fn place(&self) -> Box<Place> {
        let (file, line) = (self.file.to_string(), self.line);
        Box::new(Place {
            file,
            line,
            section: self.section.clone(),
            key: self.key.clone(),
        })
    }
}

type Section = HashMap<String, Value>;

/// The sections of one file, `[DEFAULT]` among them, in file order.
#[derive(Debug, Clone, Default)]
struct ParsedFile {
    sections: Vec<(String, Section)>,
}

struct Parser {
    file: Rc<str>,
    parsed: ParsedFile,
    /// Index of the section being read.
    current: Option<usize>,
    /// The key whose value indented lines continue.
    key: Option<String>,
    /// Indentation of the line that started `key`.
    indent: usize,
}

fn parse_file(file: &Rc<str>, text: &str) -> Result<ParsedFile, F2bConfError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    let mut parser = Parser {
        file: file.clone(),
        parsed: ParsedFile::default(),
        current: None,
        key: None,
        indent: 0,
    };
    for (i, line) in text.split('\n').enumerate() {
        parser.line(i + 1, line)?;
    }
    for (_, section) in &mut parser.parsed.sections {
        for value in section.values_mut() {
            value.text.truncate(value.text.trim_end().len());
        }
    }
    Ok(parser.parsed)
}

impl Parser {
    fn line(&mut self, lineno: usize, line: &str) -> Result<(), F2bConfError> {
        let content = strip_comment(line);
        let value = content.map(str::trim).unwrap_or("");
        if value.is_empty() {
            // a blank line stays in a multi-line value (dropped later); a comment line does not
            if content.is_some()
                && let Some(v) = self.continued_value()
            {
                v.text.push('\n');
            }
            return Ok(());
        }
        let indent = line.chars().take_while(|c| c.is_whitespace()).count();
        if indent > self.indent
            && let Some(v) = self.continued_value()
        {
            v.text.push('\n');
            v.text.push_str(value);
            return Ok(());
        }
        self.indent = indent;
        if let Some(name) = section_header(value) {
            return self.open_section(lineno, name);
        }
        let Some(current) = self.current else {
            return Err(F2bConfError::NoSectionHeader {
                file: self.file.to_string(),
                line: lineno,
                text: value.into(),
            });
        };
        let Some((key, text)) = split_option(value) else {
            return Err(F2bConfError::BadLine {
                file: self.file.to_string(),
                line: lineno,
                text: value.into(),
            });
        };
        self.set(current, lineno, key, text)
    }

    fn continued_value(&mut self) -> Option<&mut Value> {
        let key = self.key.as_ref()?;
        self.parsed.sections.get_mut(self.current?)?.1.get_mut(key)
    }

    fn open_section(&mut self, lineno: usize, name: &str) -> Result<(), F2bConfError> {
        self.key = None;
        if let Some(i) = self.parsed.sections.iter().position(|(n, _)| n == name) {
            if name != DEFAULT {
                let file = self.file.to_string();
                return Err(F2bConfError::DuplicateSection {
                    file,
                    line: lineno,
                    section: name.into(),
                });
            }
            self.current = Some(i);
        } else {
            self.parsed.sections.push((name.to_string(), Section::new()));
            self.current = Some(self.parsed.sections.len() - 1);
        }
        Ok(())
    }

    fn set(&mut self, current: usize, lineno: usize, key: String, text: &str) -> Result<(), F2bConfError> {
        let (name, section) = &mut self.parsed.sections[current];
        if let Some(first) = section.get(&key) {
            return Err(F2bConfError::DuplicateKey {
                file: self.file.to_string(),
                line: lineno,
                section: name.clone(),
                key,
                first: first.line,
            });
        }
        let value = Value {
            text: text.to_string(),
            file: self.file.clone(),
            line: lineno,
            section: name.clone(),
            key: key.clone(),
        };
        section.insert(key.clone(), value);
        self.key = Some(key);
        Ok(())
    }
}

/// The line without its comment: None for a comment line (`#` or `;` first), else cut at a `;`
/// that follows whitespace (ConfigParser's inline_comment_prefixes, as fail2ban sets them).
fn strip_comment(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') || trimmed.starts_with(';') {
        return None;
    }
    let mut prev_space = false;
    for (i, c) in line.char_indices() {
        if c == ';' && prev_space {
            return Some(&line[..i]);
        }
        prev_space = c.is_whitespace();
    }
    Some(line)
}

/// `[name]` (ConfigParser's SECTCRE `\[(?P<header>.+)\]`, matched at the start).
fn section_header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    (end > 0).then(|| &rest[..end])
}

/// `key = value` or `key: value`, split at the first `=` or `:`; keys are lower-cased.
fn split_option(value: &str) -> Option<(String, &str)> {
    let i = value.find(['=', ':'])?;
    let key = value[..i].trim_end();
    (!key.is_empty()).then(|| (key.to_lowercase(), value[i + 1..].trim()))
}

// ---------------------------------------------------------------------------------------------
// Includes: which files, in which order.

struct Loader<'a> {
    src: &'a dyn FileSource,
    /// The files whose includes are being read, outermost first.
    stack: Vec<PathBuf>,
    read: Vec<PathBuf>,
    files: Vec<ParsedFile>,
    missing: Vec<PathBuf>,
}

impl Loader<'_> {
    /// fail2ban's ConfigReader.read: `NAME.conf`, the drop-ins `NAME.d/*.conf` (sorted),
    /// `NAME.local`, then `NAME.d/*.local` (sorted).
    fn load_with_dropins(&mut self, path: &Path) -> Result<(), F2bConfError> {
        let dir = path.with_extension("d");
        self.load_one(path, true)?;
        for conf in self.src.list(&dir, "conf") {
            self.load_one(&conf, false)?;
        }
        let local = path.with_extension("local");
        if local != path && self.src.exists(&local) {
            self.load_one(&local, false)?;
        }
        for local in self.src.list(&dir, "local") {
            self.load_one(&local, false)?;
        }
        Ok(())
    }

    /// `path`, then `NAME.local` beside it if there is one.
    fn load_with_local(&mut self, path: &Path, required: bool) -> Result<(), F2bConfError> {
        self.load_one(path, required)?;
        let local = path.with_extension("local");
        if local != path && self.src.exists(&local) {
            self.load_one(&local, false)?;
        }
        Ok(())
    }

    fn load_one(&mut self, path: &Path, required: bool) -> Result<(), F2bConfError> {
        let file = path.display().to_string();
        if self.stack.iter().any(|p| p == path) {
            return Err(F2bConfError::IncludeCycle {
                file,
                chain: self.chain(path),
            });
        }
        if self.read.iter().any(|p| p == path) {
            return Ok(());
        }
        if !required && !self.src.exists(path) {
            self.missing.push(path.to_path_buf());
            return Ok(());
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            return Err(F2bConfError::IncludeTooDeep {
                file,
                chain: self.chain(path),
                limit: MAX_INCLUDE_DEPTH,
            });
        }
        let text = self.src.read(path).map_err(|source| F2bConfError::Read {
            file: file.clone(),
            source,
        })?;
        let parsed = parse_file(&Rc::from(file.as_str()), &text)?;
        let (before, after) = includes(&parsed)?;
        self.stack.push(path.to_path_buf());
        for name in before {
            self.load_with_local(&beside(path, &name), false)?;
        }
        self.read.push(path.to_path_buf());
        self.files.push(parsed);
        for name in after {
            self.load_with_local(&beside(path, &name), false)?;
        }
        self.stack.pop();
        Ok(())
    }

    fn chain(&self, last: &Path) -> String {
        let mut names: Vec<String> = self.stack.iter().map(|p| p.display().to_string()).collect();
        names.push(last.display().to_string());
        names.join(" -> ")
    }
}

/// The `before` and `after` file names of a file's `[INCLUDES]` (whitespace separated).
fn includes(parsed: &ParsedFile) -> Result<(Vec<String>, Vec<String>), F2bConfError> {
    if !parsed.sections.iter().any(|(n, _)| n == INCLUDES) {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut cfg = Config::default();
    cfg.merge(parsed.clone());
    let list = |key: &str| -> Result<Vec<String>, F2bConfError> {
        let value = cfg.get(INCLUDES, key, &Section::new())?;
        Ok(value
            .map(|v| v.text.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default())
    };
    Ok((list("before")?, list("after")?))
}

/// An include name resolved against the directory of the file that names it.
fn beside(includer: &Path, name: &str) -> PathBuf {
    match includer.parent() {
        Some(dir) => dir.join(name),
        None => PathBuf::from(name),
    }
}

// ---------------------------------------------------------------------------------------------
// The merged files: lookups and %(name)s interpolation.

#[derive(Default)]
struct Config {
    defaults: Section,
    /// Named sections, and `KNOWN/<name>`: values a later file overrode, for `%(known/key)s`.
    sections: HashMap<String, Section>,
    /// Includes that were not found, for hints in error messages.
    missing: Vec<String>,
}

/// Where `%(name)s` is looked up: the section being read and the parameters.
struct Context<'a> {
    section: &'a str,
    vars: &'a Section,
}

impl Config {
    /// Adds a later file: its values override, and the overridden ones are kept as known.
    fn merge(&mut self, file: ParsedFile) {
        for (name, mut section) in file.sections {
            // `[Init?family=inet6]`: its keys join [Init] as `key?family=inet6` (fail2ban's
            // CONDITIONAL_RE `^(\w+)(\?.+)$`)
            let name = match conditional(&name) {
                Some((base, cond)) => {
                    section = section
                        .into_iter()
                        .map(|(k, v)| (format!("{k}{cond}"), v))
                        .collect();
                    base.to_string()
                }
                None => name,
            };
            if name == DEFAULT {
                self.defaults.extend(section);
                continue;
            }
            let Some(existing) = self.sections.get_mut(&name) else {
                self.sections.insert(name, section);
                continue;
            };
            let known: Vec<(String, Value)> = section
                .keys()
                .filter_map(|k| existing.get(k).map(|v| (k.clone(), v.clone())))
                .collect();
            existing.extend(section);
            self.sections
                .entry(format!("KNOWN/{name}"))
                .or_default()
                .extend(known);
        }
    }

    /// ConfigParser.get: `key` of `section` (the parameters first, `[DEFAULT]` last), expanded.
    /// None if the section or the key does not exist.
    fn get(&self, section: &str, key: &str, vars: &Section) -> Result<Option<Value>, F2bConfError> {
        let key = key.to_lowercase();
        let own = if section == DEFAULT {
            None
        } else {
            match self.sections.get(section) {
                Some(s) => s.get(&key),
                None => return Ok(None),
            }
        };
        let Some(raw) = vars.get(&key).or(own).or_else(|| self.defaults.get(&key)) else {
            return Ok(None);
        };
        let mut text = String::new();
        self.interpolate(&Context { section, vars }, raw, 1, &mut text)?;
        Ok(Some(Value { text, ..raw.clone() }))
    }

    /// The raw value `%(name)s` refers to (`name` as written).
    fn lookup<'a>(&'a self, cx: &Context<'a>, name: &str) -> Option<&'a Value> {
        let key = name.to_lowercase();
        let own = self.sections.get(cx.section).and_then(|s| s.get(&key));
        if let Some(v) = cx.vars.get(&key).or(own).or_else(|| self.defaults.get(&key)) {
            return Some(v);
        }
        let (section, key) = split_reference(name)?;
        let key = key.to_lowercase();
        let named = match section.to_lowercase().as_str() {
            "default" => None,
            "known" => self
                .sections
                .get(&format!("KNOWN/{}", cx.section))
                .and_then(|s| s.get(&key)),
            _ => self.sections.get(section)?.get(&key),
        };
        named.or_else(|| self.defaults.get(&key))
    }

    /// BasicInterpolation: `%(name)s` and `%%` in `value`, appended to `out`.
    fn interpolate(
        &self,
        cx: &Context,
        value: &Value,
        depth: usize,
        out: &mut String,
    ) -> Result<(), F2bConfError> {
        let mut rest = value.text.as_str();
        while let Some(p) = rest.find('%') {
            out.push_str(&rest[..p]);
            rest = &rest[p..];
            if let Some(after) = rest.strip_prefix("%%") {
                out.push('%');
                rest = after;
            } else if rest.starts_with("%(") {
                let Some((name, after)) = reference(rest) else {
                    let detail = format!(
                        "bad reference `{}`: write %(name)s, or %% for a literal %",
                        excerpt(rest)
                    );
                    return Err(self.bad_interpolation(value, detail));
                };
                rest = after;
                self.expand(cx, value, name, depth, out)?;
            } else {
                let detail = format!(
                    "`{}`: a % must be followed by ( or %; write %% for a literal %",
                    excerpt(rest)
                );
                return Err(self.bad_interpolation(value, detail));
            }
            if out.len() > MAX_VALUE_LEN {
                return Err(too_large(value));
            }
        }
        out.push_str(rest);
        Ok(())
    }

    /// Appends what `%(name)s`, found in `value`, stands for.
    fn expand(
        &self,
        cx: &Context,
        value: &Value,
        name: &str,
        depth: usize,
        out: &mut String,
    ) -> Result<(), F2bConfError> {
        if name == "__name__" {
            out.push_str(cx.section);
            return Ok(());
        }
        let Some(found) = self.lookup(cx, name) else {
            return Err(self.undefined(cx, value, name));
        };
        if !found.text.contains('%') {
            out.push_str(&found.text);
            return Ok(());
        }
        if depth >= MAX_INTERPOLATION_DEPTH {
            return Err(F2bConfError::InterpolationTooDeep {
                at: value.place(),
                name: name.to_string(),
                limit: MAX_INTERPOLATION_DEPTH,
            });
        }
        self.interpolate(cx, found, depth + 1, out)
    }

    fn undefined(&self, cx: &Context, value: &Value, name: &str) -> F2bConfError {
        let mut looked_in = format!("the filter parameters, [Init], [{}] and [DEFAULT]", cx.section);
        if !self.missing.is_empty() {
            looked_in += &format!(
                "; these included files were not found: {}",
                self.missing.join(", ")
            );
        }
        F2bConfError::UndefinedName {
            at: value.place(),
            name: name.to_string(),
            looked_in,
        }
    }

    fn bad_interpolation(&self, value: &Value, detail: String) -> F2bConfError {
        F2bConfError::BadInterpolation {
            at: value.place(),
            detail,
        }
    }
}

/// `S?cond` → (`S`, `?cond`) for a conditional section name.
fn conditional(name: &str) -> Option<(&str, &str)> {
    let q = name.find('?')?;
    let (base, cond) = name.split_at(q);
    let word = |c: char| c.is_alphanumeric() || c == '_';
    (!base.is_empty() && base.chars().all(word) && cond.len() > 1).then_some((base, cond))
}

/// The condition that picks conditional values, from the parameters: `?family=inet6` when the
/// filter is used with `family=inet6` (fail2ban applies the same to actions).
fn condition_of(vars: &Section) -> Option<String> {
    vars.get("family").map(|v| format!("?family={}", v.text))
}

/// `%(name)s…` → (name, what follows); None if that is not a well-formed reference.
fn reference(s: &str) -> Option<(&str, &str)> {
    let body = s.strip_prefix("%(")?;
    let end = body.find(')')?;
    let after = body[end + 1..].strip_prefix('s')?;
    (end > 0).then(|| (&body[..end], after))
}

/// `section/key` (fail2ban's SECTION_OPTSUBST_CRE: the section is `[\w-]+`).
fn split_reference(name: &str) -> Option<(&str, &str)> {
    let (section, key) = name.split_once('/')?;
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    (!section.is_empty() && section.chars().all(word) && !key.is_empty()).then_some((section, key))
}

fn too_large(value: &Value) -> F2bConfError {
    F2bConfError::TooLarge {
        at: value.place(),
        limit: MAX_VALUE_LEN,
    }
}

// ---------------------------------------------------------------------------------------------
// The filter: [Init] and parameters, the seven options, <tag> substitution.

impl Config {
    /// The filter options, expanded, by name (only those the files or parameters set).
    fn filter_options(&self, params: &[(String, String)]) -> Result<Options, F2bConfError> {
        let vars = self.init_options(params)?;
        let mut tags = vars.clone();
        for name in FILTER_OPTIONS {
            if !vars.contains_key(name)
                && let Some(v) = self.get("Definition", name, &vars)?
            {
                tags.insert(name.to_string(), v);
            }
        }
        let mut options = HashMap::new();
        for name in FILTER_OPTIONS {
            if let Some(v) = tags.get(name) {
                let text = self.substitute_tags(name, v, &tags, &vars)?;
                options.insert(name, Value { text, ..v.clone() });
            }
        }
        Ok(options)
    }

    /// The parameters, then the `[Init]` values they do not override (each also as `known/key`).
    fn init_options(&self, params: &[(String, String)]) -> Result<Section, F2bConfError> {
        let mut vars = Section::new();
        for (key, text) in params {
            let key = key.to_lowercase();
            let value = Value {
                text: text.clone(),
                file: Rc::from(PARAMETERS),
                line: 0,
                section: String::new(),
                key: key.clone(),
            };
            vars.insert(key, value);
        }
        let Some(init) = self.sections.get("Init") else {
            return Ok(vars);
        };
        let mut keys: Vec<&String> = init.keys().collect();
        keys.sort();
        for key in keys {
            let Some(value) = self.get("Init", key, &Section::new())? else {
                continue;
            };
            if !key.starts_with("known/") {
                vars.insert(format!("known/{key}"), value.clone());
            }
            vars.entry(key.clone()).or_insert(value);
        }
        // `[Init?family=inet6]` values stand in for the plain ones when used with family=inet6
        if let Some(cond) = condition_of(&vars) {
            let given = |k: &str| params.iter().any(|(p, _)| p.eq_ignore_ascii_case(k));
            let picked: Vec<(String, Value)> = vars
                .iter()
                .filter_map(|(k, v)| Some((k.strip_suffix(cond.as_str())?.to_string(), v.clone())))
                .filter(|(k, _)| !k.starts_with("known/") && !given(k))
                .collect();
            vars.extend(picked);
        }
        Ok(vars)
    }

    /// fail2ban's substituteRecursiveTags for one option: `<name>` → the parameter or the
    /// `[Definition]` key `name`, repeated until nothing more can be replaced.
    fn substitute_tags(
        &self,
        key: &str,
        value: &Value,
        tags: &Section,
        vars: &Section,
    ) -> Result<String, F2bConfError> {
        let mut text = value.text.clone();
        let mut counts: HashMap<String, usize> = HashMap::new();
        let mut total = 0;
        loop {
            let mut changed = false;
            let mut pos = 0;
            while let Some((start, end)) = find_tag(&text, pos) {
                let name = text[start + 1..end - 1].to_string();
                let count = counts.get(&name).copied().unwrap_or(0);
                if name == key || count >= MAX_TAG_REPLACE_COUNT || total >= MAX_TAG_REPLACEMENTS {
                    return Err(F2bConfError::TagLoop {
                        at: value.place(),
                        tag: name,
                    });
                }
                let Some(replacement) = self.tag_value(&name, tags, vars)? else {
                    pos = end;
                    continue;
                };
                let tag = text[start..end].to_string();
                text = text.replace(&tag, &replacement);
                if text.len() > MAX_VALUE_LEN {
                    return Err(too_large(value));
                }
                counts.insert(name, count + 1);
                total += 1;
                changed = true;
                pos = start;
            }
            if !changed || find_tag(&text, 0).is_none() {
                return Ok(text);
            }
        }
    }

    /// What `<name>` stands for: a parameter, `[Init]` or filter option, else (fail2ban's
    /// getCombOption) `[Definition]`/`[DEFAULT]` `name`, or `section/key`, `known/key`.
    fn tag_value(&self, name: &str, tags: &Section, vars: &Section) -> Result<Option<String>, F2bConfError> {
        let given = tags.get(name).is_some_and(|v| &*v.file == PARAMETERS);
        if let Some(cond) = condition_of(vars)
            && !given
            && !name.contains('?')
            && let Some(v) = self.tag_value(&format!("{name}{cond}"), tags, vars)?
        {
            return Ok(Some(v));
        }
        if let Some(v) = tags.get(name) {
            return Ok(Some(v.text.clone()));
        }
        if let Some((section, key)) = split_tag_reference(name) {
            let sections = match section.to_lowercase().as_str() {
                "known" => vec!["KNOWN/Definition".to_string(), "Definition".to_string()],
                "default" => vec![DEFAULT.to_string()],
                _ => vec![section.to_string()],
            };
            for s in sections {
                if let Some(v) = self.get(&s, key, &Section::new())? {
                    return Ok(Some(v.text));
                }
            }
        }
        Ok(self.get("Definition", name, vars)?.map(|v| v.text))
    }
}

/// The next `<name>` at or after `pos` (fail2ban's TAG_CRE `<([^ <>]+)>`), as a byte range.
fn find_tag(text: &str, pos: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut i = pos;
    while let Some(off) = bytes.get(i..)?.iter().position(|&b| b == b'<') {
        let start = i + off;
        let len = bytes[start + 1..]
            .iter()
            .position(|&b| matches!(b, b' ' | b'<' | b'>'));
        match len {
            Some(n) if n > 0 && bytes[start + 1 + n] == b'>' => return Some((start, start + n + 2)),
            Some(n) => i = start + 1 + n,
            None => return None,
        }
    }
    None
}

/// `section/key` in a tag (fail2ban's SECTION_OPTNAME_CRE `^([\w\-]+)/([^\s>]+)$`).
fn split_tag_reference(name: &str) -> Option<(&str, &str)> {
    let (section, key) = split_reference(name)?;
    (!key.contains(char::is_whitespace)).then_some((section, key))
}

// ---------------------------------------------------------------------------------------------
// The result.

type Options = HashMap<&'static str, Value>;

fn build(path: &Path, cfg: &Config, params: &[(String, String)], options: Options) -> FilterDef {
    let nonempty = |name: &str| {
        option(&options, name)
            .filter(|t| !t.trim().is_empty())
            .map(str::to_string)
    };
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    FilterDef {
        name,
        origin: path.display().to_string(),
        failregex: regex_lines(option(&options, "failregex")),
        ignoreregex: regex_lines(option(&options, "ignoreregex")),
        prefregex: nonempty("prefregex"),
        datepattern: nonempty("datepattern"),
        journalmatch: journal_matches(option(&options, "journalmatch")),
        maxlines: option(&options, "maxlines")
            .and_then(|m| m.trim().parse::<usize>().ok())
            .unwrap_or(1),
        unsupported: unsupported(cfg, params, &options),
    }
}

fn option<'a>(options: &'a Options, name: &str) -> Option<&'a str> {
    options.get(name).map(|v| v.text.as_str())
}

/// One regex per line; empty lines (e.g. from an empty `<mdre-normal>`) are dropped.
fn regex_lines(text: Option<&str>) -> Vec<String> {
    let lines = text.unwrap_or("").split('\n');
    lines
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// `_SYSTEMD_UNIT=x.service + _COMM=x` as its tokens (split as fail2ban does, by shlex);
/// separate lines, which fail2ban adds as alternatives, are joined with a `+` token.
pub fn journal_matches(text: Option<&str>) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::new();
    for line in text.unwrap_or("").split('\n').filter(|l| !l.trim().is_empty()) {
        if tokens.last().is_some_and(|t| t != "+") {
            tokens.push("+".to_string());
        }
        tokens.extend(shell_words(line));
    }
    tokens
}

/// Python's `shlex.split` (POSIX): whitespace separates words, quotes group, `\` escapes.
/// An unclosed quote runs to the end of the line instead of failing.
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => words.extend(word.take()),
            '\\' => word.get_or_insert_default().extend(chars.next()),
            '\'' => {
                let w = word.get_or_insert_default();
                w.extend(chars.by_ref().take_while(|&q| q != '\''));
            }
            '"' => {
                let w = word.get_or_insert_default();
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' if matches!(chars.peek(), Some('"' | '\\')) => w.extend(chars.next()),
                        q => w.push(q),
                    }
                }
            }
            c => word.get_or_insert_default().push(c),
        }
    }
    words.extend(word);
    words
}

/// One sentence per option the file sets that banjo cannot honour.
fn unsupported(cfg: &Config, params: &[(String, String)], options: &Options) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(m) = option(options, "maxlines") {
        match m.trim().parse::<usize>() {
            Ok(n) if n > super::multiline::MAX_LINES => notes.push(format!(
                "maxlines = {n}: banjo keeps at most {} lines per filter and source",
                super::multiline::MAX_LINES
            )),
            Ok(_) => {}
            Err(_) => notes.push(format!(
                "maxlines = {m:?}: not a whole number; ignored, as fail2ban does"
            )),
        }
    }
    if let Some(u) = option(options, "usedns").map(str::trim).filter(|u| !u.is_empty()) {
        notes.push(format!(
            "usedns = {u}: banjo takes usedns from the jail only; set it on the jail if you need it"
        ));
    }
    let own = |key: &str| {
        let param = params
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone());
        let in_section = |s: &str| {
            cfg.sections
                .get(s)
                .and_then(|s| s.get(key))
                .map(|v| v.text.clone())
        };
        param
            .or_else(|| in_section("Init"))
            .or_else(|| in_section("Definition"))
    };
    if let Some(c) = own("ignorecommand") {
        notes.push(format!(
            "ignorecommand = {c}: banjo does not run ignore commands; the addresses it would exempt are not exempted"
        ));
    }
    if let Some(m) = own("maxmatches") {
        notes.push(format!(
            "maxmatches = {m}: a jail setting, which fail2ban ignores in a filter file; banjo ignores it here too"
        ));
    }
    notes
}

// ---------------------------------------------------------------------------------------------
// The same reading for other fail2ban files (jail.conf and its layers, action.d): the jail
// importer (crate::fail2ban) needs sections and keys, not a filter's seven options.

/// fail2ban files read and merged in order, as its ConfigReader reads `jail` or `action.d/NAME`
/// (`NAME.conf`, `NAME.d/*.conf`, `NAME.local`, `NAME.d/*.local`): each file with its
/// `[INCLUDES]` and its `.local` sibling unless that is in the list itself.
pub struct Layers {
    cfg: Config,
}

/// Reads and merges `paths`; the first one must exist.
pub fn read_layers(src: &dyn FileSource, paths: &[PathBuf]) -> Result<Layers, F2bConfError> {
    let mut loader = Loader {
        src,
        stack: Vec::new(),
        read: Vec::new(),
        files: Vec::new(),
        missing: Vec::new(),
    };
    for (i, path) in paths.iter().enumerate() {
        loader.load_one(path, i == 0)?;
        let local = path.with_extension("local");
        if local != *path && !paths.contains(&local) && src.exists(&local) {
            loader.load_one(&local, false)?;
        }
    }
    let mut cfg = Config::default();
    for file in loader.files {
        cfg.merge(file);
    }
    cfg.missing = loader.missing.iter().map(|p| p.display().to_string()).collect();
    Ok(Layers { cfg })
}

/// Like [`load`], over a list of files read as [`read_layers`] reads them (a filter with its
/// `NAME.d/` drop-ins).
pub fn load_layers(
    src: &dyn FileSource,
    paths: &[PathBuf],
    params: &[(String, String)],
) -> Result<FilterDef, F2bConfError> {
    let Layers { cfg } = read_layers(src, paths)?;
    let options = cfg.filter_options(params)?;
    let path = paths.first().map_or(Path::new(""), PathBuf::as_path);
    Ok(build(path, &cfg, params, options))
}

impl Layers {
    /// The named sections (not `[DEFAULT]`, `[INCLUDES]` or the remembered overrides), sorted.
    pub fn sections(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .cfg
            .sections
            .keys()
            .filter(|n| !n.starts_with("KNOWN/") && n.as_str() != INCLUDES)
            .cloned()
            .collect();
        names.sort();
        names
    }

    pub fn has_section(&self, section: &str) -> bool {
        self.cfg.sections.contains_key(section)
    }

    /// The keys written in `section` itself (not those it gets from `[DEFAULT]`), sorted.
    pub fn own_keys(&self, section: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .cfg
            .sections
            .get(section)
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        keys.sort();
        keys
    }

    /// ConfigParser's `get`: `key` of `section` (`vars` first, `[DEFAULT]` last) with its
    /// `%(name)s` references expanded; `None` when neither the section nor `[DEFAULT]` has it.
    pub fn get(
        &self,
        section: &str,
        key: &str,
        vars: &[(String, String)],
    ) -> Result<Option<String>, F2bConfError> {
        let vars = self.vars(vars);
        Ok(self.cfg.get(section, key, &vars)?.map(|v| v.text))
    }

    /// Where the value `get(section, key)` starts from was written; `None` when unset.
    pub fn place(&self, section: &str, key: &str) -> Option<Place> {
        let key = key.to_lowercase();
        let own = self.cfg.sections.get(section).and_then(|s| s.get(&key));
        own.or_else(|| self.cfg.defaults.get(&key)).map(|v| *v.place())
    }

    /// Adds a `[DEFAULT]` value unless a file set one (fail2ban's `merge_defaults`).
    pub fn set_default(&mut self, key: &str, value: &str) {
        let key = key.to_lowercase();
        self.cfg.defaults.entry(key.clone()).or_insert(Value {
            text: value.to_string(),
            file: Rc::from("fail2ban's built-in defaults"),
            line: 0,
            section: DEFAULT.to_string(),
            key,
        });
    }

    /// fail2ban's substituteRecursiveTags for one value: `<name>` replaced by `tags[name]`, else
    /// by `[Definition]` `name` (with `vars`), `<section/key>` and `<known/key>` alike; tags that
    /// name nothing (`<ip>`) stay.
    pub fn substitute_tags(
        &self,
        section: &str,
        key: &str,
        text: &str,
        tags: &[(String, String)],
        vars: &[(String, String)],
    ) -> Result<String, F2bConfError> {
        let value = Value {
            text: text.to_string(),
            ..self.place_value(section, key)
        };
        self.cfg
            .substitute_tags(key, &value, &self.vars(tags), &self.vars(vars))
    }

    fn place_value(&self, section: &str, key: &str) -> Value {
        let place = self.place(section, key);
        Value {
            text: String::new(),
            file: Rc::from(place.as_ref().map_or(PARAMETERS, |p| p.file.as_str())),
            line: place.as_ref().map_or(0, |p| p.line),
            section: section.to_string(),
            key: key.to_string(),
        }
    }

    fn vars(&self, vars: &[(String, String)]) -> Section {
        vars.iter()
            .map(|(k, v)| {
                let key = k.to_lowercase();
                let value = Value {
                    text: v.clone(),
                    file: Rc::from(PARAMETERS),
                    line: 0,
                    section: String::new(),
                    key: key.clone(),
                };
                (key, value)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/f2bconf")
    }

    fn fixture(name: &str, params: &[(&str, &str)]) -> Result<FilterDef, F2bConfError> {
        let params: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        load(&Disk, &fixtures().join(name), &params)
    }

    /// Files held in memory, for tests that need no fixture file.
    struct Mem(Vec<(String, String)>);

    impl Mem {
        fn new(files: &[(&str, &str)]) -> Mem {
            Mem(files
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect())
        }

        fn load(&self, name: &str) -> Result<FilterDef, F2bConfError> {
            load(self, Path::new(name), &[])
        }
    }

    impl FileSource for Mem {
        fn read(&self, path: &Path) -> io::Result<String> {
            let name = path.to_string_lossy();
            let found = self.0.iter().find(|(n, _)| *n == name).map(|(_, t)| t.clone());
            found.ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "not in Mem"))
        }

        fn exists(&self, path: &Path) -> bool {
            self.read(path).is_ok()
        }

        fn list(&self, dir: &Path, extension: &str) -> Vec<PathBuf> {
            let mut files: Vec<PathBuf> = self
                .0
                .iter()
                .map(|(n, _)| PathBuf::from(n))
                .filter(|p| p.parent() == Some(dir) && p.extension().is_some_and(|x| x == extension))
                .collect();
            files.sort();
            files
        }
    }

    #[test]
    fn dropins_come_after_the_file_and_local_files_last() {
        // fail2ban's order: a.conf, a.d/*.conf, a.local, a.d/*.local
        let src = Mem::new(&[
            (
                "a.conf",
                "[Definition]\nfailregex = <k> <HOST>\nk = conf\nj = conf\n",
            ),
            ("a.d/20.conf", "[Definition]\nk = d20\n"),
            ("a.d/10.conf", "[Definition]\nk = d10\nj = d10\n"),
            ("a.local", "[Definition]\nj = local\n"),
            ("a.d/30.local", "[Definition]\nfailregex = <k> <j> <HOST>\n"),
        ]);
        assert_eq!(src.load("a.conf").unwrap().failregex, ["d20 local <HOST>"]);
        let plain = Mem::new(&[("a.conf", "[Definition]\nfailregex = <HOST>\n")]);
        assert_eq!(plain.load("a.conf").unwrap().failregex, ["<HOST>"]);
    }

    #[test]
    fn conditional_init_values_apply_for_their_family() {
        let src = Mem::new(&[(
            "a.conf",
            "[Definition]\nfailregex = <pre> <HOST>\n[Init]\npre = v4\n[Init?family=inet6]\npre = v6\n",
        )]);
        assert_eq!(src.load("a.conf").unwrap().failregex, ["v4 <HOST>"]);
        let six = load(&src, Path::new("a.conf"), &[("family".into(), "inet6".into())]).unwrap();
        assert_eq!(six.failregex, ["v6 <HOST>"]);
        let four = load(&src, Path::new("a.conf"), &[("family".into(), "inet".into())]).unwrap();
        assert_eq!(four.failregex, ["v4 <HOST>"]);
        let given = [("family".into(), "inet6".into()), ("pre".into(), "mine".into())];
        assert_eq!(
            load(&src, Path::new("a.conf"), &given).unwrap().failregex,
            ["mine <HOST>"]
        );
    }

    const SSHD_PREFIX: &str = r"\s*(?:\S+\s+)?(?:(?:(?:\[\d+\])?:\s+[\[\(]?sshd(?:\(\S+\))?[\]\)]?:?|[\[\(]?sshd(?:\(\S+\))?[\]\)]?:?(?:\[\d+\])?:?)\s+)?";
    const CMNFAILRE: [&str; 2] = [
        r"^Failed \S+ for <F-USER>\S+</F-USER> from <HOST>(?: port \d+)?$",
        r"^Invalid user <F-USER>\S+</F-USER> from <HOST>(?: port \d+)?$",
    ];
    const AGGRESSIVE: [&str; 2] = [
        r"^Did not receive identification string from <HOST>$",
        r"^Connection closed by <HOST>(?: port \d+)? \[preauth\]$",
    ];

    #[test]
    fn sshd_reads_common_and_expands_nested_references() {
        let def = fixture("sshd.conf", &[]).unwrap();
        assert_eq!(def.name, "sshd");
        assert!(def.origin.ends_with("sshd.conf"));
        assert_eq!(
            def.prefregex.as_deref(),
            Some(format!("^{SSHD_PREFIX}<F-CONTENT>.+</F-CONTENT>$").as_str())
        );
        assert_eq!(def.failregex, CMNFAILRE);
        assert!(def.ignoreregex.is_empty());
        assert_eq!(
            def.journalmatch,
            ["_SYSTEMD_UNIT=sshd.service", "+", "_COMM=sshd"]
        );
        assert!(def.unsupported.is_empty(), "{:?}", def.unsupported);
    }

    #[test]
    fn mode_parameter_selects_the_aggressive_regexes() {
        let def = fixture("sshd.conf", &[("mode", "aggressive")]).unwrap();
        let want: Vec<&str> = CMNFAILRE.iter().chain(AGGRESSIVE.iter()).copied().collect();
        assert_eq!(def.failregex, want);
    }

    #[test]
    fn logtype_parameter_switches_the_prefix_section() {
        let def = fixture("sshd.conf", &[("logtype", "journal")]).unwrap();
        let want = r"^\s*(?:sshd(?:\[\d+\])?:?\s+)?<F-CONTENT>.+</F-CONTENT>$";
        assert_eq!(def.prefregex.as_deref(), Some(want));
    }

    #[test]
    fn known_extends_the_included_failregex_and_local_overrides() {
        let def = fixture("mysshd.conf", &[]).unwrap();
        let mut want: Vec<&str> = CMNFAILRE.iter().chain(AGGRESSIVE.iter()).copied().collect();
        want.push(r"^Extra failure from <HOST>$");
        assert_eq!(def.failregex, want, "mode = aggressive comes from mysshd.local");
        assert_eq!(def.ignoreregex, [r"^Accepted \S+ for \S+ from <HOST>"]);
        assert_eq!(def.name, "mysshd");
    }

    #[test]
    fn parameters_override_local_init_values() {
        let def = fixture("mysshd.conf", &[("mode", "normal")]).unwrap();
        assert_eq!(def.failregex.len(), 3);
    }

    #[test]
    fn multiline_values_skip_comments_and_blank_lines() {
        let def = fixture("multiline.conf", &[]).unwrap();
        let want = [
            "^first <HOST>$",
            "^second <HOST>$",
            "^third <HOST> 100% sure$",
            "^fourth;kept <HOST>$",
        ];
        assert_eq!(def.failregex, want);
        assert_eq!(def.ignoreregex, ["^ignored <HOST>$"]);
        assert_eq!(def.datepattern.as_deref(), Some("^%Y-%m-%d %H:%M:%S"));
    }

    #[test]
    fn maxlines_is_read_and_usedns_reported_unsupported() {
        let def = fixture("multiline.conf", &[]).unwrap();
        assert_eq!(def.maxlines, 10);
        assert_eq!(def.unsupported.len(), 1, "{:?}", def.unsupported);
        assert!(def.unsupported[0].starts_with("usedns = yes"));
        let huge = Mem::new(&[("a.conf", "[Definition]\nfailregex = a\nmaxlines = 100000\n")]);
        let def = huge.load("a.conf").unwrap();
        assert!(def.unsupported[0].starts_with("maxlines = 100000: banjo keeps at most"));
    }

    #[test]
    fn missing_include_is_skipped() {
        let def = fixture("missing-include.conf", &[]).unwrap();
        assert_eq!(def.failregex, ["^ok <HOST>$"]);
    }

    #[test]
    fn missing_top_level_file_is_an_error() {
        let err = fixture("no-such-filter.conf", &[]).unwrap_err();
        assert!(matches!(err, F2bConfError::Read { .. }));
        assert!(err.to_string().contains("no-such-filter.conf"), "{err}");
    }

    #[test]
    fn include_cycle_is_an_error() {
        let err = fixture("cycle-a.conf", &[]).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, F2bConfError::IncludeCycle { .. }), "{msg}");
        assert!(
            msg.contains("cycle-a.conf -> ") && msg.contains("cycle-b.conf -> "),
            "{msg}"
        );
    }

    #[test]
    fn including_itself_is_a_cycle() {
        let src = Mem::new(&[(
            "a.conf",
            "[INCLUDES]\nafter = a.conf\n[Definition]\nfailregex = x",
        )]);
        assert!(matches!(
            src.load("a.conf"),
            Err(F2bConfError::IncludeCycle { .. })
        ));
    }

    #[test]
    fn deep_includes_are_an_error() {
        let files: Vec<(String, String)> = (0..20)
            .map(|i| {
                (
                    format!("f{i}.conf"),
                    format!("[INCLUDES]\nbefore = f{}.conf\n", i + 1),
                )
            })
            .collect();
        let src = Mem(files);
        let err = src.load("f0.conf").unwrap_err();
        assert!(matches!(err, F2bConfError::IncludeTooDeep { .. }), "{err}");
    }

    #[test]
    fn undefined_name_names_file_line_section_key_and_name() {
        let err = fixture("undefined.conf", &[]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("undefined.conf:5: [Definition] failregex: %(no_such_name)s is not defined"),
            "{msg}"
        );
    }

    #[test]
    fn undefined_name_mentions_missing_includes() {
        let src = Mem::new(&[(
            "a.conf",
            "[INCLUDES]\nbefore = common.conf\n[Definition]\nfailregex = %(__prefix_line)s",
        )]);
        let msg = src.load("a.conf").unwrap_err().to_string();
        assert!(msg.contains("were not found: common.conf"), "{msg}");
    }

    #[test]
    fn no_section_header_says_to_add_definition() {
        let err = fixture("no-section.conf", &[]).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, F2bConfError::NoSectionHeader { line: 3, .. }),
            "{msg}"
        );
        assert!(msg.contains("no-section.conf:3: no section header"), "{msg}");
        assert!(msg.contains("add a line `[Definition]` above line 3"), "{msg}");
    }

    #[test]
    fn line_without_separator_names_file_and_line() {
        let src = Mem::new(&[("a.conf", "[Definition]\nfailregex = x\njust words\n")]);
        let err = src.load("a.conf").unwrap_err();
        assert!(matches!(err, F2bConfError::BadLine { line: 3, .. }), "{err}");
        assert!(
            err.to_string().starts_with("a.conf:3: cannot read `just words`"),
            "{err}"
        );
    }

    #[test]
    fn duplicates_in_one_file_are_errors_as_in_fail2ban() {
        let key = Mem::new(&[("a.conf", "[Definition]\nfailregex = x\nFailRegex = y\n")]);
        assert!(matches!(
            key.load("a.conf"),
            Err(F2bConfError::DuplicateKey {
                line: 3,
                first: 2,
                ..
            })
        ));
        let section = Mem::new(&[("a.conf", "[Definition]\n[Init]\n[Definition]\n")]);
        assert!(matches!(
            section.load("a.conf"),
            Err(F2bConfError::DuplicateSection { line: 3, .. })
        ));
    }

    #[test]
    fn percent_errors_are_reported() {
        let lone = Mem::new(&[("a.conf", "[Definition]\nfailregex = 100% <HOST>")]);
        assert!(matches!(
            lone.load("a.conf"),
            Err(F2bConfError::BadInterpolation { at, .. }) if at.line == 2
        ));
        let unclosed = Mem::new(&[("a.conf", "[Definition]\nfailregex = %(x <HOST>")]);
        assert!(matches!(
            unclosed.load("a.conf"),
            Err(F2bConfError::BadInterpolation { .. })
        ));
    }

    #[test]
    fn self_reference_is_too_deep() {
        let src = Mem::new(&[("a.conf", "[Definition]\nx = a%(x)s\nfailregex = %(x)s")]);
        let err = src.load("a.conf").unwrap_err();
        assert!(matches!(err, F2bConfError::InterpolationTooDeep { .. }), "{err}");
    }

    #[test]
    fn tag_loops_are_errors() {
        let own = Mem::new(&[("a.conf", "[Definition]\nfailregex = <failregex>")]);
        assert!(matches!(own.load("a.conf"), Err(F2bConfError::TagLoop { .. })));
        let mutual = Mem::new(&[("a.conf", "[Definition]\na = <b>\nb = <a>\nfailregex = <a>")]);
        assert!(matches!(mutual.load("a.conf"), Err(F2bConfError::TagLoop { .. })));
    }

    #[test]
    fn multiplying_references_are_refused() {
        let mut text = String::from("[Definition]\nx0 = 0123456789\n");
        for i in 1..10 {
            let p = i - 1;
            text += &format!("x{i} = %(x{p})s%(x{p})s%(x{p})s%(x{p})s%(x{p})s%(x{p})s%(x{p})s%(x{p})s\n");
        }
        text += "failregex = %(x9)s\n";
        let src = Mem(vec![("a.conf".into(), text)]);
        assert!(matches!(src.load("a.conf"), Err(F2bConfError::TooLarge { .. })));
    }

    #[test]
    fn unknown_tags_pass_through() {
        let src = Mem::new(&[(
            "a.conf",
            "[Definition]\nfailregex = ^<F-USER>\\S+</F-USER> <HOST> <ADDR> (?P<x>a) <[^.]+>\n",
        )]);
        assert_eq!(
            src.load("a.conf").unwrap().failregex,
            [r"^<F-USER>\S+</F-USER> <HOST> <ADDR> (?P<x>a) <[^.]+>"]
        );
    }

    #[test]
    fn section_references_and_default_override_order() {
        let src = Mem::new(&[
            (
                "base.conf",
                "[DEFAULT]\n_daemon = \\S*\nre = d=%(_daemon)s\n[other]\nk = o-%(_daemon)s\n",
            ),
            (
                "a.conf",
                "[INCLUDES]\nbefore = base.conf\n[Definition]\n_daemon = mine\n\
                 failregex = %(re)s\n  %(other/k)s\n  <other/k>\n  %(default/_daemon)s\n  %(__name__)s\n",
            ),
        ]);
        let def = src.load("a.conf").unwrap();
        // %(…)s is expanded in the section being read: [Definition]'s _daemon wins everywhere,
        // while a <section/key> tag is expanded in its own section, falling back to [DEFAULT]
        assert_eq!(
            def.failregex,
            ["d=mine", "o-mine", r"o-\S*", r"\S*", "Definition"]
        );
    }

    #[test]
    fn init_values_are_tags_and_known_keeps_the_file_default() {
        let src = Mem::new(&[(
            "a.conf",
            "[Init]\nport = 22\n[Definition]\nfailregex = <port> <known/port> %(port)s\njournalmatch = _COMM=x\n  _COMM=y",
        )]);
        let def = load(&src, Path::new("a.conf"), &[("port".into(), "2222".into())]).unwrap();
        assert_eq!(def.failregex, ["2222 22 2222"]);
        assert_eq!(def.journalmatch, ["_COMM=x", "+", "_COMM=y"]);
    }

    #[test]
    fn init_can_set_filter_options() {
        let src = Mem::new(&[(
            "a.conf",
            "[Init]\nmaxlines = 5\njournalmatch = _COMM=z\n[Definition]\nfailregex = a",
        )]);
        let def = src.load("a.conf").unwrap();
        assert_eq!(def.journalmatch, ["_COMM=z"]);
        assert_eq!(def.maxlines, 5);
    }

    #[test]
    fn jail_options_in_a_filter_are_reported() {
        let src = Mem::new(&[(
            "a.conf",
            "[Definition]\nfailregex = a\nignorecommand = /bin/true\nmaxmatches = 3",
        )]);
        let notes = src.load("a.conf").unwrap().unsupported;
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].starts_with("ignorecommand = /bin/true") && notes[1].starts_with("maxmatches = 3"));
    }

    #[test]
    fn embedded_files_include_each_other() {
        static FILES: &[(&str, &str)] = &[
            ("common.conf", "[DEFAULT]\n__prefix = pre:\n"),
            (
                "x.conf",
                "[INCLUDES]\nbefore = common.conf\n[Definition]\nfailregex = ^%(__prefix)s <HOST>",
            ),
        ];
        let def = load(&Embedded(FILES), Path::new("x.conf"), &[]).unwrap();
        assert_eq!(def.failregex, ["^pre: <HOST>"]);
        assert!(load(&Embedded(FILES), Path::new("y.conf"), &[]).is_err());
    }

    #[test]
    fn parse_spec_reads_fail2ban_parameter_syntax() {
        let p = |s: &str| parse_spec(s).unwrap();
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(p("sshd"), ("sshd".into(), vec![]));
        assert_eq!(
            p(" sshd[mode=aggressive] "),
            ("sshd".into(), vec![pair("mode", "aggressive")])
        );
        assert_eq!(
            p(r#"sshd[mode=aggressive, port=22, x="v 2, ]", y='q']"#).1,
            vec![
                pair("mode", "aggressive"),
                pair("port", "22"),
                pair("x", "v 2, ]"),
                pair("y", "q")
            ]
        );
        assert_eq!(
            p("/etc/f/x.conf[a=1][b=2,]").1,
            vec![pair("a", "1"), pair("b", "2")]
        );
        assert_eq!(p("x[]").1, vec![]);
        for bad in [
            "",
            "[a=1]",
            "sshd[mode=x",
            "sshd[mode]",
            "sshd[a=\"1\"b]",
            "sshd[=1]",
        ] {
            assert!(
                matches!(parse_spec(bad), Err(F2bConfError::BadSpec { .. })),
                "{bad:?}"
            );
        }
    }

    /// xorshift64*: a fixed pseudo-random sequence, so a failure reproduces.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Text made of pieces of the syntax, so the generator reaches deep paths, plus raw bytes.
    fn garbage(rng: &mut Rng) -> String {
        const PIECES: &[&str] = &[
            "[",
            "]",
            "=",
            ":",
            "%",
            "%%",
            "%(",
            ")s",
            "%(a)s",
            "%(known/a)s",
            "%(b/a)s",
            "<",
            ">",
            "<a>",
            "<b/a>",
            "<known/a>",
            "\n",
            "\n  ",
            " ",
            "\t",
            "#",
            ";",
            " ;",
            "a",
            "b",
            "failregex",
            "[Definition]",
            "[INCLUDES]",
            "[Init]",
            "[DEFAULT]",
            "[b]",
            "before = ",
            "after = ",
            "x.conf",
            "y.conf",
            "y.local",
            "mode",
            "<mode>",
            "maxlines = 3",
            "\r",
            "\u{feff}",
            "é",
            "\0",
        ];
        let mut s = String::new();
        for _ in 0..rng.below(40) {
            if rng.below(8) == 0 {
                let bytes: Vec<u8> = (0..rng.below(6)).map(|_| rng.next() as u8).collect();
                s += &String::from_utf8_lossy(&bytes);
            } else {
                s += PIECES[rng.below(PIECES.len())];
            }
        }
        s
    }

    #[test]
    fn garbage_input_never_panics() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut loaded = 0;
        for _ in 0..4000 {
            let files = vec![
                ("x.conf".to_string(), garbage(&mut rng)),
                ("y.conf".to_string(), garbage(&mut rng)),
                ("y.local".to_string(), garbage(&mut rng)),
            ];
            let params = vec![
                ("a".to_string(), garbage(&mut rng)),
                ("mode".to_string(), garbage(&mut rng)),
            ];
            loaded += usize::from(load(&Mem(files), Path::new("x.conf"), &params).is_ok());
            let _ = parse_spec(&garbage(&mut rng));
        }
        assert!(
            loaded > 100,
            "the generator should also make loadable files, made {loaded}"
        );
    }

    /// Where a fail2ban filter.d may be: BANJO_FAIL2BAN_FILTER_D, the system one, or the copy of
    /// the perf-test root.
    fn real_filter_d() -> Option<PathBuf> {
        let candidates = std::env::var_os("BANJO_FAIL2BAN_FILTER_D")
            .map(PathBuf::from)
            .into_iter()
            .chain([
                PathBuf::from("/etc/fail2ban/filter.d"),
                Path::new(env!("CARGO_MANIFEST_DIR")).join("target/compat/root/etc/fail2ban/filter.d"),
                PathBuf::from("/var/tmp/banjo-perf/root/etc/fail2ban/filter.d"),
            ]);
        candidates.into_iter().find(|d| d.join("common.conf").is_file())
    }

    /// A `<name>` left after expansion must be a fail2ban regex tag, never a config key.
    fn leftover_config_tag(line: &str) -> Option<String> {
        let mut pos = 0;
        while let Some((s, e)) = find_tag(line, pos) {
            let name = &line[s + 1..e - 1];
            let group = line[..s].ends_with("?P");
            if !group && name.starts_with("__")
                || name.starts_with("lt_")
                || name.contains("mdre")
                || name == "mode"
            {
                return Some(name.to_string());
            }
            pos = e;
        }
        None
    }

    fn is_fragment(path: &Path) -> bool {
        path.file_stem()
            .is_some_and(|s| s.to_string_lossy().ends_with("common"))
    }

    /// The real filter.d and its `.conf` files, sorted; `None` (said on stderr) without one.
    fn real_filter_paths() -> Option<(PathBuf, Vec<PathBuf>)> {
        let Some(dir) = real_filter_d() else {
            eprintln!("no fail2ban filter.d found (set BANJO_FAIL2BAN_FILTER_D); skipping");
            return None;
        };
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "conf"))
            .collect();
        paths.sort();
        Some((dir, paths))
    }

    #[test]
    fn every_real_fail2ban_filter_loads() {
        let Some((dir, paths)) = real_filter_paths() else {
            return;
        };
        let mut failures = Vec::new();
        for path in &paths {
            for params in [vec![], vec![("logtype".to_string(), "journal".to_string())]] {
                match load(&Disk, path, &params) {
                    // an include-only fragment may rely on its includer (selinux-common.conf
                    // needs selinux-ssh.conf's _type): fail2ban cannot load it alone either
                    Err(e @ F2bConfError::UndefinedName { .. }) if is_fragment(path) => {
                        eprintln!("fragment, not loadable alone (as in fail2ban): {e}");
                    }
                    Err(e) => failures.push(e.to_string()),
                    Ok(def) => {
                        let all = def.failregex.iter().chain(&def.ignoreregex).chain(&def.prefregex);
                        for line in all {
                            if line.contains("%(") || leftover_config_tag(line).is_some() {
                                failures.push(format!("{}: unexpanded: {line}", path.display()));
                            }
                        }
                        if params.is_empty() && !def.unsupported.is_empty() {
                            eprintln!("{}: {:?}", path.display(), def.unsupported);
                        }
                    }
                }
            }
        }
        eprintln!("loaded {} filter files from {}", paths.len(), dir.display());
        assert!(failures.is_empty(), "{failures:#?}");
    }

    /// The parameter sets a filter file offers: every `mode` its `mdre-MODE` keys name, every
    /// `logging` its `[L_NAME]` sections name, each `logtype`, and none.
    fn parameter_sets(text: &str) -> Vec<Vec<(String, String)>> {
        let mut sets = vec![vec![]];
        let mut add = |k: &str, v: &str| {
            let set = vec![(k.to_string(), v.to_string())];
            if !sets.contains(&set) {
                sets.push(set);
            }
        };
        for line in text.lines() {
            let key = line.split(['=', ':']).next().unwrap_or("").trim();
            if let Some(mode) = key.strip_prefix("mdre-") {
                add("mode", mode.strip_suffix("-other").unwrap_or(mode));
            }
            if let Some(l) = line.trim().strip_prefix("[L_").and_then(|l| l.strip_suffix(']')) {
                add("logging", l);
            }
        }
        for logtype in ["file", "short", "journal", "rfc5424"] {
            add("logtype", logtype);
        }
        sets
    }

    #[test]
    fn every_real_fail2ban_filter_compiles_in_every_mode() {
        let Some((_, mut paths)) = real_filter_paths() else {
            return;
        };
        paths.retain(|p| !is_fragment(p));
        let (mut failures, mut compiled, mut fallback) = (Vec::new(), 0, 0);
        for path in &paths {
            let text = std::fs::read_to_string(path).unwrap();
            for params in parameter_sets(&text) {
                let def = match load(&Disk, path, &params) {
                    Ok(def) => def,
                    Err(e) => {
                        failures.push(format!("{params:?}: {e}"));
                        continue;
                    }
                };
                match crate::filter::Filter::compile(&def) {
                    Ok(f) => {
                        compiled += 1;
                        fallback += f.failregex().iter().filter(|p| p.uses_fallback()).count();
                    }
                    Err(e) => failures.push(format!("{} {params:?}: {e}", path.display())),
                }
            }
        }
        eprintln!(
            "compiled {compiled} filter/parameter combinations; {fallback} failregexes on the fallback engine"
        );
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn real_sshd_modes_expand() {
        let Some(dir) = real_filter_d() else {
            eprintln!("no fail2ban filter.d found; skipping");
            return;
        };
        let count = |mode: &str| {
            let def = load(&Disk, &dir.join("sshd.conf"), &[("mode".into(), mode.into())]).unwrap();
            assert!(
                def.prefregex.as_deref().is_some_and(|p| p.contains("sshd")),
                "{:?}",
                def.prefregex
            );
            def.failregex.len()
        };
        let normal = count("normal");
        assert!(normal > 10);
        assert!(count("ddos") > normal && count("aggressive") > count("extra"));
    }
}
