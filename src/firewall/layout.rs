//! From a [`Layout`] to nf_tables objects, and the transaction that makes the kernel match it.
//!
//! Per family (inet, and bridge when a jail asks for it) one table named `layout.table` with:
//! - per jail four sets `<jail>-v4`, `-v6` (hash, `flags timeout`) and `-net4`, `-net6`
//!   (`flags interval,timeout`), see [`SetKind`];
//! - base chains `input` and/or `forward` (only the hooks some jail uses), `type filter`,
//!   `policy accept`, priority `filter - 1` (-1 in inet, -201 in bridge): banjo's drop happens
//!   before the usual `filter` chains, the way fail2ban's nftables action does it; an accept
//!   elsewhere cannot undo a drop here, and banjo never accepts anything;
//! - per jail four rules in its hook's chain, one per set (a name listed more than once, as
//!   the blocklist is, has its sets once per table and four rules per entry, all looking
//!   up the same sets):
//!   `meta l4proto {…} th dport {…} ip saddr @<jail>-v4 drop` (anonymous sets for more than one
//!   protocol or port, `cmp` for one; no port match when the jail has no ports);
//! - `reject-banned`, a regular chain that rules of `blocktype = reject` jails go to:
//!   `meta l4proto tcp reject with tcp reset`, then `reject with icmpx port-unreachable`.
//!
//! Each rule carries a comment with a fingerprint of its definition; a chain whose comments
//! differ from the wanted ones is flushed and refilled in the same transaction. Sets whose
//! definition is unchanged are left alone, so their elements (the bans) stay.

use std::collections::BTreeMap;

use rustables::expr::{
    Cmp, CmpOp, IcmpCode, Immediate, Lookup, Meta, MetaType, Payload, Register, Reject, RejectType,
    VerdictKind,
};
use rustables::{
    Batch, Chain, ChainPolicy, ChainType, Hook as NfHook, HookClass, MsgType, ProtocolFamily, Rule, Set,
    Table,
};

use super::elements::{Elem, Key, SetKind, SetRef, TYPE_INET_PROTOCOL, TYPE_INET_SERVICE};
use super::error::FirewallError;
use super::nfnl::{self, Msg, NFT_SET_ANONYMOUS, NFT_SET_CONSTANT, NFT_SET_INTERVAL, NfSocket, ParseError};
use super::txn::Txn;
use super::{JailRules, Layout};
use crate::config::{BlockType, Family, Hook, PortRange, Protocol};
use crate::name::JailName;

pub const REJECT_CHAIN: &str = "reject-banned";
/// Bumped when the rules banjo writes change shape, so that old rules are replaced.
const RULES_VERSION: u32 = 1;
const NF_ACCEPT: u32 = 1;
const PAYLOAD_NETWORK_HEADER: u32 = 1;
const PAYLOAD_TRANSPORT_HEADER: u32 = 2;

pub fn family_code(family: Family) -> u8 {
    match family {
        Family::Inet => libc::NFPROTO_INET as u8,
        Family::Bridge => libc::NFPROTO_BRIDGE as u8,
    }
}

fn rustables_family(family: Family) -> ProtocolFamily {
    match family {
        Family::Inet => ProtocolFamily::Inet,
        Family::Bridge => ProtocolFamily::Bridge,
    }
}

pub fn chain_name(hook: Hook) -> &'static str {
    match hook {
        Hook::Input => "input",
        Hook::Forward => "forward",
    }
}

/// (hook number, priority): NF_INET_LOCAL_IN/FORWARD equal NF_BR_LOCAL_IN/FORWARD.
fn hook_spec(family: Family, hook: Hook) -> (u32, i32) {
    let number = match hook {
        Hook::Input => HookClass::In as u32,
        Hook::Forward => HookClass::Forward as u32,
    };
    let filter = match family {
        Family::Inet => 0,
        Family::Bridge => -200,
    };
    (number, filter - 1)
}

// ---- what the kernel has ----------------------------------------------------------------

#[derive(Debug, Default)]
pub struct TableState {
    pub exists: bool,
    pub chains: Vec<ChainState>,
    pub sets: Vec<SetState>,
    /// Rules in dump order (chain order) with their comments.
    pub rules: Vec<(String, Option<String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainState {
    pub name: String,
    pub base: Option<(u32, i32)>,
    pub chain_type: Option<String>,
    pub policy: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetState {
    pub name: String,
    pub flags: u32,
    pub key_type: u32,
    pub key_len: u32,
}

fn attr_str(msg: &Msg<'_>, ty: u16) -> Result<Option<String>, ParseError> {
    let (_, attrs) = msg.nfgen()?;
    Ok(attrs.find(ty).map(nfnl::str_attr))
}

/// Whether table `name` exists in `family`.
pub fn table_exists(sock: &mut NfSocket, family: u8, name: &str) -> Result<bool, FirewallError> {
    let mut found = false;
    sock.dump(
        nfnl::NFT_MSG_GETTABLE,
        family,
        |_| {},
        |msg| {
            if msg.nft_msg() == Some(nfnl::NFT_MSG_NEWTABLE)
                && attr_str(msg, nfnl::NFTA_TABLE_NAME)?.as_deref() == Some(name)
            {
                found = true;
            }
            Ok(())
        },
    )
    .map_err(|e| FirewallError::from_send(format!("listing tables of family {}", family_name(family)), e))?;
    Ok(found)
}

pub fn family_name(family: u8) -> &'static str {
    match i32::from(family) {
        libc::NFPROTO_BRIDGE => "bridge",
        _ => "inet",
    }
}

pub fn read_table(sock: &mut NfSocket, family: u8, table: &str) -> Result<TableState, FirewallError> {
    let mut state = TableState {
        exists: table_exists(sock, family, table)?,
        ..TableState::default()
    };
    if !state.exists {
        return Ok(state);
    }
    let fam = family_name(family);
    let reading = |what: &str| format!("reading the {what} of table {fam} {table}");
    let chains = &mut state.chains;
    sock.dump(
        nfnl::NFT_MSG_GETCHAIN,
        family,
        |_| {},
        |msg| {
            if let Some(chain) = parse_chain(msg, table)? {
                chains.push(chain);
            }
            Ok(())
        },
    )
    .map_err(|e| FirewallError::from_send(reading("chains"), e))?;
    let sets = &mut state.sets;
    sock.dump(
        nfnl::NFT_MSG_GETSET,
        family,
        |w| w.attr_str(nfnl::NFTA_SET_TABLE, table),
        |msg| {
            if let Some(set) = parse_set(msg, table)? {
                sets.push(set);
            }
            Ok(())
        },
    )
    .map_err(|e| FirewallError::from_send(reading("sets"), e))?;
    let rules = &mut state.rules;
    sock.dump(
        nfnl::NFT_MSG_GETRULE,
        family,
        |w| w.attr_str(nfnl::NFTA_RULE_TABLE, table),
        |msg| {
            let (_, attrs) = msg.nfgen()?;
            if attrs.find(nfnl::NFTA_RULE_TABLE).map(nfnl::str_attr).as_deref() == Some(table) {
                let chain = attrs
                    .find(nfnl::NFTA_RULE_CHAIN)
                    .map(nfnl::str_attr)
                    .unwrap_or_default();
                let comment = attrs.find(nfnl::NFTA_RULE_USERDATA).and_then(nfnl::udata_comment);
                rules.push((chain, comment));
            }
            Ok(())
        },
    )
    .map_err(|e| FirewallError::from_send(reading("rules"), e))?;
    Ok(state)
}

fn parse_chain(msg: &Msg<'_>, table: &str) -> Result<Option<ChainState>, ParseError> {
    let (_, attrs) = msg.nfgen()?;
    if attrs.find(nfnl::NFTA_CHAIN_TABLE).map(nfnl::str_attr).as_deref() != Some(table) {
        return Ok(None);
    }
    let base = match attrs.find(nfnl::NFTA_CHAIN_HOOK) {
        Some(hook) => {
            let hook = nfnl::Attrs::new(hook);
            let number = hook.find(nfnl::NFTA_HOOK_HOOKNUM).and_then(nfnl::u32_be);
            let prio = hook.find(nfnl::NFTA_HOOK_PRIORITY).and_then(nfnl::u32_be);
            number.zip(prio.map(|p| p as i32))
        }
        None => None,
    };
    Ok(Some(ChainState {
        name: attrs
            .find(nfnl::NFTA_CHAIN_NAME)
            .map(nfnl::str_attr)
            .unwrap_or_default(),
        base,
        chain_type: attrs.find(nfnl::NFTA_CHAIN_TYPE).map(nfnl::str_attr),
        policy: attrs.find(nfnl::NFTA_CHAIN_POLICY).and_then(nfnl::u32_be),
    }))
}

fn parse_set(msg: &Msg<'_>, table: &str) -> Result<Option<SetState>, ParseError> {
    let (_, attrs) = msg.nfgen()?;
    if attrs.find(nfnl::NFTA_SET_TABLE).map(nfnl::str_attr).as_deref() != Some(table) {
        return Ok(None);
    }
    let num = |ty| attrs.find(ty).and_then(nfnl::u32_be).unwrap_or(0);
    Ok(Some(SetState {
        name: attrs
            .find(nfnl::NFTA_SET_NAME)
            .map(nfnl::str_attr)
            .unwrap_or_default(),
        flags: num(nfnl::NFTA_SET_FLAGS),
        key_type: num(nfnl::NFTA_SET_KEY_TYPE),
        key_len: num(nfnl::NFTA_SET_KEY_LEN),
    }))
}

// ---- what banjo wants -------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
struct ChainSpec {
    name: &'static str,
    base: Option<(u32, i32)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum RuleKind<'a> {
    Jail(&'a JailRules, SetKind),
    RejectTcp,
    RejectOther,
}

#[derive(Debug, Clone)]
struct RuleSpec<'a> {
    chain: &'static str,
    comment: String,
    kind: RuleKind<'a>,
}

/// The objects of one family's table.
#[derive(Debug)]
pub struct Plan<'a> {
    family: Family,
    table: &'a str,
    chains: Vec<ChainSpec>,
    sets: Vec<SetState>,
    rules: Vec<RuleSpec<'a>>,
}

/// Checks what the kernel cannot do before anything is sent.
pub fn check(layout: &Layout) -> Result<(), FirewallError> {
    if layout.table.is_empty() || layout.table.len() > 255 {
        return Err(FirewallError::Unsupported {
            jail: String::new(),
            reason: format!("table name {:?} must have 1 to 255 bytes", layout.table),
        });
    }
    for (i, jail) in layout.jails.iter().enumerate() {
        let unsupported = |reason: String| FirewallError::Unsupported {
            jail: jail.name.to_string(),
            reason,
        };
        if jail.name.is_empty() || SetKind::Net6.set_name(&jail.name).len() > 255 {
            return Err(unsupported("the name must have 1 to 250 bytes".into()));
        }
        // a name may have rules in several hooks and families (the blocklist's share its
        // sets); the same rules twice would only match twice
        if layout.jails[..i].iter().any(|j| j == jail) {
            return Err(unsupported(
                "the layout lists the same rules of this jail twice".into(),
            ));
        }
        if jail.family == Family::Bridge && jail.hook == Hook::Forward && jail.blocktype == BlockType::Reject
        {
            return Err(unsupported(
                "blocktype = \"reject\" is not possible with family = \"bridge\" and hook = \"forward\": \
                 the kernel rejects only in a bridge's prerouting and input hooks; use blocktype = \"drop\""
                    .into(),
            ));
        }
        if let Some(bad) = jail.ports.iter().find(|r| r.low > r.high) {
            return Err(unsupported(format!(
                "port range {}-{} is reversed",
                bad.low, bad.high
            )));
        }
    }
    Ok(())
}

pub fn plan<'a>(layout: &'a Layout, family: Family) -> Plan<'a> {
    let jails: Vec<&JailRules> = layout.jails.iter().filter(|j| j.family == family).collect();
    let mut chains = Vec::new();
    for hook in [Hook::Input, Hook::Forward] {
        if jails.iter().any(|j| j.hook == hook) {
            chains.push(ChainSpec {
                name: chain_name(hook),
                base: Some(hook_spec(family, hook)),
            });
        }
    }
    let rejects = jails.iter().any(|j| j.blocktype == BlockType::Reject);
    if rejects {
        chains.push(ChainSpec {
            name: REJECT_CHAIN,
            base: None,
        });
    }
    let mut sets = Vec::new();
    let mut rules = Vec::new();
    // a name's sets once per table, however many of its rules there are
    let mut named: Vec<&JailName> = Vec::new();
    for jail in &jails {
        if named.contains(&&jail.name) {
            continue;
        }
        named.push(&jail.name);
        for kind in SetKind::ALL {
            sets.push(SetState {
                name: kind.set_name(&jail.name),
                flags: kind.flags(),
                key_type: kind.key_type(),
                key_len: kind.key_len() as u32,
            });
        }
    }
    // rules in hook order, jails in layout order
    for hook in [Hook::Input, Hook::Forward] {
        for jail in jails.iter().filter(|j| j.hook == hook) {
            for kind in SetKind::ALL {
                rules.push(RuleSpec {
                    chain: chain_name(hook),
                    comment: jail_comment(family, jail, kind),
                    kind: RuleKind::Jail(jail, kind),
                });
            }
        }
    }
    if rejects {
        for (kind, what) in [(RuleKind::RejectTcp, "tcp"), (RuleKind::RejectOther, "other")] {
            let print = format!("{RULES_VERSION}|{family}|reject|{what}");
            rules.push(RuleSpec {
                chain: REJECT_CHAIN,
                comment: format!("banjo reject {what} {:08x}", fingerprint(&print)),
                kind,
            });
        }
    }
    Plan {
        family,
        table: &layout.table,
        chains,
        sets,
        rules,
    }
}

fn jail_comment(family: Family, jail: &JailRules, kind: SetKind) -> String {
    let print = format!(
        "{RULES_VERSION}|{family}|{}|{}|{:?}|{:?}|{}|{}",
        jail.name,
        jail.hook,
        protocols(jail),
        ports(jail),
        jail.blocktype,
        kind.suffix()
    );
    let hash = format!(" {} {:08x}", kind.suffix(), fingerprint(&print));
    let mut name = jail.name.to_string();
    while "banjo ".len() + name.len() + hash.len() > 126 {
        name.pop();
    }
    format!("banjo {name}{hash}")
}

/// FNV-1a, folded to 32 bits: stable across Rust versions, unlike `DefaultHasher`.
fn fingerprint(text: &str) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h ^ (h >> 32)) as u32
}

/// The jail's protocols, sorted, without repeats; all four when the list is empty.
fn protocols(jail: &JailRules) -> Vec<u8> {
    let list: &[Protocol] = if jail.protocols.is_empty() {
        &Protocol::ALL
    } else {
        &jail.protocols
    };
    let mut out: Vec<u8> = list.iter().map(|p| proto_number(*p)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

fn proto_number(p: Protocol) -> u8 {
    match p {
        Protocol::Tcp => libc::IPPROTO_TCP as u8,
        Protocol::Udp => libc::IPPROTO_UDP as u8,
        Protocol::UdpLite => libc::IPPROTO_UDPLITE as u8,
        Protocol::Sctp => libc::IPPROTO_SCTP as u8,
    }
}

/// The jail's port ranges, sorted, overlapping and adjacent ones merged.
fn ports(jail: &JailRules) -> Vec<PortRange> {
    let mut list = jail.ports.clone();
    list.sort();
    let mut out: Vec<PortRange> = Vec::new();
    for r in list {
        match out.last_mut() {
            Some(last) if u32::from(r.low) <= u32::from(last.high) + 1 => last.high = last.high.max(r.high),
            _ => out.push(r),
        }
    }
    out
}

// ---- the transaction --------------------------------------------------------------------

/// Writes into `txn` what turns `state` into `plan`; false when they match already.
pub fn write_changes(txn: &mut Txn, plan: &Plan<'_>, state: &TableState) -> Result<bool, FirewallError> {
    let family = rustables_family(plan.family);
    let fam = plan.family.as_str();
    let table = Table::new(family)
        .with_name(plan.table)
        .with_userdata(nfnl::comment_udata(
            "managed by banjo: changes here are undone on reload",
        ));
    let chain_ok = |spec: &ChainSpec| {
        state.chains.iter().any(|c| {
            c.name == spec.name
                && c.base == spec.base
                && (spec.base.is_none()
                    || (c.chain_type.as_deref() == Some("filter") && c.policy == Some(NF_ACCEPT)))
        })
    };
    let set_ok = |spec: &SetState| state.sets.iter().any(|s| s == spec);
    // per chain, in order (the dump lists chains in creation order, which may differ)
    let mut wanted_rules: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in &plan.rules {
        wanted_rules.entry(r.chain).or_default().push(&r.comment);
    }
    let mut have_rules: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (chain, comment) in &state.rules {
        have_rules
            .entry(chain)
            .or_default()
            .push(comment.as_deref().unwrap_or(""));
    }
    let extra_chains = state
        .chains
        .iter()
        .any(|c| !plan.chains.iter().any(|s| s.name == c.name));
    let extra_sets = state
        .sets
        .iter()
        .any(|s| s.flags & NFT_SET_ANONYMOUS == 0 && !plan.sets.iter().any(|p| p.name == s.name));
    if state.exists
        && plan.chains.iter().all(chain_ok)
        && plan.sets.iter().all(set_ok)
        && !extra_chains
        && !extra_sets
        && wanted_rules == have_rules
    {
        return Ok(false);
    }

    let mut b = Batch::new();
    if !state.exists {
        b.add(&table, MsgType::Add);
    }
    // 1. empty every existing chain: rules hold references to sets and to reject-banned
    for chain in &state.chains {
        let c = Chain::new(&table).with_name(&chain.name);
        b.add(&rule_of(&c, fam)?, MsgType::Del);
    }
    // 2. chains that go or change
    for chain in &state.chains {
        let keep = plan.chains.iter().any(|s| s.name == chain.name && chain_ok(s));
        if !keep {
            b.add(&Chain::new(&table).with_name(&chain.name), MsgType::Del);
        }
    }
    // 3. sets that go or change (their elements go with them)
    for set in state.sets.iter().filter(|s| s.flags & NFT_SET_ANONYMOUS == 0) {
        if !plan.sets.iter().any(|p| p == set) {
            b.add(&set_object(family, plan.table, &set.name), MsgType::Del);
        }
    }
    // 4. sets that are missing (the kernel wants an id for every new set). No `size`: it
    //    pre-sizes the kernel's hash table, but it is also the set's cap (nft_set_maxsize;
    //    tried in a netns on Linux 6.18: `size 1000`, the 1001st element fails with ENFILE).
    //    Growing while 100k bans go in costs the kernel about 0.1 s (rhashtable_insert_slow);
    //    a ban refused on a busy day costs more.
    let mut set_id = 0x6261_0000u32; // "ba" then a counter: unique within the transaction
    for spec in plan.sets.iter().filter(|s| !set_ok(s)) {
        set_id += 1;
        let set = set_object(family, plan.table, &spec.name)
            .with_flags(spec.flags)
            .with_key_type(spec.key_type)
            .with_key_len(spec.key_len)
            .with_id(set_id);
        b.add(&set, MsgType::Add);
    }
    // 5. chains that are missing
    for spec in plan.chains.iter().filter(|s| !chain_ok(s)) {
        let mut chain = Chain::new(&table).with_name(spec.name);
        if let Some((number, prio)) = spec.base {
            chain = chain
                .with_hook(NfHook::default().with_class(number).with_priority(prio as u32))
                .with_policy(ChainPolicy::Accept)
                .with_type(ChainType::Filter)
                .with_userdata(nfnl::comment_udata("banjo: bans of the jails with this hook"));
        }
        b.add(&chain, MsgType::Add);
    }
    txn.rustables(
        b,
        &format!("creating table {fam} {}, its chains and sets", plan.table),
    )?;
    // 6. every rule, in order, with its anonymous sets
    for spec in &plan.rules {
        write_rule(txn, plan, &table, spec, &mut set_id)?;
    }
    Ok(true)
}

fn set_object(family: ProtocolFamily, table: &str, name: &str) -> Set {
    let mut set = Set::default().with_table(table).with_name(name);
    set.family = family;
    set
}

fn rule_of(chain: &Chain, what: &str) -> Result<Rule, FirewallError> {
    Rule::new(chain).map_err(|e| FirewallError::Encode {
        what: format!("a rule of the {what} table"),
        detail: format!("{e:?}"),
    })
}

fn write_rule(
    txn: &mut Txn,
    plan: &Plan<'_>,
    table: &Table,
    spec: &RuleSpec<'_>,
    set_id: &mut u32,
) -> Result<(), FirewallError> {
    let fam = plan.family.as_str();
    let chain = Chain::new(table).with_name(spec.chain);
    let mut rule = rule_of(&chain, fam)?.with_userdata(nfnl::comment_udata(&spec.comment));
    let what = match &spec.kind {
        RuleKind::Jail(jail, kind) => {
            let mut anon = AnonSets {
                txn,
                plan,
                set_id,
                jail: &jail.name,
            };
            match_protocols(&mut rule, &mut anon, &protocols(jail))?;
            match_ports(&mut rule, &mut anon, &ports(jail))?;
            match_source(&mut rule, plan, jail, *kind)?;
            rule.add_expr(match jail.blocktype {
                BlockType::Drop => Immediate::new_verdict(VerdictKind::Drop),
                BlockType::Reject => Immediate::new_verdict(VerdictKind::Goto {
                    chain: REJECT_CHAIN.to_string(),
                }),
            });
            format!(
                "adding rule {:?} of jail {} to chain {fam} {} {}",
                spec.comment, jail.name, plan.table, spec.chain
            )
        }
        RuleKind::RejectTcp => {
            rule.add_expr(Meta::new(MetaType::L4Proto));
            rule.add_expr(Cmp::new(CmpOp::Eq, [libc::IPPROTO_TCP as u8]));
            rule.add_expr(Reject::default().with_type(RejectType::TcpRst));
            reject_what(fam, plan.table)
        }
        RuleKind::RejectOther => {
            rule.add_expr(
                Reject::default()
                    .with_type(RejectType::IcmpxUnreach)
                    .with_icmp_code(IcmpCode::PortUnreach),
            );
            reject_what(fam, plan.table)
        }
    };
    let mut b = Batch::new();
    b.add(&rule, MsgType::Add);
    txn.rustables(b, &what)
}

/// `meta l4proto tcp` or `meta l4proto { tcp, udp, … }`.
fn match_protocols(rule: &mut Rule, anon: &mut AnonSets<'_, '_>, protos: &[u8]) -> Result<(), FirewallError> {
    rule.add_expr(Meta::new(MetaType::L4Proto));
    if let [one] = protos[..] {
        rule.add_expr(Cmp::new(CmpOp::Eq, [one]));
    } else {
        let keys: Vec<Elem> = protos.iter().map(|p| plain(&[*p])).collect();
        let set = anon.create(TYPE_INET_PROTOCOL, 1, &keys, false)?;
        rule.add_expr(lookup(&set, anon.jail)?);
    }
    Ok(())
}

/// Nothing (all ports), `th dport 22`, `th dport 2525-2600` or `th dport { 25, 465, 587 }`.
fn match_ports(
    rule: &mut Rule,
    anon: &mut AnonSets<'_, '_>,
    ports: &[PortRange],
) -> Result<(), FirewallError> {
    if ports.is_empty() {
        return Ok(());
    }
    rule.add_expr(payload(PAYLOAD_TRANSPORT_HEADER, 2, 2));
    match ports {
        [one] if one.low == one.high => rule.add_expr(Cmp::new(CmpOp::Eq, one.low.to_be_bytes())),
        [one] => {
            rule.add_expr(Cmp::new(CmpOp::Gte, one.low.to_be_bytes()));
            rule.add_expr(Cmp::new(CmpOp::Lte, one.high.to_be_bytes()));
        }
        _ => {
            let interval = ports.iter().any(|r| r.low != r.high);
            let keys: Vec<Elem> = ports
                .iter()
                .map(|r| Elem {
                    start: Key::new(&r.low.to_be_bytes()),
                    end: (interval && r.high < u16::MAX).then(|| Key::new(&(r.high + 1).to_be_bytes())),
                    timeout_ms: None,
                })
                .collect();
            let set = anon.create(TYPE_INET_SERVICE, 2, &keys, interval)?;
            rule.add_expr(lookup(&set, anon.jail)?);
        }
    }
    Ok(())
}

/// `ip saddr @<jail>-v4` and the like, with the address family check nft would add.
fn match_source(
    rule: &mut Rule,
    plan: &Plan<'_>,
    jail: &JailRules,
    kind: SetKind,
) -> Result<(), FirewallError> {
    // right before the address, as nft places its dependency (so `nft list` hides it)
    match plan.family {
        Family::Inet => {
            rule.add_expr(Meta::new(MetaType::NfProto));
            let proto = if kind.is_v6() {
                libc::NFPROTO_IPV6
            } else {
                libc::NFPROTO_IPV4
            };
            rule.add_expr(Cmp::new(CmpOp::Eq, [proto as u8]));
        }
        Family::Bridge => {
            rule.add_expr(Meta::new(MetaType::Protocol));
            let ether: u16 = if kind.is_v6() { 0x86dd } else { 0x0800 };
            rule.add_expr(Cmp::new(CmpOp::Eq, ether.to_be_bytes()));
        }
    }
    let (offset, len) = if kind.is_v6() { (8, 16) } else { (12, 4) };
    rule.add_expr(payload(PAYLOAD_NETWORK_HEADER, offset, len));
    let named = set_object(
        rustables_family(plan.family),
        plan.table,
        &kind.set_name(&jail.name),
    );
    rule.add_expr(lookup(&named, &jail.name)?);
    Ok(())
}

fn reject_what(fam: &str, table: &str) -> String {
    let extra = if fam == "bridge" {
        " (the kernel needs CONFIG_NFT_BRIDGE_REJECT)"
    } else {
        ""
    };
    format!("adding the reject rules to chain {fam} {table} {REJECT_CHAIN}{extra}")
}

fn plain(key: &[u8]) -> Elem {
    Elem {
        start: Key::new(key),
        end: None,
        timeout_ms: None,
    }
}

fn payload(base: u32, offset: u32, len: u32) -> Payload {
    Payload::default()
        .with_base(base)
        .with_offset(offset)
        .with_len(len)
        .with_dreg(Register::Reg1)
}

fn lookup(set: &Set, jail: &str) -> Result<Lookup, FirewallError> {
    Lookup::new(set).map_err(|e| FirewallError::Encode {
        what: format!("a set lookup for jail {jail}"),
        detail: format!("{e:?}"),
    })
}

/// Creates the constant anonymous sets (`{ 25, 465, 587 }`) of one jail's rules.
struct AnonSets<'t, 'p> {
    txn: &'t mut Txn,
    plan: &'t Plan<'p>,
    /// Unique within the transaction; a rule's lookup finds its set by it.
    set_id: &'t mut u32,
    jail: &'t str,
}

impl AnonSets<'_, '_> {
    fn create(
        &mut self,
        key_type: u32,
        key_len: u32,
        keys: &[Elem],
        interval: bool,
    ) -> Result<Set, FirewallError> {
        *self.set_id += 1;
        let plan = self.plan;
        let family = rustables_family(plan.family);
        let flags = NFT_SET_ANONYMOUS | NFT_SET_CONSTANT | if interval { NFT_SET_INTERVAL } else { 0 };
        let set = set_object(family, plan.table, "__set%d")
            .with_flags(flags)
            .with_key_type(key_type)
            .with_key_len(key_len)
            .with_id(*self.set_id);
        let what = format!(
            "creating the protocol/port set of jail {} in table {} {}",
            self.jail, plan.family, plan.table
        );
        let mut b = Batch::new();
        b.add(&set, MsgType::Add);
        self.txn.rustables(b, &what)?;
        let set_ref = SetRef {
            family: family_code(plan.family),
            table: plan.table,
            set: "__set%d",
            set_id: Some(*self.set_id),
        };
        self.txn
            .elements(nfnl::NFT_MSG_NEWSETELEM, set_ref, keys, None, what);
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jail(name: &str, ports: &[(u16, u16)], protocols: &[Protocol]) -> JailRules {
        JailRules {
            name: name.into(),
            hook: Hook::Input,
            family: Family::Inet,
            ports: ports.iter().map(|&(low, high)| PortRange { low, high }).collect(),
            protocols: protocols.to_vec(),
            blocktype: BlockType::Drop,
        }
    }

    #[test]
    fn ports_are_sorted_and_merged() {
        let j = jail("j", &[(587, 587), (25, 25), (26, 30), (465, 465), (28, 40)], &[]);
        let got: Vec<(u16, u16)> = ports(&j).iter().map(|r| (r.low, r.high)).collect();
        assert_eq!(got, vec![(25, 40), (465, 465), (587, 587)]);
    }

    #[test]
    fn empty_protocol_list_means_all_four() {
        assert_eq!(protocols(&jail("j", &[], &[])), vec![6, 17, 132, 136]);
        assert_eq!(
            protocols(&jail("j", &[], &[Protocol::Udp, Protocol::Udp])),
            vec![17]
        );
    }

    #[test]
    fn plan_has_only_the_hooks_in_use_and_four_sets_per_jail() {
        let mut fwd = jail("web", &[(80, 80)], &[Protocol::Tcp]);
        fwd.hook = Hook::Forward;
        fwd.blocktype = BlockType::Reject;
        let layout = Layout {
            table: "banjo".into(),
            jails: vec![jail("sshd", &[(22, 22)], &[Protocol::Tcp]), fwd],
        };
        let p = plan(&layout, Family::Inet);
        let chains: Vec<_> = p.chains.iter().map(|c| (c.name, c.base)).collect();
        assert_eq!(
            chains,
            vec![
                ("input", Some((1, -1))),
                ("forward", Some((2, -1))),
                (REJECT_CHAIN, None)
            ]
        );
        assert_eq!(p.sets.len(), 8);
        assert_eq!(p.sets[0].name, "sshd-v4");
        assert_eq!(p.rules.len(), 4 + 4 + 2);
        assert!(plan(&layout, Family::Bridge).chains.is_empty());
    }

    #[test]
    fn comments_change_with_the_definition() {
        let a = jail("qmail-smtp", &[(25, 25)], &[Protocol::Tcp]);
        let mut b = a.clone();
        b.ports.push(PortRange { low: 465, high: 465 });
        let ca = jail_comment(Family::Inet, &a, SetKind::V4);
        assert!(ca.starts_with("banjo qmail-smtp v4 "), "{ca}");
        assert_ne!(ca, jail_comment(Family::Inet, &b, SetKind::V4));
        assert_ne!(ca, jail_comment(Family::Inet, &a, SetKind::V6));
        assert!(jail_comment(Family::Inet, &jail(&"x".repeat(300), &[], &[]), SetKind::V4).len() <= 126);
    }

    #[test]
    fn bridge_forward_reject_is_refused_before_sending() {
        let mut j = jail("br", &[], &[]);
        j.family = Family::Bridge;
        j.hook = Hook::Forward;
        j.blocktype = BlockType::Reject;
        let layout = Layout {
            table: "banjo".into(),
            jails: vec![j],
        };
        let err = check(&layout).unwrap_err().to_string();
        assert!(err.contains("jail \"br\"") && err.contains("drop"), "{err}");
    }
}
