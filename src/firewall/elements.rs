//! What a ban is in the kernel: the four sets of a jail, the key bytes of an address or a
//! network (networks as intervals: a start element and an end element flagged
//! INTERVAL_END one past the last address), the writing of element lists into messages, and
//! reading them back from a GETSETELEM dump.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::Target;
use super::nfnl::{
    self, Attrs, MAX_ELEMENTS_NEST, Msg, NFT_SET_ELEM_INTERVAL_END, NFT_SET_INTERVAL, NFT_SET_TIMEOUT,
    NFTA_DATA_VALUE, NFTA_LIST_ELEM, NFTA_SET_ELEM_EXPIRATION, NFTA_SET_ELEM_FLAGS, NFTA_SET_ELEM_KEY,
    NFTA_SET_ELEM_LIST_ELEMENTS, NFTA_SET_ELEM_LIST_SET, NFTA_SET_ELEM_LIST_SET_ID, NFTA_SET_ELEM_LIST_TABLE,
    NFTA_SET_ELEM_TIMEOUT, ParseError, Writer,
};

/// nftables' data type numbers (nft's `enum datatypes`), shown by `nft list` as the set's type.
pub const TYPE_IPADDR: u32 = 7;
pub const TYPE_IP6ADDR: u32 = 8;
pub const TYPE_INET_PROTOCOL: u32 = 12;
pub const TYPE_INET_SERVICE: u32 = 13;

/// The four sets of a jail. Single addresses go to hash sets (`flags timeout`), which take
/// 100k elements, refresh cheaply and never conflict; networks go to interval sets
/// (`flags interval,timeout`), where the kernel refuses overlapping elements, so banjo keeps
/// them apart from addresses (an address inside a banned network is not an overlap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SetKind {
    V4,
    V6,
    Net4,
    Net6,
}

impl SetKind {
    pub const ALL: [SetKind; 4] = [SetKind::V4, SetKind::V6, SetKind::Net4, SetKind::Net6];

    pub fn suffix(self) -> &'static str {
        match self {
            SetKind::V4 => "v4",
            SetKind::V6 => "v6",
            SetKind::Net4 => "net4",
            SetKind::Net6 => "net6",
        }
    }

    pub fn set_name(self, jail: &str) -> String {
        format!("{jail}-{}", self.suffix())
    }

    pub fn is_v6(self) -> bool {
        matches!(self, SetKind::V6 | SetKind::Net6)
    }

    pub fn is_net(self) -> bool {
        matches!(self, SetKind::Net4 | SetKind::Net6)
    }

    pub fn key_len(self) -> usize {
        if self.is_v6() { 16 } else { 4 }
    }

    pub fn key_type(self) -> u32 {
        if self.is_v6() { TYPE_IP6ADDR } else { TYPE_IPADDR }
    }

    pub fn flags(self) -> u32 {
        if self.is_net() {
            NFT_SET_TIMEOUT | NFT_SET_INTERVAL
        } else {
            NFT_SET_TIMEOUT
        }
    }

    fn bits(self) -> u32 {
        if self.is_v6() { 128 } else { 32 }
    }

    /// Most bytes one element (with its end element) takes in an element list.
    pub fn max_element_len(self) -> usize {
        let data = 4 + self.key_len();
        let start = 4 + 4 + data + 12; // element nest, key nest, value, timeout
        let end = 4 + 4 + data + 8; // element nest, key nest, value, flags
        if self.is_net() { start + end } else { start }
    }
}

/// A set element's key: up to 16 bytes (an IPv6 address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    bytes: [u8; 16],
    len: u8,
}

impl Key {
    pub fn new(data: &[u8]) -> Key {
        let mut bytes = [0; 16];
        let len = data.len().min(16);
        bytes[..len].copy_from_slice(&data[..len]);
        Key {
            bytes,
            len: len as u8,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    fn value(&self) -> u128 {
        self.as_bytes()
            .iter()
            .fold(0u128, |acc, b| (acc << 8) | u128::from(*b))
    }

    fn from_value(value: u128, len: usize) -> Key {
        let all = value.to_be_bytes();
        Key::new(&all[16 - len..])
    }
}

/// A ban target the way the kernel holds it: which set, start key, end key (exclusive; None for
/// an address, or a network that reaches the top of the address space).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Placed {
    pub kind: SetKind,
    pub target: Target,
    pub start: Key,
    pub end: Option<Key>,
}

impl Placed {
    /// Normalizes `target`: IPv4-mapped IPv6 becomes IPv4, a /32 (/128) network an address,
    /// host bits of a network are cleared. Errors name what is wrong with the prefix.
    pub fn new(target: Target) -> Result<Placed, String> {
        let (addr, prefix) = match target {
            Target::Addr(addr) => (addr.to_canonical(), None),
            Target::Net(addr, prefix) => {
                let addr = addr.to_canonical();
                // A mapped address's prefix counts the 96 bits of the mapping.
                let prefix = if addr.is_ipv4() && target_is_v6(&target) {
                    prefix.checked_sub(96).ok_or_else(|| {
                        format!("prefix /{prefix} of an IPv4-mapped address is shorter than /96")
                    })?
                } else {
                    prefix
                };
                (addr, Some(prefix))
            }
        };
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        let value = ip_value(addr);
        match prefix {
            None => Ok(Placed::addr(addr)),
            Some(p) if u32::from(p) > bits => Err(format!("prefix /{p} is longer than /{bits}")),
            Some(p) if u32::from(p) == bits => Ok(Placed::addr(addr)),
            Some(p) => {
                let kind = if addr.is_ipv4() {
                    SetKind::Net4
                } else {
                    SetKind::Net6
                };
                let host = host_mask(bits, u32::from(p));
                let start = value & !host;
                let last = start | host;
                let len = kind.key_len();
                let end = (last < max_value(bits)).then(|| Key::from_value(last + 1, len));
                Ok(Placed {
                    kind,
                    target: Target::Net(value_ip(start, addr.is_ipv6()), p),
                    start: Key::from_value(start, len),
                    end,
                })
            }
        }
    }

    fn addr(addr: IpAddr) -> Placed {
        let (kind, data) = match addr {
            IpAddr::V4(a) => (SetKind::V4, a.octets().to_vec()),
            IpAddr::V6(a) => (SetKind::V6, a.octets().to_vec()),
        };
        Placed {
            kind,
            target: Target::Addr(addr),
            start: Key::new(&data),
            end: None,
        }
    }

    /// The first and last address value it covers.
    pub fn range(&self) -> (u128, u128) {
        let start = self.start.value();
        let last = match self.end {
            Some(end) => end.value() - 1,
            None if self.kind.is_net() => max_value(self.kind.bits()),
            None => start,
        };
        (start, last)
    }

    /// Whether `self` covers all of `other` (same set kind).
    pub fn covers(&self, other: &Placed) -> bool {
        let ((a, b), (c, d)) = (self.range(), other.range());
        self.kind == other.kind && a <= c && d <= b
    }
}

fn target_is_v6(target: &Target) -> bool {
    matches!(
        target,
        Target::Addr(IpAddr::V6(_)) | Target::Net(IpAddr::V6(_), _)
    )
}

fn host_mask(bits: u32, prefix: u32) -> u128 {
    if prefix == 0 {
        max_value(bits)
    } else {
        max_value(bits) >> prefix
    }
}

fn max_value(bits: u32) -> u128 {
    if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    }
}

fn ip_value(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn value_ip(value: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(value))
    } else {
        IpAddr::V4(Ipv4Addr::from(value as u32))
    }
}

/// Milliseconds for NFTA_SET_ELEM_TIMEOUT: at least 1 (0 would mean "the set's default").
pub fn timeout_ms(timeout: Duration) -> u64 {
    u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// Which set an element list message is about.
#[derive(Debug, Clone, Copy)]
pub struct SetRef<'a> {
    pub family: u8,
    pub table: &'a str,
    pub set: &'a str,
    /// For an anonymous set created in the same transaction.
    pub set_id: Option<u32>,
}

/// One element to write: key, optional exclusive end key, optional timeout.
#[derive(Debug, Clone, Copy)]
pub struct Elem {
    pub start: Key,
    pub end: Option<Key>,
    pub timeout_ms: Option<u64>,
}

/// Writes one NEWSETELEM/DELSETELEM/DESTROYSETELEM message for `set` holding `elems` (which
/// must fit [`MAX_ELEMENTS_NEST`]); returns each element's offset in the message, for mapping
/// an extended-ACK offset back to the element.
pub fn write_elements(
    w: &mut Writer,
    msg_type: u16,
    flags: u16,
    set: SetRef<'_>,
    elems: &[Elem],
) -> Vec<u32> {
    w.begin(nfnl::nft_type(msg_type), flags, 0, set.family, 0);
    w.attr_str(NFTA_SET_ELEM_LIST_TABLE, set.table);
    w.attr_str(NFTA_SET_ELEM_LIST_SET, set.set);
    if let Some(id) = set.set_id {
        w.attr_u32_be(NFTA_SET_ELEM_LIST_SET_ID, id);
    }
    w.begin_nest(NFTA_SET_ELEM_LIST_ELEMENTS);
    let mut offsets = Vec::with_capacity(elems.len());
    for e in elems {
        offsets.push(w.offset_in_msg() as u32);
        w.begin_nest(NFTA_LIST_ELEM);
        if let Some(ms) = e.timeout_ms {
            w.attr_u64_be(NFTA_SET_ELEM_TIMEOUT, ms);
        }
        write_key(w, e.start);
        w.end_nest();
        if let Some(end) = e.end {
            w.begin_nest(NFTA_LIST_ELEM);
            write_key(w, end);
            w.attr_u32_be(NFTA_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
            w.end_nest();
        }
        debug_assert!(w.nest_len() <= MAX_ELEMENTS_NEST + 128);
    }
    w.end_nest();
    w.end();
    offsets
}

fn write_key(w: &mut Writer, key: Key) {
    w.begin_nest(NFTA_SET_ELEM_KEY);
    w.attr(NFTA_DATA_VALUE, key.as_bytes());
    w.end_nest();
}

/// One element as a dump shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DumpedElem {
    pub key: Key,
    pub interval_end: bool,
    pub timeout_ms: Option<u64>,
    pub expiration_ms: Option<u64>,
}

/// The elements of one GETSETELEM answer message.
pub fn parse_elements(msg: &Msg<'_>, out: &mut Vec<DumpedElem>) -> Result<(), ParseError> {
    let (_, attrs) = msg.nfgen()?;
    for attr in attrs {
        let (ty, data) = attr?;
        if ty != NFTA_SET_ELEM_LIST_ELEMENTS {
            continue;
        }
        for elem in Attrs::new(data) {
            let (ty, data) = elem?;
            if ty != NFTA_LIST_ELEM {
                continue;
            }
            let mut e = DumpedElem {
                key: Key::new(&[]),
                interval_end: false,
                timeout_ms: None,
                expiration_ms: None,
            };
            for field in Attrs::new(data) {
                let (ty, data) = field?;
                match ty {
                    NFTA_SET_ELEM_KEY => {
                        let value = Attrs::new(data)
                            .find(NFTA_DATA_VALUE)
                            .ok_or(ParseError("set element key without a value"))?;
                        e.key = Key::new(value);
                    }
                    NFTA_SET_ELEM_FLAGS => {
                        e.interval_end = nfnl::u32_be(data).unwrap_or(0) & NFT_SET_ELEM_INTERVAL_END != 0;
                    }
                    NFTA_SET_ELEM_TIMEOUT => e.timeout_ms = nfnl::u64_be(data),
                    NFTA_SET_ELEM_EXPIRATION => e.expiration_ms = nfnl::u64_be(data),
                    _ => {}
                }
            }
            out.push(e);
        }
    }
    Ok(())
}

/// A banned target as read back: its placement, the remaining time (None = permanent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Present {
    pub placed: Placed,
    pub remaining: Option<Duration>,
}

/// Turns dumped elements of a set of `kind` into targets. For interval sets this pairs each
/// start with the end element after it; ranges that are not one CIDR network (not made by
/// banjo) and stray end elements are left out.
pub fn assemble(kind: SetKind, mut elems: Vec<DumpedElem>) -> Vec<Present> {
    let remaining = |e: &DumpedElem| -> Option<Duration> {
        e.timeout_ms
            .map(|_| Duration::from_millis(e.expiration_ms.unwrap_or(0)))
    };
    if !kind.is_net() {
        return elems
            .iter()
            .filter(|e| e.key.as_bytes().len() == kind.key_len())
            .map(|e| Present {
                placed: Placed::addr(key_ip(e.key)),
                remaining: remaining(e),
            })
            .collect();
    }
    // By key; at equal keys the end (of the interval below) before the start.
    elems.sort_by_key(|e| (e.key, !e.interval_end));
    let mut out = Vec::new();
    let mut i = 0;
    while i < elems.len() {
        let e = elems[i];
        i += 1;
        if e.interval_end || e.key.as_bytes().len() != kind.key_len() {
            continue;
        }
        let end = match elems.get(i) {
            Some(next) if next.interval_end => {
                i += 1;
                Some(next.key.value())
            }
            _ => None,
        };
        if let Some(placed) = cidr(kind, e.key.value(), end) {
            out.push(Present {
                placed,
                remaining: remaining(&e),
            });
        }
    }
    out
}

fn key_ip(key: Key) -> IpAddr {
    value_ip(key.value(), key.as_bytes().len() == 16)
}

/// The network [start, end) is, if it is one.
fn cidr(kind: SetKind, start: u128, end: Option<u128>) -> Option<Placed> {
    let bits = kind.bits();
    let size_minus_one = match end {
        Some(end) => end.checked_sub(start)?.checked_sub(1)?,
        None => max_value(bits) - start,
    };
    // size must be a power of two and start aligned to it
    if size_minus_one & size_minus_one.wrapping_add(1) != 0 || start & size_minus_one != 0 {
        return None;
    }
    let host_bits = 128 - size_minus_one.leading_zeros();
    let prefix = bits.checked_sub(host_bits)? as u8;
    Placed::new(Target::Net(value_ip(start, kind.is_v6()), prefix)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addresses_and_host_networks_go_to_the_hash_sets() {
        let p = Placed::new(Target::Addr(ip("192.0.2.7"))).unwrap();
        assert_eq!(
            (p.kind, p.start.as_bytes(), p.end),
            (SetKind::V4, &[192, 0, 2, 7][..], None)
        );
        let p = Placed::new(Target::Net(ip("192.0.2.7"), 32)).unwrap();
        assert_eq!(p.target, Target::Addr(ip("192.0.2.7")));
        let p = Placed::new(Target::Addr(ip("::ffff:192.0.2.7"))).unwrap();
        assert_eq!((p.kind, p.target), (SetKind::V4, Target::Addr(ip("192.0.2.7"))));
        let p = Placed::new(Target::Addr(ip("2001:db8::1"))).unwrap();
        assert_eq!(p.kind, SetKind::V6);
    }

    /// nft sends 10.1.0.0/16 as start 0a010000 and end 0a020000 flagged interval-end, and
    /// 255.255.255.0/24 as a start without end element (`nft --debug=netlink`).
    #[test]
    fn networks_are_intervals_like_nft_sends_them() {
        let p = Placed::new(Target::Net(ip("10.1.2.3"), 16)).unwrap();
        assert_eq!(p.kind, SetKind::Net4);
        assert_eq!(p.target, Target::Net(ip("10.1.0.0"), 16));
        assert_eq!(p.start.as_bytes(), &[10, 1, 0, 0]);
        assert_eq!(p.end.unwrap().as_bytes(), &[10, 2, 0, 0]);
        let top = Placed::new(Target::Net(ip("255.255.255.9"), 24)).unwrap();
        assert_eq!((top.start.as_bytes(), top.end), (&[255, 255, 255, 0][..], None));
        let v6 = Placed::new(Target::Net(ip("2001:db8:1:2::5"), 48)).unwrap();
        assert_eq!(v6.target, Target::Net(ip("2001:db8:1::"), 48));
        assert_eq!(v6.end.unwrap().as_bytes()[..6], [0x20, 0x01, 0x0d, 0xb8, 0, 2]);
        assert!(Placed::new(Target::Net(ip("10.0.0.0"), 33)).is_err());
        let all = Placed::new(Target::Net(ip("1.2.3.4"), 0)).unwrap();
        assert_eq!((all.range(), all.end), ((0, u128::from(u32::MAX)), None));
        let mapped = Placed::new(Target::Net(ip("::ffff:10.9.8.7"), 120)).unwrap();
        assert_eq!(mapped.target, Target::Net(ip("10.9.8.0"), 24));
    }

    #[test]
    fn covers_compares_ranges() {
        let big = Placed::new(Target::Net(ip("10.0.0.0"), 8)).unwrap();
        let small = Placed::new(Target::Net(ip("10.2.3.0"), 24)).unwrap();
        assert!(big.covers(&small) && !small.covers(&big) && big.covers(&big));
    }

    #[test]
    fn element_list_bytes() {
        let mut w = Writer::new();
        let p = Placed::new(Target::Net(ip("10.1.0.0"), 16)).unwrap();
        let set = SetRef {
            family: 1,
            table: "banjo",
            set: "n4",
            set_id: None,
        };
        let elems = [Elem {
            start: p.start,
            end: p.end,
            timeout_ms: Some(60_000),
        }];
        let offsets = write_elements(&mut w, nfnl::NFT_MSG_NEWSETELEM, 0, set, &elems);
        let body = &w.bytes()[nfnl::NLMSG_HDRLEN..];
        let elements: &[u8] = &[
            56, 0, 3, 0x80, // elements
            28, 0, 1, 0x80, // start element
            12, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0xea, 0x60, // timeout 60000 ms
            12, 0, 1, 0x80, 8, 0, 1, 0, 10, 1, 0, 0, // key 10.1.0.0
            24, 0, 1, 0x80, // end element
            12, 0, 1, 0x80, 8, 0, 1, 0, 10, 2, 0, 0, // key 10.2.0.0
            8, 0, 3, 0, 0, 0, 0, 1, // flags: interval end, big-endian
        ];
        assert_eq!(&body[4 + 12 + 8..], elements);
        assert_eq!(offsets, vec![(nfnl::NLMSG_HDRLEN + 4 + 12 + 8 + 4) as u32]);
        assert!(p.kind.max_element_len() >= elements.len() - 4);
    }

    #[test]
    fn dumped_intervals_become_networks() {
        let p = |s: &str, n| Placed::new(Target::Net(ip(s), n)).unwrap();
        let a = p("10.1.0.0", 16);
        let b = p("10.2.0.0", 16); // adjacent: its start equals a's end
        let top = p("255.255.255.0", 24);
        let start = |x: &Placed, t: Option<u64>| DumpedElem {
            key: x.start,
            interval_end: false,
            timeout_ms: t,
            expiration_ms: t.map(|t| t - 4),
        };
        let end = |x: &Placed| DumpedElem {
            key: x.end.unwrap(),
            interval_end: true,
            timeout_ms: None,
            expiration_ms: None,
        };
        let zero_end = DumpedElem {
            key: Key::new(&[0, 0, 0, 0]),
            interval_end: true,
            timeout_ms: None,
            expiration_ms: None,
        };
        // the kernel's rbtree dumps in descending order; nft's leading "0 end" is ignored
        let dumped = vec![
            start(&top, Some(30_000)),
            end(&b),
            start(&b, None),
            end(&a),
            start(&a, Some(60_000)),
            zero_end,
        ];
        let got = assemble(SetKind::Net4, dumped);
        let targets: Vec<_> = got.iter().map(|x| (x.placed.target, x.remaining)).collect();
        assert_eq!(
            targets,
            vec![
                (a.target, Some(Duration::from_millis(59_996))),
                (b.target, None),
                (top.target, Some(Duration::from_millis(29_996))),
            ]
        );
    }

    #[test]
    fn non_cidr_ranges_are_not_banjos() {
        let e = |k: [u8; 4], end| DumpedElem {
            key: Key::new(&k),
            interval_end: end,
            timeout_ms: None,
            expiration_ms: None,
        };
        let got = assemble(
            SetKind::Net4,
            vec![e([10, 0, 0, 1], false), e([10, 0, 0, 4], true)],
        );
        assert!(got.is_empty());
    }
}
