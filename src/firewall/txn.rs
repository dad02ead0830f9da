//! One nf_tables transaction being built: messages (rustables' and banjo's own) plus, for each,
//! what it does in words and which ban each element is, so that a kernel error names the
//! table, set, jail and address. Element changes that do not fit one socket buffer are cut into
//! several transactions, each whole: an element's delete and re-add stay together.

use super::Target;
use super::elements::{Elem, Placed, SetKind, SetRef, write_elements};
use super::error::FirewallError;
use super::nfnl::{self, MAX_ELEMENTS_NEST, NfSocket, NlError, SendError, Writer};

/// What one message of a transaction is about.
#[derive(Debug, Default)]
struct MsgInfo {
    what: String,
    /// (offset of the element in the message, the ban it encodes)
    targets: Vec<(u32, Target)>,
}

#[derive(Debug, Default)]
pub struct Txn {
    w: Writer,
    infos: Vec<MsgInfo>,
}

impl Txn {
    pub fn new() -> Txn {
        Txn::default()
    }

    pub fn is_empty(&self) -> bool {
        self.infos.is_empty()
    }

    /// Adds the messages of a finalized rustables batch; `what` names what they do.
    pub fn rustables(&mut self, batch: rustables::Batch, what: &str) -> Result<(), FirewallError> {
        let bytes = batch.finalize();
        let n = self.w.splice(&bytes).map_err(|source| FirewallError::Malformed {
            action: format!("encoding {what}"),
            source,
        })?;
        for _ in 0..n {
            self.infos.push(MsgInfo {
                what: what.to_string(),
                targets: Vec::new(),
            });
        }
        Ok(())
    }

    /// Adds one element-list message (elements must fit one message).
    pub fn elements(
        &mut self,
        msg_type: u16,
        set: SetRef<'_>,
        elems: &[Elem],
        targets: Option<&[Target]>,
        what: String,
    ) {
        let flags = if msg_type == nfnl::NFT_MSG_NEWSETELEM {
            nfnl::NLM_F_CREATE
        } else {
            0
        };
        let offsets = write_elements(&mut self.w, msg_type, flags | nfnl::NLM_F_ACK, set, elems);
        let targets = match targets {
            Some(t) => offsets.into_iter().zip(t.iter().copied()).collect(),
            None => Vec::new(),
        };
        self.infos.push(MsgInfo { what, targets });
    }

    /// Sends the transaction and waits for every ACK; an error names the first failure.
    pub fn send(mut self, sock: &mut NfSocket, action: &str) -> Result<(), FirewallError> {
        match self.send_raw(sock) {
            Ok(()) => Ok(()),
            Err(SendError::Messages(failed)) => Err(self.describe(failed, action)),
            Err(other) => Err(FirewallError::from_send(action, other)),
        }
    }

    fn send_raw(&mut self, sock: &mut NfSocket) -> Result<(), SendError> {
        if self.is_empty() {
            return Ok(());
        }
        sock.send_batch(&mut self.w)
    }

    /// The error for failed messages: the first one's, with its set and ban named.
    fn describe(&self, mut failed: Vec<(usize, NlError)>, action: &str) -> FirewallError {
        failed.sort_by_key(|(i, _)| *i);
        let total = failed.len();
        let Some((index, err)) = failed.into_iter().next() else {
            return FirewallError::from_send(action, SendError::Messages(Vec::new()));
        };
        let info = self.infos.get(index);
        let mut what = info.map_or_else(|| action.to_string(), |i| i.what.clone());
        if let Some(info) = info {
            match (self.element_at(index, err.offset), &info.targets[..]) {
                (Some(target), _) | (None, &[(_, target)]) => {
                    what = format!("{what}: {}", target);
                }
                (None, [(_, first), rest @ ..]) => {
                    what = format!("{what}: {} and {} more", first, rest.len());
                }
                (None, []) => {}
            }
        }
        if total > 1 {
            what = format!("{what} ({total} messages failed; nothing was changed)");
        }
        FirewallError::kernel(what, &err)
    }

    /// The ban whose element the kernel's extended-ACK `offset` points into, in message
    /// `index`; `None` when it points elsewhere (the table or set name: the whole message).
    fn element_at(&self, index: usize, offset: Option<u32>) -> Option<Target> {
        let offset = offset?;
        let info = self.infos.get(index)?;
        info.targets
            .iter()
            .rev()
            .find(|(at, _)| *at <= offset)
            .map(|(_, target)| *target)
    }
}

/// Element changes for one or more transactions, cut at the socket's send limit. Kept as
/// what to write (not yet as bytes) so that a transaction the kernel refuses because of some
/// of its elements can be sent again without them: see [`ElementTxns::send`].
pub struct ElementTxns {
    limit: usize,
    /// Each transaction: its writes and their size, as estimated.
    txns: Vec<(usize, Vec<Write>)>,
}

/// `steps` for each of `items`, in one message per step.
#[derive(Debug, Clone)]
struct Write {
    set: JailSet,
    action: String,
    steps: Vec<ElemOp>,
    items: Vec<(Placed, Option<u64>)>,
}

/// A ban the kernel refused, and its answer.
#[derive(Debug)]
pub struct Refusal {
    pub jail: String,
    pub target: Target,
    /// What banjo was doing: "banning", "unbanning", "reconciling (adding)", …
    pub action: String,
    /// The kernel's answer, with set, jail and address named.
    pub error: FirewallError,
}

/// What [`ElementTxns::send`] did.
#[derive(Debug, Default)]
pub struct Sent {
    /// Transactions the kernel took.
    pub transactions: usize,
    /// Bans left out because the kernel refused them; every other change was made.
    pub refused: Vec<Refusal>,
}

/// Rounds after which a transaction whose messages still fail element by element stops
/// trying them one at a time: the rest of each failing message is refused with it (a set
/// that is full, say, refuses every element past the first anyway).
const ONE_BY_ONE_ROUNDS: usize = 32;

/// What to do with elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElemOp {
    Add,
    /// Delete elements known to exist (ENOENT otherwise).
    Del,
    /// Delete elements if they exist (Linux ≥ 6.3).
    Destroy,
}

impl ElemOp {
    fn msg_type(self) -> u16 {
        match self {
            ElemOp::Add => nfnl::NFT_MSG_NEWSETELEM,
            ElemOp::Del => nfnl::NFT_MSG_DELSETELEM,
            ElemOp::Destroy => nfnl::NFT_MSG_DESTROYSETELEM,
        }
    }
}

/// The set of one jail that element changes go to.
#[derive(Debug, Clone)]
pub struct JailSet {
    pub jail: String,
    pub family: u8,
    pub family_name: &'static str,
    pub table: String,
    pub kind: SetKind,
}

impl JailSet {
    pub fn name(&self) -> String {
        self.kind.set_name(&self.jail)
    }

    fn describe(&self, action: &str) -> String {
        format!(
            "{action} in set {} {} {} (jail {})",
            self.family_name,
            self.table,
            self.name(),
            self.jail
        )
    }
}

impl ElementTxns {
    pub fn new(limit: usize) -> ElementTxns {
        ElementTxns {
            limit,
            txns: vec![(0, Vec::new())],
        }
    }

    /// Writes `steps` for each chunk of `items` into one transaction: e.g. [Destroy, Add] to
    /// refresh, [Add] to add, [Del] to remove. `action` ("banning") names it in errors.
    pub fn write(&mut self, set: &JailSet, action: &str, steps: &[ElemOp], items: &[(Placed, Option<u64>)]) {
        if items.is_empty() || steps.is_empty() {
            return;
        }
        let per_msg = (MAX_ELEMENTS_NEST / set.kind.max_element_len()).max(1);
        for chunk in items.chunks(per_msg) {
            let needed = steps.len() * (chunk.len() * set.kind.max_element_len() + 512);
            let full = self
                .txns
                .last()
                .is_some_and(|(size, writes)| !writes.is_empty() && size + needed > self.limit);
            if full {
                self.txns.push((0, Vec::new()));
            }
            let last = self.txns.len() - 1;
            let (size, writes) = &mut self.txns[last];
            *size += needed;
            writes.push(Write {
                set: set.clone(),
                action: action.to_string(),
                steps: steps.to_vec(),
                items: chunk.to_vec(),
            });
        }
    }

    /// Sends the transactions in order. When the kernel refuses one because of some of its
    /// elements (an extended ACK points into them: a timeout out of range, an overlap, a full
    /// set, …), those bans are left out and the transaction is sent again, so one ban the
    /// kernel will not take never keeps the others out; they come back in [`Sent::refused`].
    /// Any other failure (no table or set, no permission, no answer) is an error, as is a
    /// delete of an element that is gone (ENOENT; the caller reads the set again).
    pub fn send(self, sock: &mut NfSocket, action: &str) -> Result<Sent, FirewallError> {
        let mut sent = Sent::default();
        for (_, mut writes) in self.txns {
            let mut round = 0;
            loop {
                let (mut txn, origins) = encode(&writes);
                if txn.is_empty() {
                    break;
                }
                let failed = match txn.send_raw(sock) {
                    Ok(()) => {
                        sent.transactions += 1;
                        break;
                    }
                    Err(SendError::Messages(failed)) => failed,
                    Err(other) => return Err(FirewallError::from_send(action, other)),
                };
                round += 1;
                let Some(drops) = refused_elements(&txn, &origins, &writes, &failed, round) else {
                    return Err(txn.describe(failed, action));
                };
                for (w, targets, err) in drops {
                    let (set, what) = (writes[w].set.clone(), writes[w].set.describe(&writes[w].action));
                    for target in targets {
                        leave_out(&mut writes, &set, target);
                        sent.refused.push(Refusal {
                            jail: set.jail.clone(),
                            target,
                            action: writes[w].action.clone(),
                            error: FirewallError::kernel(format!("{what}: {target}"), &err),
                        });
                    }
                }
            }
        }
        Ok(sent)
    }
}

/// The messages of one transaction, and for each the write and step it came from.
fn encode(writes: &[Write]) -> (Txn, Vec<(usize, ElemOp)>) {
    let mut txn = Txn::new();
    let mut origins = Vec::new();
    for (w, write) in writes.iter().enumerate() {
        if write.items.is_empty() {
            continue;
        }
        let name = write.set.name();
        let targets: Vec<Target> = write.items.iter().map(|(p, _)| p.target).collect();
        for op in &write.steps {
            let elems: Vec<Elem> = write
                .items
                .iter()
                .map(|(p, timeout)| Elem {
                    start: p.start,
                    end: p.end,
                    timeout_ms: if *op == ElemOp::Add { *timeout } else { None },
                })
                .collect();
            let set_ref = SetRef {
                family: write.set.family,
                table: &write.set.table,
                set: &name,
                set_id: None,
            };
            txn.elements(
                op.msg_type(),
                set_ref,
                &elems,
                Some(&targets),
                write.set.describe(&write.action),
            );
            origins.push((w, *op));
        }
    }
    (txn, origins)
}

/// For each failed message, the write it came from and the bans to leave out of it, with the
/// kernel's answer; `None` when some failure is not about an element.
fn refused_elements(
    txn: &Txn,
    origins: &[(usize, ElemOp)],
    writes: &[Write],
    failed: &[(usize, NlError)],
    round: usize,
) -> Option<Vec<(usize, Vec<Target>, NlError)>> {
    let mut drops = Vec::new();
    for (index, err) in failed {
        let &(w, op) = origins.get(*index)?;
        if op == ElemOp::Del && err.errno == libc::ENOENT {
            return None;
        }
        let target = txn.element_at(*index, err.offset)?;
        let items = &writes[w].items;
        let at = items.iter().position(|(p, _)| p.target == target)?;
        let targets = if round > ONE_BY_ONE_ROUNDS {
            items[at..].iter().map(|(p, _)| p.target).collect()
        } else {
            vec![target]
        };
        drops.push((w, targets, err.clone()));
    }
    Some(drops)
}

/// Takes `target` out of every write to `set`; a network left out of an add also keeps the
/// smaller networks inside it that were to be deleted for it (they stay banned meanwhile).
fn leave_out(writes: &mut [Write], set: &JailSet, target: Target) {
    let Some(placed) = writes
        .iter()
        .filter(|w| w.set == *set)
        .flat_map(|w| w.items.iter())
        .find(|(p, _)| p.target == target)
        .map(|(p, _)| *p)
    else {
        return;
    };
    for write in writes.iter_mut().filter(|w| w.set == *set) {
        let deletes = !write.steps.contains(&ElemOp::Add);
        write
            .items
            .retain(|(p, _)| p.target != target && !(deletes && placed.covers(p)));
    }
}
