//! The layers, lowest first: the config file, config.d/*.toml beside it (sorted by name), then
//! `BANJO_…` environment variables. Each layer is one figment provider, so every value keeps a
//! tag saying which file or variable set it. Built-in defaults are applied later, in `schema`,
//! so "not set anywhere" stays distinguishable from "set to the default".

use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml};
use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};

use super::error::ConfigError;

/// Prefix of the environment variables that override the files.
pub const ENV_PREFIX: &str = "BANJO_";
/// Separator between key levels in a variable name: `BANJO_JAILS__SSHD__ENABLED`.
pub const ENV_SPLIT: &str = "__";

/// A config file that has been read and is valid TOML.
pub struct TomlFile {
    pub path: PathBuf,
    pub text: String,
}

impl Provider for TomlFile {
    fn metadata(&self) -> Metadata {
        Metadata::from("TOML file", Source::File(self.path.clone()))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Toml::string(&self.text).data()
    }
}

/// One `BANJO_…` variable, as figment's `Env::prefixed("BANJO_").split("__")` would read it,
/// but one provider per variable so a bad value names its variable.
struct EnvVar {
    name: String,
    key: String,
    value: String,
}

impl Provider for EnvVar {
    fn metadata(&self) -> Metadata {
        Metadata::from(
            format!("environment variable {}", self.name),
            Source::Custom(self.name.clone()),
        )
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        let value: Value = self.value.parse().unwrap_or_else(|never| match never {});
        let dict = figment::util::nest(&self.key, value)
            .into_dict()
            .unwrap_or_default();
        Ok(Profile::Default.collect(dict))
    }
}

/// The main file then config.d/*.toml, read and syntax-checked. Syntax errors of all files
/// are reported together.
pub fn read_files(main: &Path) -> Result<(Vec<TomlFile>, Vec<PathBuf>), ConfigError> {
    let text = match std::fs::read_to_string(main) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError::NotFound {
                path: main.to_path_buf(),
            });
        }
        Err(source) => {
            return Err(ConfigError::Read {
                path: main.to_path_buf(),
                source,
            });
        }
    };
    let mut files = vec![TomlFile {
        path: main.to_path_buf(),
        text,
    }];
    let (drop_ins, ignored) = drop_in_paths(main)?;
    for path in drop_ins {
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        files.push(TomlFile { path, text });
    }
    let problems: Vec<ConfigError> = files.iter().filter_map(check_syntax).collect();
    match ConfigError::from_list(problems) {
        Some(e) => Err(e),
        None => Ok((files, ignored)),
    }
}

/// `config.d/*.toml` next to the main file, sorted by name; hidden files skipped.
/// Also returns the other files found there, which are not read.
fn drop_in_paths(main: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), ConfigError> {
    let dir = main.parent().unwrap_or(Path::new(".")).join("config.d");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((vec![], vec![])),
        Err(source) => return Err(ConfigError::Read { path: dir, source }),
    };
    let mut read = Vec::new();
    let mut ignored = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| ConfigError::Read {
            path: dir.clone(),
            source,
        })?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || path.is_dir() {
            continue;
        }
        if name.ends_with(".toml") {
            read.push(path);
        } else {
            ignored.push(path);
        }
    }
    read.sort();
    ignored.sort();
    Ok((read, ignored))
}

/// A syntax error in `file`, if any.
pub fn check_file(file: &TomlFile) -> Result<(), ConfigError> {
    check_syntax(file).map_or(Ok(()), Err)
}

fn check_syntax(file: &TomlFile) -> Option<ConfigError> {
    let err = file.text.parse::<toml::Table>().err()?;
    let offset = err.span().map_or(0, |s| s.start).min(file.text.len());
    let before = &file.text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = file.text[line_start..offset].chars().count() + 1;
    let line_text = file.text[line_start..].lines().next().unwrap_or("");
    let message = err.message().trim().replace('\n', "; ");
    let mut excerpt = format!(
        "\n  {line} | {line_text}\n  {pad} | {caret:>column$}",
        pad = " ".repeat(line.to_string().len()),
        caret = "^",
    );
    if let Some(hint) = syntax_hint(line_text) {
        excerpt.push_str("\n  hint: ");
        excerpt.push_str(&hint);
    }
    Some(ConfigError::Syntax {
        path: file.path.clone(),
        line,
        column,
        message,
        excerpt,
    })
}

/// The usual reasons a fail2ban admin's first TOML does not parse.
fn syntax_hint(line: &str) -> Option<String> {
    let (key, value) = line.split_once('=')?;
    let (key, value) = (key.trim(), value.trim());
    if key.starts_with("bantime.") {
        let flat = key.replace('.', "_");
        return Some(format!(
            "fail2ban's `{key}` is `{flat}` in banjo (a dot would make `bantime` a table)"
        ));
    }
    if matches!(value, "yes" | "no" | "True" | "False" | "on" | "off") {
        return Some("TOML booleans are written true and false".to_string());
    }
    let quoted = value.starts_with(['"', '\'', '[', '{']);
    if !quoted && !value.is_empty() {
        return Some(format!(
            "text needs quotes in TOML: {key} = \"{value}\"; a list is [\"a\", \"b\"]"
        ));
    }
    None
}

/// The environment layer: one provider per `BANJO_A__B…` variable. Variables without `__`
/// (`BANJO_CONFIG`, `BANJO_LOG`…) belong to the command line, not to the config tree.
pub fn env_providers<I>(env: I) -> impl Iterator<Item = impl Provider>
where
    I: IntoIterator<Item = (String, String)>,
{
    env.into_iter().filter_map(|(name, value)| {
        let prefixed = name.get(..ENV_PREFIX.len())?.eq_ignore_ascii_case(ENV_PREFIX);
        let rest = name.get(ENV_PREFIX.len()..).filter(|_| prefixed)?;
        if !rest.contains(ENV_SPLIT) {
            return None;
        }
        let key = rest.replace(ENV_SPLIT, ".").to_ascii_lowercase();
        if key.split('.').any(str::is_empty) {
            return None;
        }
        Some(EnvVar {
            name: name.clone(),
            key,
            value,
        })
    })
}

/// All layers merged, later ones winning key by key.
pub fn figment<I>(files: &[TomlFile], env: I) -> Figment
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut figment = Figment::new();
    for file in files {
        figment = figment.merge(TomlFile {
            path: file.path.clone(),
            text: file.text.clone(),
        });
    }
    for var in env_providers(env) {
        figment = figment.merge(var);
    }
    figment
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax_error(text: &str) -> String {
        let file = TomlFile {
            path: "/etc/banjo/config.toml".into(),
            text: text.into(),
        };
        check_syntax(&file).expect("a syntax error").to_string()
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let e = syntax_error("[defaults]\nmaxretry = 5\nbantime = 1d\n");
        assert!(e.starts_with("/etc/banjo/config.toml:3:"), "{e}");
        assert!(e.contains("bantime = 1d"), "{e}");
        assert!(e.contains("bantime = \"1d\""), "{e}");
    }

    #[test]
    fn dotted_fail2ban_keys_get_a_hint() {
        let e = syntax_error("[defaults]\nbantime = \"1h\"\nbantime.increment = true\n");
        assert!(e.contains("bantime_increment"), "{e}");
    }

    #[test]
    fn yes_and_no_get_a_hint() {
        let e = syntax_error("[jails.sshd]\nenabled = yes\n");
        assert!(e.contains(":2:"), "{e}");
        assert!(e.contains("true and false"), "{e}");
    }

    #[test]
    fn env_names_map_to_lowercase_key_paths() {
        let env = [
            ("BANJO_JAILS__SSHD__ENABLED".to_string(), "false".to_string()),
            ("BANJO_CONFIG".to_string(), "/tmp/x.toml".to_string()),
            ("BANJO___X".to_string(), "1".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
        ];
        let figment = figment(&[], env);
        assert!(matches!(
            figment.find_value("jails.sshd.enabled"),
            Ok(Value::Bool(_, false))
        ));
        assert!(!figment.contains("config"));
        let md = figment.find_metadata("jails.sshd.enabled").unwrap();
        assert_eq!(md.name, "environment variable BANJO_JAILS__SSHD__ENABLED");
    }
}
