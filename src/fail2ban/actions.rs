//! A jail's fail2ban actions, resolved as its ActionReader resolves them (`action.d/NAME.conf`,
//! `.d/`, `.local`, includes such as `nftables-common.local`; `[k=v]` parameters over `[Init]`
//! over `[Definition]`; `<tag>`s), and what each means for banjo: a ban (ports, protocols,
//! hook, family, drop/reject), a mail alert (to, from), or an action banjo does not carry.

use std::path::Path;

use super::jails::layered;
use super::{ImportError, Tree};
use crate::config::{BlockType, Family, Hook, Protocol};
use crate::filter::f2bconf::{self, Layers, Place};

/// One `NAME[k=v, …]` of a jail's `action`.
#[derive(Debug, Clone)]
pub struct ActionSpec {
    pub name: String,
    pub params: Vec<(String, String)>,
    /// Where the jail's `action` was written.
    pub at: Option<Place>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Ban(Ban),
    Mail(Mail),
    /// Not carried: reports, other firewalls' commands, scripts.
    Other {
        name: String,
        bans: bool,
    },
}

/// What a banning action blocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Ban {
    pub action: String,
    /// `None`: every port.
    pub ports: Option<Vec<String>>,
    pub protocols: Vec<Protocol>,
    pub hook: Hook,
    pub family: Family,
    pub blocktype: BlockType,
    /// What banjo does differently, one sentence each.
    pub notes: Vec<String>,
}

/// A mail alert: fail2ban's sendmail-*, mail-*, smtp.py.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub action: String,
    pub dest: String,
    pub sender: Option<String>,
    pub sendername: Option<String>,
    /// The mail carries a whois of the address.
    pub whois: bool,
    /// The mail carries the log lines (or matches) of the address.
    pub lines: bool,
    /// Bans are collected into one mail (sendmail-buffered, mail-buffered).
    pub buffered: bool,
    /// It also mails when a jail starts or stops (`actionstart`/`actionstop`).
    pub start_stop: bool,
}

/// Actions that block with another tool than nftables/iptables/firewalld: banjo's nftables ban
/// takes their place.
const OTHER_FIREWALLS: &[&str] = &[
    "shorewall",
    "ufw",
    "pf",
    "ipfw",
    "bsd-ipfw",
    "osx-ipfw",
    "osx-afctl",
    "npf",
    "apf",
    "route",
    "hostsdeny",
    "ipfilter",
    "symbiosis-blacklist-allports",
];

pub fn resolve(tree: &dyn Tree, dir: &Path, jail: &str, spec: &ActionSpec) -> Result<Action, ImportError> {
    let name = spec.name.as_str();
    if let Some(stem) = name.strip_suffix(".py") {
        if stem == "smtp" {
            let get = |k: &str| param(&spec.params, k).map(str::to_string);
            return Ok(Action::Mail(Mail {
                action: name.to_string(),
                dest: get("dest").unwrap_or_else(|| "root".into()),
                sender: get("sender"),
                sendername: get("sendername"),
                whois: false,
                lines: true,
                buffered: false,
                // smtp.py's start() and stop() mail too
                start_stop: true,
            }));
        }
        return Ok(Action::Other {
            name: name.to_string(),
            bans: false,
        });
    }
    let paths = layered(tree, &dir.join("action.d").join(name));
    if paths.is_empty() {
        return Err(ImportError::Value {
            at: at(spec),
            message: format!(
                "jail [{jail}] uses action {name:?}, but {}/action.d/ has no {name}.conf or {name}.local \
                 (fail2ban: \"Unable to read action\"); fix the name or remove it from `action`",
                dir.display()
            ),
        });
    }
    let kind = Kind::of(name);
    if kind == Kind::Other {
        let bans = OTHER_FIREWALLS.iter().any(|f| name.starts_with(f));
        return Ok(Action::Other {
            name: name.to_string(),
            bans,
        });
    }
    let layers = f2bconf::read_layers(tree.files(), &paths)?;
    let values = Values::new(&layers, jail, &spec.params)?;
    match kind {
        Kind::Mail => Ok(Action::Mail(Mail {
            action: name.to_string(),
            dest: values.get("dest")?.unwrap_or_else(|| "root".into()),
            sender: values.get("sender")?,
            sendername: values.get("sendername")?,
            whois: name.contains("whois"),
            lines: name.contains("lines") || name.contains("matches"),
            buffered: name.contains("buffered"),
            start_stop: values.mails_at_start_or_stop(),
        })),
        _ => ban(name, kind, &values).map(Action::Ban),
    }
}

fn at(spec: &ActionSpec) -> String {
    spec.at
        .as_ref()
        .map_or_else(|| "action".to_string(), |p| p.to_string())
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Nftables,
    Iptables,
    Firewalld,
    Mail,
    Other,
}

impl Kind {
    fn of(name: &str) -> Kind {
        if name.starts_with("nftables") {
            Kind::Nftables
        } else if name.starts_with("iptables") {
            Kind::Iptables
        } else if name.starts_with("firewallcmd") {
            Kind::Firewalld
        } else if name.starts_with("sendmail") || name == "mail" || name.starts_with("mail-") {
            Kind::Mail
        } else {
            Kind::Other
        }
    }
}

/// An action's values as fail2ban combines them: the `[k=v]` parameters, then `[Init]`, then
/// `[Definition]`, with `<tag>`s replaced.
struct Values<'a> {
    layers: &'a Layers,
    /// Parameters, `[Init]` values and `known/KEY` for each `[Init]` key.
    tags: Vec<(String, String)>,
}

impl<'a> Values<'a> {
    fn new(layers: &'a Layers, jail: &str, params: &[(String, String)]) -> Result<Values<'a>, ImportError> {
        let mut tags: Vec<(String, String)> = params.to_vec();
        // ActionReader: the jail's name unless the action is given one
        if param(params, "name").is_none() {
            tags.push(("name".to_string(), jail.to_string()));
        }
        for key in layers.own_keys("Init") {
            let value = layers.get("Init", &key, &[])?.unwrap_or_default();
            if !key.starts_with("known/") {
                tags.push((format!("known/{key}"), value.clone()));
            }
            if !tags.iter().any(|(k, _)| *k == key) {
                tags.push((key, value));
            }
        }
        Ok(Values { layers, tags })
    }

    /// `key` resolved, `None` when nothing sets it.
    fn get(&self, key: &str) -> Result<Option<String>, ImportError> {
        let raw = match self.tags.iter().find(|(k, _)| k == key) {
            Some((_, v)) => Some(v.clone()),
            None => self.layers.get("Definition", key, &self.tags)?,
        };
        let Some(raw) = raw else { return Ok(None) };
        let section = if self.layers.own_keys("Init").iter().any(|k| k == key) {
            "Init"
        } else {
            "Definition"
        };
        let text = self
            .layers
            .substitute_tags(section, key, &raw, &self.tags, &self.tags)?;
        Ok(Some(text.trim().to_string()))
    }
}

impl Values<'_> {
    /// Whether `actionstart` or `actionstop` runs something (the stock mail actions mail
    /// "jail started"/"stopped"; a `.local` may empty them). Only reported, so a value that
    /// does not expand counts as set.
    fn mails_at_start_or_stop(&self) -> bool {
        ["actionstart", "actionstop"]
            .iter()
            .any(|key| self.get(key).map_or(true, |v| v.is_some_and(|v| !v.is_empty())))
    }
}

fn ban(name: &str, kind: Kind, values: &Values) -> Result<Ban, ImportError> {
    let mut notes = Vec::new();
    let text = |k: &str| -> Result<String, ImportError> { Ok(values.get(k)?.unwrap_or_default()) };
    let kind_of_ports = match kind {
        Kind::Firewalld if name.contains("ipset") => {
            if text("actiontype")?.contains("--dports") {
                "multiport".to_string()
            } else {
                "allports".to_string()
            }
        }
        Kind::Firewalld if name.contains("allports") => "allports".to_string(),
        Kind::Firewalld => "multiport".to_string(),
        _ if name.contains("allports") => "allports".to_string(),
        _ => text("type")?,
    };
    let ports = match kind_of_ports.as_str() {
        "allports" => None,
        "multiport" | "oneport" | "" => Some(port_list(&text("port")?)),
        other => {
            notes.push(format!(
                "{name}: type = {other} (its own rule); banjo blocks the jail's ports instead"
            ));
            Some(port_list(&text("port")?))
        }
    };
    let protocol = text("protocol")?;
    let mut protocols = Vec::new();
    for word in protocol
        .split([',', ' '])
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        if word.eq_ignore_ascii_case("all") {
            protocols = Protocol::ALL.to_vec();
            break;
        }
        match word.parse::<Protocol>() {
            Ok(p) if !protocols.contains(&p) => protocols.push(p),
            Ok(_) => {}
            Err(_) => notes.push(format!(
                "{name}: protocol {word} is not one banjo blocks (tcp, udp, udplite, sctp); left out"
            )),
        }
    }
    if protocols.is_empty() {
        protocols.push(Protocol::Tcp);
    }
    let (hook, family) = match kind {
        Kind::Nftables => (
            nft_hook(&text("chain_hook")?, name, &mut notes),
            nft_family(&text("table_family")?, name, &mut notes),
        ),
        _ => (chain_hook(&text("chain")?, name, &mut notes), Family::Inet),
    };
    let blocktype = block(&text("blocktype")?, name, &mut notes);
    Ok(Ban {
        action: name.to_string(),
        ports,
        protocols,
        hook,
        family,
        blocktype,
        notes,
    })
}

/// fail2ban's `port`: names and numbers separated by commas, ranges with `:` (or `-`).
fn port_list(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(|w| w.replace(':', "-"))
        .collect()
}

fn nft_hook(text: &str, action: &str, notes: &mut Vec<String>) -> Hook {
    match text.trim() {
        "" | "input" => Hook::Input,
        "forward" => Hook::Forward,
        other => {
            notes.push(format!(
                "{action}: chain_hook = {other}; banjo hooks input or forward only, input here"
            ));
            Hook::Input
        }
    }
}

fn nft_family(text: &str, action: &str, notes: &mut Vec<String>) -> Family {
    match text.trim() {
        "" | "inet" => Family::Inet,
        "ip" | "ip6" => {
            notes.push(format!(
                "{action}: table_family = {}; banjo's inet table bans IPv4 and IPv6 alike",
                text.trim()
            ));
            Family::Inet
        }
        "bridge" => Family::Bridge,
        other => {
            notes.push(format!(
                "{action}: table_family = {other}; banjo has inet and bridge tables, inet here"
            ));
            Family::Inet
        }
    }
}

/// iptables' and firewalld's chain: FORWARD (and Docker's DOCKER-USER) filter routed traffic.
fn chain_hook(text: &str, action: &str, notes: &mut Vec<String>) -> Hook {
    match text.trim() {
        "" | "INPUT" | "INPUT_direct" => Hook::Input,
        "FORWARD" | "FORWARD_direct" | "DOCKER-USER" => Hook::Forward,
        other => {
            notes.push(format!(
                "{action}: chain = {other}; banjo hooks input (or forward), input here"
            ));
            Hook::Input
        }
    }
}

fn block(text: &str, action: &str, notes: &mut Vec<String>) -> BlockType {
    let word = text.split_whitespace().next().unwrap_or("").to_lowercase();
    match word.as_str() {
        "reject" => BlockType::Reject,
        "drop" => BlockType::Drop,
        "" => BlockType::Reject,
        _ => {
            notes.push(format!(
                "{action}: blocktype = {text}; banjo drops or rejects, drop here"
            ));
            BlockType::Drop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_name() {
        assert_eq!(Kind::of("nftables-multiport"), Kind::Nftables);
        assert_eq!(Kind::of("iptables-ipset-proto6-allports"), Kind::Iptables);
        assert_eq!(Kind::of("firewallcmd-rich-rules"), Kind::Firewalld);
        assert_eq!(Kind::of("sendmail-whois-lines"), Kind::Mail);
        assert_eq!(Kind::of("mail"), Kind::Mail);
        assert_eq!(Kind::of("mail-whois"), Kind::Mail);
        assert_eq!(Kind::of("abuseipdb"), Kind::Other);
    }

    #[test]
    fn ports_and_blocktypes() {
        assert_eq!(port_list("smtp,465, submission"), ["smtp", "465", "submission"]);
        assert_eq!(port_list("1000:2000"), ["1000-2000"]);
        let mut notes = vec![];
        assert_eq!(
            block("REJECT --reject-with icmp-port-unreachable", "x", &mut notes),
            BlockType::Reject
        );
        assert_eq!(block("drop", "x", &mut notes), BlockType::Drop);
        assert!(notes.is_empty());
        assert_eq!(block("RETURN", "x", &mut notes), BlockType::Drop);
        assert_eq!(notes.len(), 1);
        assert_eq!(chain_hook("DOCKER-USER", "x", &mut notes), Hook::Forward);
    }
}
