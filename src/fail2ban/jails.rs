//! fail2ban's jail configuration as its JailReader reads it: `jail.conf` < `jail.d/*.conf` <
//! `jail.local` < `jail.d/*.local`, `[DEFAULT]`, includes, `%(x)s`; the jail options it knows
//! and their types; the `action` list split into `NAME[k=v, …]` items.

use std::path::{Path, PathBuf};

use super::{ImportError, Tree};
use crate::filter::f2bconf::{self, Layers, Place};

/// The options fail2ban's JailReader takes from a jail section (its `_configOpts`, the filter
/// options among them), in its order; every other key is only a variable for `%(x)s`.
pub const JAIL_OPTIONS: &[&str] = &[
    "enabled",
    "backend",
    "maxretry",
    "maxmatches",
    "findtime",
    "bantime",
    "bantime.increment",
    "bantime.factor",
    "bantime.formula",
    "bantime.multipliers",
    "bantime.maxtime",
    "bantime.rndtime",
    "bantime.overalljails",
    "ignorecommand",
    "ignoreself",
    "ignoreip",
    "ignorecache",
    "filter",
    "logtimezone",
    "logencoding",
    "logpath",
    "action",
    "usedns",
    "prefregex",
    "ignoreregex",
    "failregex",
    "maxlines",
    "datepattern",
    "journalmatch",
];

/// What fail2ban's server assumes for an option no file sets (jail.conf sets most of them).
pub const SERVER_DEFAULTS: &[(&str, &str)] = &[
    ("maxretry", "3"),
    ("findtime", "600"),
    ("bantime", "600"),
    ("usedns", "warn"),
    ("ignoreself", "true"),
    ("backend", "auto"),
];

/// One option's value, expanded, and where it was written (`None`: fail2ban's default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opt {
    pub value: String,
    pub at: Option<Place>,
}

/// The files fail2ban reads for `base` (`jail`, `action.d/NAME`, `filter.d/NAME`), in order:
/// `base.conf`, `base.d/*.conf`, `base.local`, `base.d/*.local`, those that exist.
pub fn layered(tree: &dyn Tree, base: &Path) -> Vec<PathBuf> {
    let with = |ext: &str| PathBuf::from(format!("{}.{ext}", base.display()));
    let drop_ins = PathBuf::from(format!("{}.d", base.display()));
    let mut paths = vec![with("conf")];
    paths.extend(tree.glob(&drop_ins, ".conf"));
    paths.push(with("local"));
    paths.extend(tree.glob(&drop_ins, ".local"));
    paths.retain(|p| tree.files().exists(p));
    paths
}

/// Reads `jail` under `dir` with everything it includes.
pub fn read(tree: &dyn Tree, dir: &Path) -> Result<Layers, ImportError> {
    let paths = layered(tree, &dir.join("jail"));
    if paths.is_empty() {
        return Err(ImportError::NoJailConf {
            dir: dir.display().to_string(),
        });
    }
    let mut layers = f2bconf::read_layers(tree.files(), &paths).map_err(ImportError::from)?;
    // JailReader's merge_defaults: always there for %(x)s
    layers.set_default("fail2ban_version", "1.0.2");
    layers.set_default("fail2ban_confpath", &dir.display().to_string());
    Ok(layers)
}

/// `key` of jail `section`, expanded with `vars` (None when no file sets it).
pub fn get(
    layers: &Layers,
    section: &str,
    key: &str,
    vars: &[(String, String)],
) -> Result<Option<Opt>, ImportError> {
    let value = layers.get(section, key, vars).map_err(|e| match e {
        // fail2ban names the option it was reading; the loop may be found deeper
        f2bconf::F2bConfError::InterpolationTooDeep { at, name, .. } => ImportError::Value {
            at: layers
                .place(section, key)
                .map_or_else(|| format!("[{section}] {key}"), |p| p.to_string()),
            message: format!(
                "its %(…)s references loop (at {at}: %({name})s refers back to itself, directly \
                 or through other %(…)s; fail2ban: \"Recursion limit exceeded in value substitution\")"
            ),
        },
        other => ImportError::from(other),
    })?;
    Ok(value.map(|value| Opt {
        value,
        at: layers.place(section, key),
    }))
}

/// Like [`get`], with fail2ban's server default when no file sets `key`.
pub fn get_or_default(
    layers: &Layers,
    section: &str,
    key: &str,
    vars: &[(String, String)],
) -> Result<Option<Opt>, ImportError> {
    if let Some(opt) = get(layers, section, key, vars)? {
        return Ok(Some(opt));
    }
    Ok(SERVER_DEFAULTS.iter().find(|(k, _)| *k == key).map(|(_, v)| Opt {
        value: v.to_string(),
        at: None,
    }))
}

/// fail2ban's `_as_bool`.
pub fn as_bool(text: &str) -> bool {
    matches!(text.trim().to_lowercase().as_str(), "1" | "on" | "true" | "yes")
}

/// fail2ban's splitWithOptions: the `action` value split into `NAME[k=v, …]` items, each on
/// its own line or separated by spaces; brackets (with quoted values) may span lines.
pub fn split_actions(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut items = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && chars[i] != '[' {
            i += 1;
        }
        // the name may be followed by spaces and then its [options]
        let mut j = i;
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        if j < chars.len() && chars[j] == '[' && j > start {
            i = skip_options(&chars, j);
        }
        let item: String = chars[start..i].iter().collect();
        items.push(item.trim().to_string());
    }
    items.retain(|s| !s.is_empty());
    items
}

/// The index after the `[…]` groups starting at `open` (`[a=1][b=2]` and `[a=1] [b=2]` too).
fn skip_options(chars: &[char], open: usize) -> usize {
    let mut i = open;
    loop {
        // inside one [...]
        i += 1;
        let mut quote = None;
        while i < chars.len() {
            let c = chars[i];
            match quote {
                Some(q) if c == q => quote = None,
                Some(_) => {}
                None if c == '"' || c == '\'' => quote = Some(c),
                None if c == ']' => break,
                None => {}
            }
            i += 1;
        }
        if i >= chars.len() {
            return chars.len();
        }
        i += 1;
        let mut j = i;
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        if j < chars.len() && chars[j] == '[' {
            i = j;
            continue;
        }
        return i;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_split_on_lines_and_spaces_but_not_inside_brackets() {
        let text = "nftables[type=multiport, name=SMTP, port=\"25,465,587\"]\n           \
                    sendmail-whois-lines[name=SMTP, logpath=\"/var/log/a b\"] ";
        assert_eq!(
            split_actions(text),
            [
                "nftables[type=multiport, name=SMTP, port=\"25,465,587\"]",
                "sendmail-whois-lines[name=SMTP, logpath=\"/var/log/a b\"]"
            ]
        );
        assert_eq!(split_actions("a b\nc"), ["a", "b", "c"]);
        assert_eq!(
            split_actions("iptables[blocktype=RETURN,\n   returntype=DROP] x[a=1][b=2]"),
            ["iptables[blocktype=RETURN,\n   returntype=DROP]", "x[a=1][b=2]"]
        );
        assert!(split_actions("  \n ").is_empty());
    }

    #[test]
    fn booleans_are_fail2bans() {
        assert!(as_bool("true") && as_bool("Yes") && as_bool("1") && as_bool("on"));
        assert!(!as_bool("false") && !as_bool("enabled") && !as_bool(""));
    }
}
