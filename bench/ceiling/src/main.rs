//! The bench's ceiling: a literal prefilter plus regex, nothing else, on one core.
//!
//! usage: ceiling [--addresses] PATTERNS.tsv FORMATS LOG
//!   PATTERNS.tsv  bench/patterns.tsv (format, literal(s), failregex)
//!   FORMATS       the formats whose patterns to run, comma-separated (ssh,mail), or all
//!   --addresses   also print "address<TAB>lines" per address (for the bench's verify pass)
//!
//! A SIMD literal searcher (Teddy) over every pattern's required literals runs over whole
//! buffers of complete lines, not line by line: it jumps from one candidate line to the next.
//! An Aho-Corasick automaton then finds every literal the candidate line carries, and only
//! the regexes of those patterns run on it, in file order;
//! the first that matches wins, its <HOST> is parsed into an address and counted. No dates,
//! no ignore lists, no ban logic: what is left is the floor of matching cost, for banjo to
//! be measured against.
use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::net::IpAddr;
use std::process::ExitCode;

use aho_corasick::{packed, AhoCorasick, Input, MatchKind};
use regex::bytes::{CaptureLocations, Regex};

const HOST: &str = r"(?P<host>(?:\d{1,3}\.){3}\d{1,3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]+)";
const CHUNK: usize = 4 << 20;

/// Where the next literal starts. Teddy where the CPU has it: the automaton's own prefilter
/// keys on single rare bytes, which are not rare in logs.
enum Jump {
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

impl Jump {
    fn new(literals: &[String]) -> Result<Jump, String> {
        let packed = packed::Config::new()
            .match_kind(packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(literals)
            .build();
        Ok(match packed {
            Some(p) => Jump::Packed(p),
            None => Jump::Automaton(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(literals)
                    .map_err(|e| e.to_string())?,
            ),
        })
    }

    fn find(&self, buf: &[u8], at: usize) -> Option<(usize, usize)> {
        let m = match self {
            Jump::Packed(p) => p.find_in(buf, aho_corasick::Span::from(at..buf.len())),
            Jump::Automaton(a) => a.find(Input::new(buf).span(at..buf.len())),
        };
        m.map(|m| (m.start(), m.end()))
    }
}

struct Matcher {
    jump: Jump,
    /// every literal, for the overlapping scan of a candidate line
    literals: AhoCorasick,
    /// literal index -> pattern index
    owner: Vec<usize>,
    regexes: Vec<Regex>,
    host_group: Vec<usize>,
}

#[derive(Default)]
struct Tally {
    lines: u64,
    matched: u64,
    unparsed: u64,
    per_address: HashMap<IpAddr, u64>,
}

impl Matcher {
    fn load(path: &str, formats: &str) -> Result<Matcher, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
        let (mut literals, mut owner, mut regexes) = (Vec::new(), Vec::new(), Vec::new());
        for (n, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let [format, lits, failregex] = line.splitn(3, '\t').collect::<Vec<_>>()[..] else {
                return Err(format!(
                    "{path}:{}: want format<TAB>literal(s)<TAB>failregex",
                    n + 1
                ));
            };
            if formats != "all" && !formats.split(',').any(|f| f == format) {
                continue;
            }
            for lit in lits.split('|') {
                literals.push(lit.to_string());
                owner.push(regexes.len());
            }
            let re = Regex::new(&failregex.replace("<HOST>", HOST))
                .map_err(|e| format!("{path}:{}: {e}", n + 1))?;
            regexes.push(re);
        }
        if regexes.is_empty() || regexes.len() > 64 {
            return Err(format!(
                "{path}: formats {formats:?} have {} patterns (1 to 64)",
                regexes.len()
            ));
        }
        let host_group = regexes
            .iter()
            .map(|r| r.capture_names().position(|n| n == Some("host")).unwrap_or(0))
            .collect();
        let jump = Jump::new(&literals)?;
        let literals = AhoCorasick::new(&literals).map_err(|e| e.to_string())?;
        Ok(Matcher {
            jump,
            literals,
            owner,
            regexes,
            host_group,
        })
    }

    /// `buf` holds complete lines.
    fn scan(&self, buf: &[u8], locs: &mut [CaptureLocations], tally: &mut Tally) {
        tally.lines += memchr::memchr_iter(b'\n', buf).count() as u64;
        let mut at = 0;
        while let Some((hit_start, hit_end)) = self.jump.find(buf, at) {
            let start = memchr::memrchr(b'\n', &buf[..hit_start]).map_or(0, |i| i + 1);
            let end = memchr::memchr(b'\n', &buf[hit_end..]).map_or(buf.len(), |i| hit_end + i);
            self.line(&buf[start..end], locs, tally);
            at = end + 1;
            if at >= buf.len() {
                break;
            }
        }
    }

    fn line(&self, line: &[u8], locs: &mut [CaptureLocations], tally: &mut Tally) {
        let mut candidates = 0u64;
        for m in self.literals.find_overlapping_iter(line) {
            candidates |= 1 << self.owner[m.pattern().as_usize()];
        }
        while candidates != 0 {
            let i = candidates.trailing_zeros() as usize;
            candidates &= candidates - 1;
            if self.regexes[i].captures_read(&mut locs[i], line).is_none() {
                continue;
            }
            let host = locs[i].get(self.host_group[i]).map(|(s, e)| &line[s..e]);
            match host
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| h.parse::<IpAddr>().ok())
            {
                Some(addr) => {
                    tally.matched += 1;
                    *tally.per_address.entry(addr).or_default() += 1;
                }
                None => tally.unparsed += 1,
            }
            return;
        }
    }
}

fn run(args: &[String]) -> Result<(Tally, bool), String> {
    let addresses = args.first().is_some_and(|a| a == "--addresses");
    let [patterns, formats, log] = &args[usize::from(addresses)..] else {
        return Err("usage: ceiling [--addresses] PATTERNS.tsv FORMATS LOG".into());
    };
    let matcher = Matcher::load(patterns, formats)?;
    let mut locs: Vec<CaptureLocations> = matcher.regexes.iter().map(|r| r.capture_locations()).collect();
    let mut file = File::open(log).map_err(|e| format!("{log}: {e}"))?;
    let mut tally = Tally::default();
    let mut buf = vec![0u8; CHUNK];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0); // a line longer than the buffer
        }
        let n = file.read(&mut buf[filled..]).map_err(|e| format!("{log}: {e}"))?;
        filled += n;
        let whole = if n == 0 {
            filled
        } else {
            memchr::memrchr(b'\n', &buf[..filled]).map_or(0, |i| i + 1)
        };
        matcher.scan(&buf[..whole], &mut locs, &mut tally);
        buf.copy_within(whole..filled, 0);
        filled -= whole;
        if n == 0 {
            return Ok((tally, addresses));
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok((t, addresses)) => {
            println!(
                "matched={} lines={} addresses={} unparsed={}",
                t.matched,
                t.lines,
                t.per_address.len(),
                t.unparsed
            );
            if addresses {
                let mut v: Vec<_> = t.per_address.into_iter().collect();
                v.sort();
                for (addr, n) in v {
                    println!("{addr}\t{n}");
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ceiling: {e}");
            ExitCode::from(2)
        }
    }
}
