//! banjo's own small nfnetlink layer: message and attribute encoding, batch framing with
//! per-message ACKs, dump requests, and the parsing of what the kernel sends back. The rest of
//! `firewall` uses rustables to *encode* tables, chains, sets and rules and this module to
//! frame, send and read everything, so that set elements and rules can share one transaction.
//!
//! Why not only rustables 0.9: it has no per-element timeout or expiration
//! (NFTA_SET_ELEM_TIMEOUT / _EXPIRATION), no element flags (interval ends), cannot read elements
//! back, has no NFNLGRP_NFTABLES notifications, opens a new socket for every batch (so the
//! caller's network namespace at *send* time decides, not the one at open), and its
//! `NfNetlinkObject` trait is crate-private, so banjo cannot put its own messages into a
//! rustables `Batch`. What banjo takes from rustables is `Batch::finalize()`'s bytes: each
//! rustables object is finalized alone, and its one message is copied between banjo's own
//! BATCH_BEGIN/END with a new sequence number.
//!
//! An upstream patch that would let banjo drop this module:
//! - `SetElement`: optional `NFTA_SET_ELEM_FLAGS` (u32, `NFT_SET_ELEM_INTERVAL_END`),
//!   `NFTA_SET_ELEM_TIMEOUT` and `NFTA_SET_ELEM_EXPIRATION` (u64 ms, big-endian),
//!   `NFTA_SET_ELEM_KEY_END`, `NFTA_SET_ELEM_USERDATA`; `SetElementList` with
//!   `NFTA_SET_ELEM_LIST_SET_ID`, and `MsgType::Del` for it (it exists) plus a
//!   `Destroy` variant (NFT_MSG_DESTROY*, Linux ≥ 6.3).
//! - a public `list_set_elements(&Set)` (GETSETELEM dump) returning those fields;
//! - `Batch::send_on(&Socket)` (or a `Batch` that owns one socket opened at creation), per-message
//!   errors mapped back by sequence number and extended-ACK offset, and a batch size limit that
//!   follows the socket's send buffer;
//! - public `list_*` functions that take that socket too (today each opens its own);
//! - a `Monitor` for NFNLGRP_NFTABLES that gives each event's type, family, table name and
//!   the sender's netlink port id (`nlmsg_pid`), and a `Batch`'s port id to compare it with;
//! - making `NfNetlinkObject` public (or a `Batch::add_raw(&[u8])`) so users can add their own
//!   messages;
//! - a note that the kernel refuses NEWSET without `NFTA_SET_ID` (EINVAL), which `Set` leaves
//!   optional (`SetBuilder` does not set it either).
//!
//! Sockets come from netlink-sys 0.9 (rust-netlink, kept up, no async runtime needed): it owns
//! the fd and does socket/bind/send/recv/multicast membership and the ACK options safely. The
//! rest (poll, SO_SNDBUFFORCE/SO_RCVBUFFORCE, which it lacks) is in `crate::sys`.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

use netlink_sys::{Socket, protocols::NETLINK_NETFILTER};

use crate::sys;

// netlink (linux/netlink.h)
pub const NLMSG_HDRLEN: usize = 16;
pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;
pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
pub const NLM_F_CREATE: u16 = 0x400;
/// In an NLMSG_ERROR: extended-ACK attributes follow.
pub const NLM_F_ACK_TLVS: u16 = 0x200;
/// In an NLMSG_ERROR: the request was capped to its header.
pub const NLM_F_CAPPED: u16 = 0x100;
pub const NLMSGERR_ATTR_MSG: u16 = 1;
pub const NLMSGERR_ATTR_OFFS: u16 = 2;
pub const NLA_F_NESTED: u16 = 0x8000;
pub const NLA_F_NET_BYTEORDER: u16 = 0x4000;
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

// nfnetlink (linux/netfilter/nfnetlink.h)
pub const NFNL_SUBSYS_NFTABLES: u16 = 10;
pub const NFNL_MSG_BATCH_BEGIN: u16 = 16;
pub const NFNL_MSG_BATCH_END: u16 = 17;
pub const NFNLGRP_NFTABLES: u32 = 7;

// nf_tables message types (linux/netfilter/nf_tables.h)
pub const NFT_MSG_NEWTABLE: u16 = 0;
pub const NFT_MSG_GETTABLE: u16 = 1;
pub const NFT_MSG_DELTABLE: u16 = 2;
pub const NFT_MSG_NEWCHAIN: u16 = 3;
pub const NFT_MSG_GETCHAIN: u16 = 4;
pub const NFT_MSG_DELCHAIN: u16 = 5;
pub const NFT_MSG_NEWRULE: u16 = 6;
pub const NFT_MSG_GETRULE: u16 = 7;
pub const NFT_MSG_DELRULE: u16 = 8;
pub const NFT_MSG_NEWSET: u16 = 9;
pub const NFT_MSG_GETSET: u16 = 10;
pub const NFT_MSG_DELSET: u16 = 11;
pub const NFT_MSG_NEWSETELEM: u16 = 12;
pub const NFT_MSG_GETSETELEM: u16 = 13;
pub const NFT_MSG_DELSETELEM: u16 = 14;
pub const NFT_MSG_NEWGEN: u16 = 15;
pub const NFT_MSG_GETGEN: u16 = 16;
/// Linux ≥ 6.3: delete elements that exist, skip the others.
pub const NFT_MSG_DESTROYSETELEM: u16 = 30;

// attributes
pub const NFTA_TABLE_NAME: u16 = 1;
pub const NFTA_GEN_ID: u16 = 1;
pub const NFTA_CHAIN_TABLE: u16 = 1;
pub const NFTA_CHAIN_NAME: u16 = 3;
pub const NFTA_CHAIN_HOOK: u16 = 4;
pub const NFTA_CHAIN_POLICY: u16 = 5;
pub const NFTA_CHAIN_TYPE: u16 = 7;
pub const NFTA_HOOK_HOOKNUM: u16 = 1;
pub const NFTA_HOOK_PRIORITY: u16 = 2;
pub const NFTA_RULE_TABLE: u16 = 1;
pub const NFTA_RULE_CHAIN: u16 = 2;
pub const NFTA_RULE_USERDATA: u16 = 7;
pub const NFTA_SET_TABLE: u16 = 1;
pub const NFTA_SET_NAME: u16 = 2;
pub const NFTA_SET_FLAGS: u16 = 3;
pub const NFTA_SET_KEY_TYPE: u16 = 4;
pub const NFTA_SET_KEY_LEN: u16 = 5;
pub const NFTA_SET_ELEM_LIST_TABLE: u16 = 1;
pub const NFTA_SET_ELEM_LIST_SET: u16 = 2;
pub const NFTA_SET_ELEM_LIST_ELEMENTS: u16 = 3;
pub const NFTA_SET_ELEM_LIST_SET_ID: u16 = 4;
pub const NFTA_LIST_ELEM: u16 = 1;
pub const NFTA_SET_ELEM_KEY: u16 = 1;
pub const NFTA_SET_ELEM_FLAGS: u16 = 3;
pub const NFTA_SET_ELEM_TIMEOUT: u16 = 4;
pub const NFTA_SET_ELEM_EXPIRATION: u16 = 5;
pub const NFTA_DATA_VALUE: u16 = 1;
pub const NFT_SET_ELEM_INTERVAL_END: u32 = 1;

// set flags (enum nft_set_flags)
pub const NFT_SET_ANONYMOUS: u32 = 0x1;
pub const NFT_SET_CONSTANT: u32 = 0x2;
pub const NFT_SET_INTERVAL: u32 = 0x4;
pub const NFT_SET_TIMEOUT: u32 = 0x10;

/// Largest nested element list put in one message: the nest's length is a u16.
pub const MAX_ELEMENTS_NEST: usize = 60 * 1024;

/// The message type nfnetlink sees: subsystem in the high byte.
pub fn nft_type(msg: u16) -> u16 {
    (NFNL_SUBSYS_NFTABLES << 8) | msg
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Writes netlink messages with nfgenmsg headers and attributes into one buffer.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
    msg_start: Option<usize>,
    nests: Vec<usize>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Starts a message: nlmsghdr, then nfgenmsg (family, version 0, res_id big-endian).
    pub fn begin(&mut self, ty: u16, flags: u16, seq: u32, family: u8, res_id: u16) {
        debug_assert!(self.msg_start.is_none(), "message still open");
        self.msg_start = Some(self.buf.len());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(&(NLM_F_REQUEST | flags).to_ne_bytes());
        self.buf.extend_from_slice(&seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes());
        self.buf.push(family);
        self.buf.push(0);
        self.buf.extend_from_slice(&res_id.to_be_bytes());
    }

    /// Ends the open message by writing its length.
    pub fn end(&mut self) {
        debug_assert!(self.nests.is_empty(), "nest still open");
        if let Some(start) = self.msg_start.take() {
            let len = (self.buf.len() - start) as u32;
            self.buf[start..start + 4].copy_from_slice(&len.to_ne_bytes());
        }
    }

    /// Bytes written so far in the open message, from its nlmsghdr: the offset extended ACKs use.
    pub fn offset_in_msg(&self) -> usize {
        self.buf.len() - self.msg_start.unwrap_or(0)
    }

    pub fn attr(&mut self, ty: u16, data: &[u8]) {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(self.buf.len() + align4(len) - len, 0);
    }

    /// A NUL-terminated string, as nf_tables' NLA_STRING attributes are sent.
    pub fn attr_str(&mut self, ty: u16, s: &str) {
        let mut data = Vec::with_capacity(s.len() + 1);
        data.extend_from_slice(s.as_bytes());
        data.push(0);
        self.attr(ty, &data);
    }

    pub fn attr_u32_be(&mut self, ty: u16, v: u32) {
        self.attr(ty, &v.to_be_bytes());
    }

    pub fn attr_u64_be(&mut self, ty: u16, v: u64) {
        self.attr(ty, &v.to_be_bytes());
    }

    pub fn begin_nest(&mut self, ty: u16) {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
    }

    /// Closes the innermost nest. Callers keep nests under 64 KiB (see [`MAX_ELEMENTS_NEST`]).
    pub fn end_nest(&mut self) {
        if let Some(start) = self.nests.pop() {
            let len = self.buf.len() - start;
            debug_assert!(len <= usize::from(u16::MAX), "nest of {len} bytes");
            self.buf[start..start + 2].copy_from_slice(&(len as u16).to_ne_bytes());
        }
    }

    /// Bytes in the innermost open nest.
    pub fn nest_len(&self) -> usize {
        self.nests.last().map_or(0, |start| self.buf.len() - start)
    }

    /// Appends the messages of a finalized rustables batch, without its BATCH_BEGIN/END, each
    /// with the ACK flag (sequence numbers are given at send time). Returns how many it copied.
    pub fn splice(&mut self, messages: &[u8]) -> Result<usize, ParseError> {
        let mut count = 0;
        for msg in Messages::new(messages) {
            let msg = msg?;
            if msg.ty == NFNL_MSG_BATCH_BEGIN || msg.ty == NFNL_MSG_BATCH_END {
                continue;
            }
            let start = self.buf.len();
            self.buf.extend_from_slice(msg.raw);
            let flags = msg.flags | NLM_F_ACK;
            self.buf[start + 6..start + 8].copy_from_slice(&flags.to_ne_bytes());
            self.buf.resize(start + align4(msg.raw.len()), 0);
            count += 1;
        }
        Ok(count)
    }

    /// Gives the messages sequence numbers `first..` and returns how many there are.
    pub fn renumber(&mut self, first: u32) -> usize {
        let mut at = 0;
        let mut seq = first;
        let mut count = 0;
        while at + NLMSG_HDRLEN <= self.buf.len() {
            let len = u32::from_ne_bytes(self.buf[at..at + 4].try_into().unwrap_or_default()) as usize;
            if len < NLMSG_HDRLEN {
                break;
            }
            self.buf[at + 8..at + 12].copy_from_slice(&seq.to_ne_bytes());
            seq = seq.wrapping_add(1);
            count += 1;
            at += align4(len);
        }
        count
    }
}

/// The kernel sent something banjo cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed netlink data: {0}")]
pub struct ParseError(pub &'static str);

/// One netlink message as received.
#[derive(Debug, Clone, Copy)]
pub struct Msg<'a> {
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    /// After the nlmsghdr.
    pub payload: &'a [u8],
    /// The whole message, header included.
    pub raw: &'a [u8],
}

impl<'a> Msg<'a> {
    /// For an nf_tables message: (family, attributes after the nfgenmsg).
    pub fn nfgen(&self) -> Result<(u8, Attrs<'a>), ParseError> {
        if self.payload.len() < 4 {
            return Err(ParseError("nf_tables message shorter than its nfgenmsg"));
        }
        Ok((self.payload[0], Attrs::new(&self.payload[4..])))
    }

    /// The nf_tables message type when this is one (subsystem 10).
    pub fn nft_msg(&self) -> Option<u16> {
        (self.ty >> 8 == NFNL_SUBSYS_NFTABLES).then_some(self.ty & 0xff)
    }
}

/// Iterates over the messages of one received datagram (or of a buffer of messages).
pub struct Messages<'a> {
    rest: &'a [u8],
}

impl<'a> Messages<'a> {
    pub fn new(buf: &'a [u8]) -> Messages<'a> {
        Messages { rest: buf }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Msg<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let buf = self.rest;
        if buf.len() < NLMSG_HDRLEN {
            self.rest = &[];
            return Some(Err(ParseError("truncated netlink header")));
        }
        let len = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            self.rest = &[];
            return Some(Err(ParseError("netlink message length out of bounds")));
        }
        let msg = Msg {
            ty: u16::from_ne_bytes([buf[4], buf[5]]),
            flags: u16::from_ne_bytes([buf[6], buf[7]]),
            seq: u32::from_ne_bytes([buf[8], buf[9], buf[10], buf[11]]),
            pid: u32::from_ne_bytes([buf[12], buf[13], buf[14], buf[15]]),
            payload: &buf[NLMSG_HDRLEN..len],
            raw: &buf[..len],
        };
        self.rest = &buf[align4(len).min(buf.len())..];
        Some(Ok(msg))
    }
}

/// Iterates over attributes: (type without the NESTED/BYTEORDER bits, data).
#[derive(Debug, Clone, Copy)]
pub struct Attrs<'a> {
    rest: &'a [u8],
}

impl<'a> Attrs<'a> {
    pub fn new(buf: &'a [u8]) -> Attrs<'a> {
        Attrs { rest: buf }
    }

    /// The first attribute of type `ty`.
    pub fn find(self, ty: u16) -> Option<&'a [u8]> {
        self.flatten().find(|(t, _)| *t == ty).map(|(_, d)| d)
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<(u16, &'a [u8]), ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.len() < 4 {
            return None;
        }
        let buf = self.rest;
        let len = usize::from(u16::from_ne_bytes([buf[0], buf[1]]));
        let ty = u16::from_ne_bytes([buf[2], buf[3]]) & NLA_TYPE_MASK;
        if len < 4 || len > buf.len() {
            self.rest = &[];
            return Some(Err(ParseError("attribute length out of bounds")));
        }
        self.rest = &buf[align4(len).min(buf.len())..];
        Some(Ok((ty, &buf[4..len])))
    }
}

/// A NUL-terminated (or not) string attribute.
pub fn str_attr(data: &[u8]) -> String {
    let end = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    String::from_utf8_lossy(&data[..end]).into_owned()
}

pub fn u32_be(data: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(..4)?.try_into().ok()?))
}

pub fn u64_be(data: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(data.get(..8)?.try_into().ok()?))
}

/// One message's failure, as the kernel reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NlError {
    /// Positive errno.
    pub errno: i32,
    /// Extended ACK: offset of the attribute the kernel objected to, from the message start.
    pub offset: Option<u32>,
    /// Extended ACK: the kernel's text, when it gave one.
    pub text: Option<String>,
}

impl NlError {
    /// Reads an NLMSG_ERROR payload: Ok(None) for an ACK, Ok(Some) for an error.
    pub fn parse(msg: &Msg<'_>) -> Result<(u32, Option<NlError>), ParseError> {
        let p = msg.payload;
        if p.len() < 4 + NLMSG_HDRLEN {
            return Err(ParseError("short NLMSG_ERROR"));
        }
        let error = i32::from_ne_bytes([p[0], p[1], p[2], p[3]]);
        let orig_seq = u32::from_ne_bytes([p[12], p[13], p[14], p[15]]);
        if error == 0 {
            return Ok((orig_seq, None));
        }
        let mut err = NlError {
            errno: -error,
            offset: None,
            text: None,
        };
        if msg.flags & NLM_F_ACK_TLVS != 0 {
            let orig_len = u32::from_ne_bytes([p[4], p[5], p[6], p[7]]) as usize;
            let skip = if msg.flags & NLM_F_CAPPED != 0 {
                4 + NLMSG_HDRLEN
            } else {
                4 + align4(orig_len)
            };
            for (ty, data) in Attrs::new(p.get(skip..).unwrap_or(&[])).flatten() {
                match ty {
                    NLMSGERR_ATTR_OFFS => {
                        err.offset = data
                            .get(..4)
                            .map(|b| u32::from_ne_bytes(b.try_into().unwrap_or_default()))
                    }
                    NLMSGERR_ATTR_MSG => err.text = Some(str_attr(data)),
                    _ => {}
                }
            }
        }
        Ok((orig_seq, Some(err)))
    }
}

/// What a batch sent: which messages failed, by their index in the batch (BEGIN excluded).
#[derive(Debug)]
pub enum SendError {
    Io(io::Error),
    Parse(ParseError),
    /// The kernel refused the whole batch (its BEGIN), e.g. EPERM without CAP_NET_ADMIN.
    Batch(NlError),
    /// These messages failed; the transaction was aborted.
    Messages(Vec<(usize, NlError)>),
    /// Not every ACK came back in time.
    Timeout {
        acked: usize,
        expected: usize,
    },
}

/// How long banjo waits for the kernel's answer to one request.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// A netlink socket of the NETLINK_NETFILTER family, in the network namespace of the thread that
/// opened it.
pub struct NfSocket {
    sock: Socket,
    port: u32,
    seq: u32,
    /// Largest datagram the socket may send (from SO_SNDBUF).
    send_limit: usize,
    buf: Vec<u8>,
    /// Batches the kernel took: each one a commit (see [`NfSocket::generation`]).
    commits: u64,
}

const RECV_BUF: usize = 256 * 1024;
/// Asked for with SO_SNDBUFFORCE (CAP_NET_ADMIN), so that 100k bans fit in about one batch.
const WANTED_SNDBUF: usize = 32 * 1024 * 1024;
/// Asked for on the monitor's socket: events of big batches should not overflow it.
pub const WANTED_RCVBUF: usize = 16 * 1024 * 1024;

impl NfSocket {
    pub fn open() -> io::Result<NfSocket> {
        let mut sock = Socket::new(NETLINK_NETFILTER)?;
        let port = sock.bind_auto()?.port_number();
        sock.set_ext_ack(true)?;
        sock.set_cap_ack(true)?;
        // Without CAP_NET_ADMIN nothing else will work either; then it keeps the default size.
        let sndbuf = sys::grow_send_buffer(sock.as_fd(), WANTED_SNDBUF)?;
        // The kernel refuses a datagram longer than sk_sndbuf - 32.
        let send_limit = sndbuf.saturating_sub(4096).max(64 * 1024);
        let seed = std::process::id().wrapping_mul(2_654_435_761);
        Ok(NfSocket {
            sock,
            port,
            seq: seed,
            send_limit,
            buf: Vec::with_capacity(RECV_BUF),
            commits: 0,
        })
    }

    /// The port id the kernel gave the socket; nf_tables events caused by it carry it.
    pub fn port_id(&self) -> u32 {
        self.port
    }

    /// The largest batch [`NfSocket::send_batch`] can take.
    pub fn send_limit(&self) -> usize {
        self.send_limit
    }

    /// Reserves `n` sequence numbers and returns the first.
    pub fn next_seqs(&mut self, n: u32) -> u32 {
        let first = self.seq;
        self.seq = self.seq.wrapping_add(n.max(1));
        first
    }

    /// Sends one batch: `body` holds complete messages, each with NLM_F_ACK; this numbers them,
    /// wraps them in BATCH_BEGIN/END (one transaction) and waits for every ACK. Failures come
    /// back by the message's index in `body`.
    pub fn send_batch(&mut self, body: &mut Writer) -> Result<(), SendError> {
        let count = Messages::new(body.bytes()).count();
        let begin_seq = self.next_seqs(count as u32 + 2);
        let first_seq = begin_seq.wrapping_add(1);
        body.renumber(first_seq);
        let mut frame = Writer::new();
        frame.begin(NFNL_MSG_BATCH_BEGIN, 0, begin_seq, 0, NFNL_SUBSYS_NFTABLES);
        frame.end();
        let mut out = Vec::with_capacity(body.len() + 40);
        out.extend_from_slice(frame.bytes());
        out.extend_from_slice(body.bytes());
        let mut end = Writer::new();
        end.begin(
            NFNL_MSG_BATCH_END,
            0,
            first_seq.wrapping_add(count as u32),
            0,
            NFNL_SUBSYS_NFTABLES,
        );
        end.end();
        out.extend_from_slice(end.bytes());
        self.send_all(&out)?;

        let mut acked = vec![false; count];
        let mut left = count;
        let mut failed = Vec::new();
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        while left > 0 {
            if !self.wait(deadline).map_err(SendError::Io)? {
                return Err(SendError::Timeout {
                    acked: count - left,
                    expected: count,
                });
            }
            let n = self.recv().map_err(SendError::Io)?;
            for msg in Messages::new(&self.buf[..n]) {
                let msg = msg.map_err(SendError::Parse)?;
                if msg.ty != NLMSG_ERROR {
                    continue;
                }
                let (seq, err) = NlError::parse(&msg).map_err(SendError::Parse)?;
                if seq == begin_seq {
                    if let Some(err) = err {
                        return Err(SendError::Batch(err));
                    }
                    continue;
                }
                let index = seq.wrapping_sub(first_seq) as usize;
                if index >= count || acked[index] {
                    continue; // an answer to an earlier request that timed out
                }
                acked[index] = true;
                left -= 1;
                if let Some(err) = err {
                    failed.push((index, err));
                }
            }
        }
        if failed.is_empty() {
            self.commits += 1;
            Ok(())
        } else {
            Err(SendError::Messages(failed))
        }
    }

    /// Batches sent through this socket that the kernel took.
    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// The ruleset's generation: the kernel counts every commit, anyone's (NFT_MSG_GETGEN).
    pub fn generation(&mut self) -> Result<u32, SendError> {
        let seq = self.next_seqs(1);
        let mut w = Writer::new();
        w.begin(nft_type(NFT_MSG_GETGEN), NLM_F_ACK, seq, 0, 0);
        w.end();
        self.send_all(w.bytes())?;
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        let mut id = None;
        loop {
            if !self.wait(deadline).map_err(SendError::Io)? {
                return Err(SendError::Timeout {
                    acked: 0,
                    expected: 1,
                });
            }
            let n = self.recv().map_err(SendError::Io)?;
            for msg in Messages::new(&self.buf[..n]) {
                let msg = msg.map_err(SendError::Parse)?;
                if msg.seq != seq {
                    continue;
                }
                match msg.ty {
                    NLMSG_ERROR => match NlError::parse(&msg).map_err(SendError::Parse)? {
                        (_, Some(err)) => return Err(SendError::Batch(err)),
                        (_, None) => {
                            return id.ok_or(SendError::Parse(ParseError("no generation in the answer")));
                        }
                    },
                    _ if msg.nft_msg() == Some(NFT_MSG_NEWGEN) => {
                        let (_, attrs) = msg.nfgen().map_err(SendError::Parse)?;
                        id = attrs.find(NFTA_GEN_ID).and_then(u32_be);
                    }
                    _ => {}
                }
            }
        }
    }

    /// Sends a dump request and calls `each` for every answer until NLMSG_DONE.
    pub fn dump(
        &mut self,
        msg_type: u16,
        family: u8,
        attrs: impl FnOnce(&mut Writer),
        mut each: impl FnMut(&Msg<'_>) -> Result<(), ParseError>,
    ) -> Result<(), SendError> {
        let seq = self.next_seqs(1);
        let mut w = Writer::new();
        w.begin(nft_type(msg_type), NLM_F_DUMP, seq, family, 0);
        attrs(&mut w);
        w.end();
        self.send_all(w.bytes())?;
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        loop {
            if !self.wait(deadline).map_err(SendError::Io)? {
                return Err(SendError::Timeout {
                    acked: 0,
                    expected: 1,
                });
            }
            let n = self.recv().map_err(SendError::Io)?;
            // Borrow the buffer apart from `self` for the callback.
            let buf = std::mem::take(&mut self.buf);
            let result = dump_datagram(&buf[..n], seq, &mut each);
            self.buf = buf;
            match result? {
                true => return Ok(()),
                false => continue,
            }
        }
    }

    fn send_all(&self, out: &[u8]) -> Result<(), SendError> {
        let sent = self.sock.send(out, 0).map_err(SendError::Io)?;
        if sent != out.len() {
            return Err(SendError::Io(io::Error::other(format!(
                "netlink sent {sent} of {} bytes",
                out.len()
            ))));
        }
        Ok(())
    }

    fn wait(&self, deadline: Instant) -> io::Result<bool> {
        sys::readable(self.fd(), deadline.saturating_duration_since(Instant::now()))
    }

    fn recv(&mut self) -> io::Result<usize> {
        recv_into(&self.sock, &mut self.buf)
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.sock.as_fd()
    }
}

/// Handles one datagram of a dump; true when it held NLMSG_DONE.
fn dump_datagram(
    buf: &[u8],
    seq: u32,
    each: &mut impl FnMut(&Msg<'_>) -> Result<(), ParseError>,
) -> Result<bool, SendError> {
    for msg in Messages::new(buf) {
        let msg = msg.map_err(SendError::Parse)?;
        if msg.seq != seq {
            continue;
        }
        match msg.ty {
            NLMSG_DONE => return Ok(true),
            NLMSG_NOOP => {}
            NLMSG_OVERRUN => return Err(SendError::Parse(ParseError("netlink overrun"))),
            NLMSG_ERROR => {
                if let (_, Some(err)) = NlError::parse(&msg).map_err(SendError::Parse)? {
                    return Err(SendError::Batch(err));
                }
            }
            _ => each(&msg).map_err(SendError::Parse)?,
        }
    }
    Ok(false)
}

/// Receives one datagram into `buf` (its capacity), erroring out if it was truncated.
pub fn recv_into(sock: &Socket, buf: &mut Vec<u8>) -> io::Result<usize> {
    buf.clear();
    if buf.capacity() < RECV_BUF {
        buf.reserve(RECV_BUF);
    }
    let n = sock.recv(buf, libc::MSG_TRUNC)?;
    if n > buf.len() {
        return Err(io::Error::other(format!(
            "netlink datagram of {n} bytes did not fit the {} byte buffer",
            buf.len()
        )));
    }
    Ok(n)
}

/// Opens a socket subscribed to the nf_tables event group, non-blocking.
pub fn open_monitor_socket() -> io::Result<Socket> {
    let mut sock = Socket::new(NETLINK_NETFILTER)?;
    sock.bind_auto()?;
    sys::grow_receive_buffer(sock.as_fd(), WANTED_RCVBUF);
    sock.add_membership(NFNLGRP_NFTABLES)?;
    sock.set_non_blocking(true)?;
    Ok(sock)
}

/// Encodes a rule/table/chain comment the way nft stores it in userdata (NFTNL_UDATA_*_COMMENT,
/// type 0): type, length, the NUL-terminated text. nft shows it as `comment "…"`.
pub fn comment_udata(text: &str) -> Vec<u8> {
    let mut text: String = text.chars().filter(|c| *c != '\0').collect();
    while text.len() > 126 {
        text.pop();
    }
    let mut out = vec![0u8, (text.len() + 1) as u8];
    out.extend_from_slice(text.as_bytes());
    out.push(0);
    out
}

/// The comment in a userdata blob, if it holds one.
pub fn udata_comment(udata: &[u8]) -> Option<String> {
    let mut rest = udata;
    while rest.len() >= 2 {
        let (ty, len) = (rest[0], usize::from(rest[1]));
        let value = rest.get(2..2 + len)?;
        if ty == 0 {
            return Some(str_attr(value));
        }
        rest = &rest[2 + len..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_to_four_bytes() {
        let mut w = Writer::new();
        w.attr_str(NFTA_SET_ELEM_LIST_SET, "n4");
        // len 7 ("n4\0" + 4), type 2, then one byte of padding
        assert_eq!(w.bytes(), &[7, 0, 2, 0, b'n', b'4', 0, 0]);
    }

    /// The NEWSETELEM that `nft --debug=mnl add element inet banjo s4 { 1.2.3.4 timeout 10s }`
    /// shows (without the NFTA_SET_ELEM_LIST_SET_ID it adds), byte for byte.
    #[test]
    fn element_with_timeout_matches_nft() {
        let mut w = Writer::new();
        w.begin(
            nft_type(NFT_MSG_NEWSETELEM),
            NLM_F_CREATE,
            1,
            libc::NFPROTO_INET as u8,
            0,
        );
        w.attr_str(NFTA_SET_ELEM_LIST_TABLE, "banjo");
        w.attr_str(NFTA_SET_ELEM_LIST_SET, "s4");
        w.begin_nest(NFTA_SET_ELEM_LIST_ELEMENTS);
        w.begin_nest(NFTA_LIST_ELEM);
        w.attr_u64_be(NFTA_SET_ELEM_TIMEOUT, 10_000);
        w.begin_nest(NFTA_SET_ELEM_KEY);
        w.attr(NFTA_DATA_VALUE, &[1, 2, 3, 4]);
        w.end_nest();
        w.end_nest();
        w.end_nest();
        w.end();
        let b = w.bytes();
        let body: &[u8] = &[
            1, 0, 0, 0, // nfgenmsg: inet, v0, res_id 0
            10, 0, 1, 0, b'b', b'a', b'n', b'j', b'o', 0, 0, 0, // table
            7, 0, 2, 0, b's', b'4', 0, 0, // set
            32, 0, 3, 0x80, // elements, nested
            28, 0, 1, 0x80, // element, nested
            12, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0x27, 0x10, // timeout 10000 ms big-endian
            12, 0, 1, 0x80, // key, nested
            8, 0, 1, 0, 1, 2, 3, 4, // data value
        ];
        assert_eq!(&b[NLMSG_HDRLEN..], body);
        let msg = Messages::new(b).next().unwrap().unwrap();
        assert_eq!(msg.ty, 0x0a0c, "type 2572 as nft shows it");
        assert_eq!(msg.flags, NLM_F_REQUEST | NLM_F_CREATE);
        assert_eq!(msg.raw.len(), b.len());
    }

    #[test]
    fn attrs_parse_back_nested_and_typed() {
        let mut w = Writer::new();
        w.begin_nest(NFTA_LIST_ELEM);
        w.attr_u64_be(NFTA_SET_ELEM_EXPIRATION, 9_996);
        w.attr_u32_be(NFTA_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
        w.end_nest();
        let (ty, inner) = Attrs::new(w.bytes()).next().unwrap().unwrap();
        assert_eq!(ty, NFTA_LIST_ELEM, "NLA_F_NESTED is masked off");
        let attrs: Vec<_> = Attrs::new(inner).map(Result::unwrap).collect();
        assert_eq!(attrs.len(), 2);
        assert_eq!(u64_be(attrs[0].1), Some(9_996));
        assert_eq!(u32_be(attrs[1].1), Some(1));
    }

    #[test]
    fn truncated_data_is_an_error_not_a_panic() {
        assert!(Messages::new(&[1, 2, 3]).next().unwrap().is_err());
        let mut bad = vec![0u8; 16];
        bad[0] = 200; // claims 200 bytes
        assert!(Messages::new(&bad).next().unwrap().is_err());
        assert!(Attrs::new(&[50, 0, 1, 0]).next().unwrap().is_err());
        assert_eq!(Attrs::new(&[1, 0]).next().map(|r| r.is_ok()), None);
    }

    #[test]
    fn splice_drops_batch_framing_and_asks_for_acks() {
        let mut src = Writer::new();
        src.begin(NFNL_MSG_BATCH_BEGIN, 0, 0, 0, NFNL_SUBSYS_NFTABLES);
        src.end();
        src.begin(nft_type(NFT_MSG_NEWTABLE), 0, 77, 1, 0);
        src.attr_str(NFTA_TABLE_NAME, "t");
        src.end();
        src.begin(nft_type(NFT_MSG_NEWTABLE), 0, 78, 1, 0);
        src.attr_str(NFTA_TABLE_NAME, "u");
        src.end();
        src.begin(NFNL_MSG_BATCH_END, 0, 79, 0, NFNL_SUBSYS_NFTABLES);
        src.end();
        let mut dst = Writer::new();
        assert_eq!(dst.splice(src.bytes()), Ok(2));
        assert_eq!(dst.renumber(5), 2);
        let seqs: Vec<(u32, u16)> = Messages::new(dst.bytes())
            .map(|m| m.map(|m| (m.seq, m.flags)).unwrap())
            .collect();
        assert_eq!(
            seqs,
            vec![(5, NLM_F_REQUEST | NLM_F_ACK), (6, NLM_F_REQUEST | NLM_F_ACK)]
        );
    }

    #[test]
    fn error_with_extended_ack_offset() {
        // NLMSG_ERROR, capped, with TLVs: error -ENOENT, original header (seq 9), OFFS = 44
        let mut m = Vec::new();
        let mut payload = Vec::new();
        payload.extend_from_slice(&(-libc::ENOENT).to_ne_bytes());
        payload.extend_from_slice(&60u32.to_ne_bytes()); // original length
        payload.extend_from_slice(&[0; 4]); // type, flags
        payload.extend_from_slice(&9u32.to_ne_bytes()); // seq
        payload.extend_from_slice(&[0; 4]); // pid
        payload.extend_from_slice(&[8, 0, 2, 0]);
        payload.extend_from_slice(&44u32.to_ne_bytes());
        m.extend_from_slice(&((16 + payload.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m.extend_from_slice(&(NLM_F_CAPPED | NLM_F_ACK_TLVS).to_ne_bytes());
        m.extend_from_slice(&[0; 8]);
        m.extend_from_slice(&payload);
        let msg = Messages::new(&m).next().unwrap().unwrap();
        let (seq, err) = NlError::parse(&msg).unwrap();
        assert_eq!(seq, 9);
        let err = err.unwrap();
        assert_eq!(err.errno, libc::ENOENT);
        assert_eq!(err.offset, Some(44));
    }

    #[test]
    fn comments_round_trip_like_nft_userdata() {
        let u = comment_udata("banjo");
        assert_eq!(u, vec![0, 6, b'b', b'a', b'n', b'j', b'o', 0]);
        assert_eq!(udata_comment(&u).as_deref(), Some("banjo"));
        assert_eq!(comment_udata(&"x".repeat(300)).len(), 2 + 127);
        assert_eq!(udata_comment(&[1, 1, 0, 0, 2, b'a', 0]).as_deref(), Some("a"));
    }
}
