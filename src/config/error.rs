//! Config errors. Each one names where the value came from (a file or an environment
//! variable), the key path, the value as written and what is expected, with an example.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Where the packaged example config lives.
pub const EXAMPLE_CONFIG: &str = "/usr/share/doc/banjo/examples/config.toml";

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Origin {
    /// A TOML file: the main config or a config.d/ drop-in.
    File(PathBuf),
    /// An environment variable, by its full name (`BANJO_DEFAULTS__BANTIME`).
    Env(String),
    /// banjo's built-in defaults.
    Builtin,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::Builtin => f.write_str("built-in defaults"),
        }
    }
}

/// Why the configuration cannot be used. `Several` holds every problem found in one pass, so
/// an admin fixes them all at once instead of one restart per typo.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{}: no such file. banjo needs a configuration file: copy the example from {EXAMPLE_CONFIG} \
         (config.toml at the top of banjo's source tree) to {} and add your jails, \
         or start banjo with --config PATH",
        path.display(), path.display()
    )]
    NotFound { path: PathBuf },

    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// The file is not TOML. `excerpt` is the offending line with a caret under the column.
    #[error("{}:{line}:{column}: not valid TOML: {message}{excerpt}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
        excerpt: String,
    },

    /// A value that has the wrong type, range or spelling.
    #[error("{origin}: {key} = {value}: {expected}")]
    BadValue {
        origin: Origin,
        key: String,
        value: String,
        expected: String,
    },

    /// A key banjo does not know. `help` says what was probably meant and lists the valid keys.
    #[error("{origin}: {key}: unknown key; {help}")]
    UnknownKey {
        origin: Origin,
        key: String,
        help: String,
    },

    /// A section that is incomplete or contradicts itself (no source, no failregex, …).
    #[error("{origin}: {key}: {message}")]
    Invalid {
        origin: Origin,
        key: String,
        message: String,
    },

    /// The filter a jail names cannot be found or does not compile.
    #[error("{origin}: {key}{}: {message}", value.as_ref().map(|v| format!(" = {v}")).unwrap_or_default())]
    Filter {
        origin: Origin,
        key: String,
        value: Option<String>,
        message: String,
    },

    /// The configuration loaded but there is nothing to do.
    #[error(
        "no enabled jails in {}: add a [jails.NAME] section with a journal or multilog source \
         (see {EXAMPLE_CONFIG}){}",
        path.display(),
        disabled_note(disabled)
    )]
    NoJails { path: PathBuf, disabled: Vec<String> },

    #[error("{} problems in the configuration:\n{}", .0.len(), list(.0))]
    Several(Vec<ConfigError>),
}

impl ConfigError {
    /// Every single problem: the list of `Several`, or this error alone.
    pub fn problems(&self) -> &[ConfigError] {
        match self {
            ConfigError::Several(all) => all,
            one => std::slice::from_ref(one),
        }
    }

    /// One error for a list of problems; `None` when the list is empty.
    pub(crate) fn from_list(mut problems: Vec<ConfigError>) -> Option<ConfigError> {
        match problems.len() {
            0 => None,
            1 => problems.pop(),
            _ => Some(ConfigError::Several(problems)),
        }
    }
}

fn disabled_note(disabled: &[String]) -> String {
    if disabled.is_empty() {
        String::new()
    } else {
        format!(
            ", or set enabled = true in one of the disabled jails: {}",
            disabled.join(", ")
        )
    }
}

fn list(problems: &[ConfigError]) -> String {
    let lines: Vec<String> = problems
        .iter()
        .map(|p| format!("  - {}", p.to_string().replace('\n', "\n    ")))
        .collect();
    lines.join("\n")
}
