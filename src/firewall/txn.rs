//! One nf_tables transaction being built: messages (rustables' and banjo's own) plus, for each,
//! what it does in words and which ban each element is, so that a kernel error names the
//! table, set, jail and address. Element changes that do not fit one socket buffer are cut into
//! several transactions, each whole: an element's delete and re-add stay together.

use super::Target;
use super::elements::{Elem, Placed, SetKind, SetRef, write_elements};
use super::error::FirewallError;
use super::nfnl::{self, MAX_ELEMENTS_NEST, NfSocket, SendError, Writer};

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

    pub fn len(&self) -> usize {
        self.w.len()
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
        if self.is_empty() {
            return Ok(());
        }
        match sock.send_batch(&mut self.w) {
            Ok(()) => Ok(()),
            Err(SendError::Messages(mut failed)) => {
                failed.sort_by_key(|(i, _)| *i);
                let total = failed.len();
                let (index, err) = failed.swap_remove(0);
                let info = self.infos.get(index);
                let mut what = info.map_or_else(|| action.to_string(), |i| i.what.clone());
                if let Some(info) = info {
                    let hit = err
                        .offset
                        .and_then(|offset| info.targets.iter().rev().find(|(at, _)| *at <= offset));
                    match (hit, &info.targets[..]) {
                        (Some((_, target)), _) | (None, [(_, target)]) => {
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
                Err(FirewallError::kernel(what, &err))
            }
            Err(other) => Err(FirewallError::from_send(action, other)),
        }
    }
}

/// Element changes for one or more transactions, cut at the socket's send limit.
pub struct ElementTxns {
    limit: usize,
    txns: Vec<Txn>,
}

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
            txns: vec![Txn::new()],
        }
    }

    /// Writes `steps` for each chunk of `items` into one transaction: e.g. [Destroy, Add] to
    /// refresh, [Add] to add, [Del] to remove. `action` ("banning") names it in errors.
    pub fn write(&mut self, set: &JailSet, action: &str, steps: &[ElemOp], items: &[(Placed, Option<u64>)]) {
        if items.is_empty() || steps.is_empty() {
            return;
        }
        let per_msg = (MAX_ELEMENTS_NEST / set.kind.max_element_len()).max(1);
        let name = set.name();
        for chunk in items.chunks(per_msg) {
            let needed = steps.len() * (chunk.len() * set.kind.max_element_len() + 512);
            let txn = self.room(needed);
            let targets: Vec<Target> = chunk.iter().map(|(p, _)| p.target).collect();
            for op in steps {
                let elems: Vec<Elem> = chunk
                    .iter()
                    .map(|(p, timeout)| Elem {
                        start: p.start,
                        end: p.end,
                        timeout_ms: if *op == ElemOp::Add { *timeout } else { None },
                    })
                    .collect();
                let set_ref = SetRef {
                    family: set.family,
                    table: &set.table,
                    set: &name,
                    set_id: None,
                };
                txn.elements(
                    op.msg_type(),
                    set_ref,
                    &elems,
                    Some(&targets),
                    set.describe(action),
                );
            }
        }
    }

    fn room(&mut self, needed: usize) -> &mut Txn {
        let full = self
            .txns
            .last()
            .is_some_and(|t| !t.is_empty() && t.len() + needed > self.limit);
        if full || self.txns.is_empty() {
            self.txns.push(Txn::new());
        }
        let last = self.txns.len() - 1;
        &mut self.txns[last]
    }

    pub fn send(self, sock: &mut NfSocket, action: &str) -> Result<usize, FirewallError> {
        let mut sent = 0;
        for txn in self.txns {
            if !txn.is_empty() {
                txn.send(sock, action)?;
                sent += 1;
            }
        }
        Ok(sent)
    }
}
