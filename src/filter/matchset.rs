//! Several filters over one stream of lines, in one pass per line.
//!
//! Every failregex and prefregex of every filter contributes its required literals to one
//! Aho-Corasick automaton. A line that contains none of them is rejected after that single
//! scan, which is the fate of most lines; otherwise only the regexes whose literals occur
//! (and those with no usable literal) run, and captures are taken only on a hit.
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};

use super::{Filter, Outcome};
use crate::source::lines::Window;

/// Finds the leftmost occurrence of any literal. SIMD Teddy when the CPU has it: for a few
/// literals made of common bytes (`" 404` in access logs) the automaton's own prefilter picks
/// single rare bytes, which are not rare in logs; Teddy looks at byte triples.
enum FirstLiteral {
    Packed(aho_corasick::packed::Searcher),
    Automaton(AhoCorasick),
}

impl FirstLiteral {
    fn new(literals: &[Vec<u8>]) -> FirstLiteral {
        let packed = aho_corasick::packed::Config::new()
            .match_kind(aho_corasick::packed::MatchKind::LeftmostFirst)
            .builder()
            .extend(literals)
            .build();
        match packed {
            Some(p) => FirstLiteral::Packed(p),
            None => FirstLiteral::Automaton(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostFirst)
                    .build(literals)
                    .expect("literal automaton: literals are plain byte strings"),
            ),
        }
    }

    fn find(&self, text: &[u8]) -> Option<usize> {
        match self {
            FirstLiteral::Packed(p) => p.find(text).map(|m| m.start()),
            FirstLiteral::Automaton(a) => a.find(text).map(|m| m.start()),
        }
    }

    /// Where the leftmost literal starting at or after `at` starts in `hay`.
    fn find_at(&self, hay: &[u8], at: usize) -> Option<usize> {
        let span = aho_corasick::Span::from(at..hay.len());
        match self {
            FirstLiteral::Packed(p) => p.find_in(hay, span).map(|m| m.start()),
            FirstLiteral::Automaton(a) => a
                .find(aho_corasick::Input::new(hay).span(span))
                .map(|m| m.start()),
        }
    }
}

/// Per-thread scratch space, reused line after line so the hot path does not allocate.
#[derive(Debug, Default)]
pub struct Scratch {
    bits: Vec<u64>,
    ahead: Ahead,
    /// The text (address, length) [`Scratch::look_ahead`] found no literal in: its next
    /// scan rejects it without searching.
    clear: Option<(usize, usize)>,
}

/// What the last search ahead in a reader's window learned: no literal starts in
/// `from..next` of the window `key` (address, length, fill), and one starts at `next`
/// unless that is the window's end. Most lines of a log carry none of a filter's literals,
/// so one search across many lines answers for all of them, where a search per line pays
/// its setup on every line (most of its cost on a short line).
#[derive(Debug, Default)]
struct Ahead {
    key: (usize, usize, u64),
    from: usize,
    next: usize,
}

impl Scratch {
    /// Before a scan of `set` over `text`: `text` is `line`, a line of `window`, with
    /// `cut` (a date) taken out and the pieces before and after it joined. Finds out,
    /// searching ahead across the window's lines when the last search does not already
    /// tell, whether any literal of `set` can occur in `text`; if none can, that scan
    /// rejects `text` at once, else it searches `text` itself as always. None can when no
    /// literal starts anywhere in `line`, and none can span the join: no literal has the
    /// byte before the cut followed by the byte after it ([`MatchSet::joins`]).
    pub fn look_ahead(
        &mut self,
        set: &MatchSet,
        window: Window<'_>,
        line: &[u8],
        cut: std::ops::Range<usize>,
        text: &[u8],
    ) {
        self.clear = None;
        let Some(any) = &set.any else {
            return;
        };
        let (base, l) = (window.bytes.as_ptr() as usize, line.as_ptr() as usize);
        if l < base || l + line.len() > base + window.bytes.len() {
            return;
        }
        if cut.start > 0
            && let (Some(&x), Some(&y)) = (line.get(cut.start - 1), line.get(cut.end))
            && set.joins(x, y)
        {
            return;
        }
        let (a, b) = (l - base, l - base + line.len());
        let key = (base, window.bytes.len(), window.fill);
        let ahead = &mut self.ahead;
        // from <= a <= next: the first literal at or after `a` is the one at `next`
        if ahead.key != key || a < ahead.from || a > ahead.next {
            let next = any.find_at(window.bytes, a).unwrap_or(window.bytes.len());
            *ahead = Ahead { key, from: a, next };
        }
        if b <= ahead.next {
            self.clear = Some(identity(text));
        }
    }
}

/// Which text a slice is (its address and length): what `look_ahead` cleared and what a
/// scan is asked about must be the same bytes, not equal ones.
fn identity(text: &[u8]) -> (usize, usize) {
    (text.as_ptr() as usize, text.len())
}

/// Byte `x` followed by byte `y`, as a bit of [`MatchSet::inner_pairs`].
fn pair_bit(x: u8, y: u8) -> usize {
    usize::from(x) << 8 | usize::from(y)
}

/// The compiled matcher for all filters reading one source.
pub struct MatchSet {
    filters: Vec<Arc<Filter>>,
    /// The cheapest "does any literal occur, and where first" test.
    any: Option<FirstLiteral>,
    /// Standard automaton for the overlapping scan that finds every occurring literal.
    all: Option<AhoCorasick>,
    /// Literal index → global pattern id.
    owner: Vec<usize>,
    /// First global pattern id of each filter; a filter has failregex.len() + 1 ids.
    base: Vec<usize>,
    /// Global pattern ids that have no literal: candidates on every line.
    always: Vec<bool>,
    /// Whether any pattern at all is always a candidate (then the fast reject is off).
    any_always: bool,
    /// Byte pairs (x, y) that occur inside some literal, as bit `x * 256 + y`: a date cut
    /// from between x and y may join them into a literal the line itself does not carry.
    inner_pairs: Vec<u64>,
}

impl std::fmt::Debug for MatchSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatchSet")
            .field("filters", &self.filters.len())
            .field("literals", &self.owner.len())
            .field("always", &self.always.iter().filter(|a| **a).count())
            .finish()
    }
}

impl MatchSet {
    pub fn new(filters: Vec<Arc<Filter>>) -> MatchSet {
        let mut literals: Vec<Vec<u8>> = Vec::new();
        let mut owner = Vec::new();
        let mut base = Vec::with_capacity(filters.len());
        let mut always = Vec::new();
        for f in &filters {
            base.push(always.len());
            let pref = f.pref.iter();
            for p in f.fail.iter().chain(pref) {
                let id = always.len();
                match &p.literals {
                    Some(lits) => {
                        for l in lits {
                            literals.push(l.clone());
                            owner.push(id);
                        }
                        always.push(false);
                    }
                    None => always.push(true),
                }
            }
            if f.pref.is_none() {
                always.push(false); // the unused prefregex slot
            }
        }
        let build = |kind| {
            (!literals.is_empty()).then(|| {
                AhoCorasick::builder()
                    .match_kind(kind)
                    .build(&literals)
                    .expect("literal automaton: literals are plain byte strings")
            })
        };
        let mut inner_pairs = vec![0u64; 65536 / 64];
        for pair in literals.iter().flat_map(|l| l.windows(2)) {
            let bit = pair_bit(pair[0], pair[1]);
            inner_pairs[bit / 64] |= 1 << (bit % 64);
        }
        MatchSet {
            inner_pairs,
            any: (!literals.is_empty()).then(|| FirstLiteral::new(&literals)),
            all: build(MatchKind::Standard),
            any_always: always.iter().any(|a| *a),
            filters,
            owner,
            base,
            always,
        }
    }

    pub fn filters(&self) -> &[Arc<Filter>] {
        &self.filters
    }

    /// Whether some literal has byte `x` followed by byte `y`.
    fn joins(&self, x: u8, y: u8) -> bool {
        let bit = pair_bit(x, y);
        self.inner_pairs[bit / 64] & (1 << (bit % 64)) != 0
    }

    /// Runs every filter over `text` (a line with its timestamp cut) and calls `each` with
    /// the filter's index for every outcome other than `Missed`. Each line is judged alone:
    /// a source whose filters span lines feeds them through `SourceLines` instead.
    pub fn check(&self, text: &[u8], scratch: &mut Scratch, each: impl FnMut(usize, Outcome)) {
        self.check_taken(text, scratch, |_| true, each);
    }

    /// [`MatchSet::check`] for the filters `takes` accepts only, the others never evaluated:
    /// a journal entry routed to one jail of ten costs that jail's regexes, not ten jails'.
    pub fn check_taken(
        &self,
        text: &[u8],
        scratch: &mut Scratch,
        takes: impl Fn(usize) -> bool,
        mut each: impl FnMut(usize, Outcome),
    ) {
        self.scan(text, scratch, |fi, candidate| {
            if !takes(fi) {
                return;
            }
            match self.filters[fi].evaluate(text, candidate) {
                Outcome::Missed => {}
                other => each(fi, other),
            }
        });
    }

    /// The prefilter: calls `visit` with every filter that has a pattern which may match
    /// `text`, and which of its patterns may (`candidate(i)`: failregex i, or the prefregex
    /// at i = failregex count).
    pub(crate) fn scan(
        &self,
        text: &[u8],
        scratch: &mut Scratch,
        mut visit: impl FnMut(usize, &dyn Fn(usize) -> bool),
    ) {
        // Leftmost-first: no literal starts before the first one found, so the overlapping
        // scan below can start there.
        let clear = scratch.clear.take() == Some(identity(text));
        let first = match &self.any {
            Some(any) if !clear => any.find(text),
            _ => None,
        };
        if first.is_none() && !self.any_always {
            return;
        }
        let words = self.always.len().div_ceil(64);
        scratch.bits.clear();
        scratch.bits.resize(words, 0);
        if let (Some(start), Some(all)) = (first, &self.all) {
            for m in all.find_overlapping_iter(aho_corasick::Input::new(text).span(start..text.len())) {
                let id = self.owner[m.pattern().as_usize()];
                scratch.bits[id / 64] |= 1 << (id % 64);
            }
        }
        let bits = &scratch.bits;
        for (fi, f) in self.filters.iter().enumerate() {
            let base = self.base[fi];
            let n = f.fail.len() + 1;
            let cand = |i: usize| {
                let id = base + i;
                self.always[id] || bits[id / 64] & (1 << (id % 64)) != 0
            };
            if !(0..n).any(cand) {
                continue;
            }
            visit(fi, &cand);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::{FilterDef, Host};

    fn filter(fail: &[&str], ignore: &[&str], pref: Option<&str>) -> Arc<Filter> {
        let def = FilterDef {
            name: "t".into(),
            origin: "test".into(),
            failregex: fail.iter().map(|s| s.to_string()).collect(),
            ignoreregex: ignore.iter().map(|s| s.to_string()).collect(),
            prefregex: pref.map(str::to_string),
            ..Default::default()
        };
        Arc::new(Filter::compile(&def).unwrap())
    }

    fn run(set: &MatchSet, line: &str) -> Vec<(usize, Outcome)> {
        let mut out = Vec::new();
        set.check(line.as_bytes(), &mut Scratch::default(), |f, o| out.push((f, o)));
        out
    }

    fn host(o: &Outcome) -> String {
        match o {
            Outcome::Matched(m) => m.host.to_string(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn first_matching_failregex_wins_and_reports_its_index() {
        let set = MatchSet::new(vec![filter(
            &["GREETDELAY from <HOST>:", "reject .* from <HOST>$"],
            &[],
            None,
        )]);
        let r = run(
            &set,
            "qmail-smtpd: reject (auth not available): (null) from 192.0.2.9",
        );
        assert!(matches!(&r[0].1, Outcome::Matched(m) if m.failregex == 1));
        assert_eq!(host(&r[0].1), "192.0.2.9");
        assert!(run(&set, "tcpserver: status: 1/20").is_empty());
    }

    #[test]
    fn each_filter_of_a_source_sees_the_line() {
        let a = filter(&["Failed password for \\S+ from <HOST>"], &[], None);
        let b = filter(&["from <HOST> port \\d+"], &[], None);
        let set = MatchSet::new(vec![a, b]);
        let r = run(&set, "Failed password for root from 192.0.2.1 port 22 ssh2");
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].0, r[1].0), (0, 1));
    }

    #[test]
    fn check_taken_gives_the_taken_filters_outcomes_only() {
        let a = filter(&["Failed password for \\S+ from <HOST>"], &[], None);
        let set = MatchSet::new(vec![a.clone(), a.clone(), a]);
        let line = b"Failed password for root from 192.0.2.3 port 22";
        let (mut all, mut taken) = (Vec::new(), Vec::new());
        let mut scratch = Scratch::default();
        set.check(line, &mut scratch, |i, o| all.push((i, o)));
        set.check_taken(line, &mut scratch, |i| i == 1, |i, o| taken.push((i, o)));
        assert_eq!(all.len(), 3);
        assert_eq!(taken, vec![all.swap_remove(1)]);
    }

    #[test]
    fn ignoreregex_drops_a_hit() {
        let set = MatchSet::new(vec![filter(
            &["auth failed .* rip=<HOST>"],
            &["user=<monitor>"],
            None,
        )]);
        let r = run(&set, "auth failed user=<monitor> rip=192.0.2.1");
        assert_eq!(
            r[0].1,
            Outcome::Ignored {
                failregex: 0,
                ignoreregex: 0
            }
        );
    }

    #[test]
    fn prefregex_narrows_the_text_for_failregex() {
        let set = MatchSet::new(vec![filter(
            &["^authentication failure rhost=<HOST>$"],
            &[],
            Some(r"^\S+ sshd\[\d+\]: <F-CONTENT>.+</F-CONTENT>$"),
        )]);
        let r = run(&set, "mail sshd[1]: authentication failure rhost=192.0.2.4");
        assert_eq!(host(&r[0].1), "192.0.2.4");
        assert!(run(&set, "mail other[1]: authentication failure rhost=192.0.2.4").is_empty());
    }

    #[test]
    fn patterns_without_literals_still_run() {
        let set = MatchSet::new(vec![filter(&[r"^\S+ <HOST>$"], &[], None)]);
        assert_eq!(host(&run(&set, "x 192.0.2.8")[0].1), "192.0.2.8");
    }

    #[test]
    fn a_literal_in_a_user_field_does_not_make_its_address_the_one() {
        let set = MatchSet::new(vec![filter(&[r"password fail .*:<HOST>$"], &[], None)]);
        let line = "vchkpw-submission: password fail (pass: 'x:203.0.113.1') a@b.xy:192.0.2.44";
        let r = run(&set, line);
        assert!(
            matches!(&r[0].1, Outcome::Matched(m) if m.host == Host::Addr("192.0.2.44".parse().unwrap()))
        );
    }

    #[test]
    fn many_filters_beyond_one_bitset_word() {
        let filters: Vec<_> = (0..40)
            .map(|i| {
                filter(
                    &[
                        &format!("svc{i:02} fail from <HOST>"),
                        "never matches this <HOST>",
                    ],
                    &[],
                    None,
                )
            })
            .collect();
        let set = MatchSet::new(filters);
        let r = run(&set, "svc37 fail from 192.0.2.37");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].0, 37);
    }

    /// Each filter `scan` visits for `text`, with its candidate patterns.
    fn visits(set: &MatchSet, scratch: &mut Scratch, text: &[u8]) -> Vec<(usize, Vec<bool>)> {
        let mut v = Vec::new();
        set.scan(text, scratch, |fi, cand| {
            let n = set.filters[fi].fail.len() + 1;
            v.push((fi, (0..n).map(cand).collect()))
        });
        v
    }

    #[test]
    fn looking_ahead_rejects_only_what_searching_the_line_would() {
        // literals of few distinct bytes, so that lines carry them often, and a date cut
        // out of a line often joins the two halves of one
        let set = MatchSet::new(vec![
            filter(&["abc <HOST>", "bca<HOST>"], &[], None),
            filter(&["ca b <HOST>"], &[], None),
        ]);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let (mut ahead, mut plain) = (Scratch::default(), Scratch::default());
        let (mut joined, mut rejected, mut lines_seen) = (Vec::new(), 0, 0);
        // one buffer, refilled in place as a reader's is: the same address and length
        // with other bytes, told apart only by the fill
        let mut bytes = vec![0u8; 160];
        for fill in 0..600 {
            for b in bytes.iter_mut() {
                *b = b"abc \n"[next(5).min(next(5))];
            }
            let window = Window { bytes: &bytes, fill };
            let mut lines: Vec<std::ops::Range<usize>> = Vec::new();
            let mut at = 0;
            for (i, _) in bytes.iter().enumerate().filter(|(_, b)| **b == b'\n') {
                lines.push(at..i);
                at = i + 1;
            }
            // a line looked at again after those following it
            lines.extend(lines.first().cloned());
            for (k, range) in lines.into_iter().enumerate() {
                // every seventh line is a copy, not in the window: no looking ahead
                let copy;
                let line = if k % 7 == 3 {
                    copy = bytes[range].to_vec();
                    &copy[..]
                } else {
                    &bytes[range]
                };
                let start = next(line.len() + 1);
                let end = start + next(line.len() + 1 - start);
                joined.clear();
                joined.extend_from_slice(&line[..start]);
                joined.extend_from_slice(&line[end..]);
                // as time::cut gives it: a slice of the line when the date starts it
                let text: &[u8] = if start == 0 { &line[end..] } else { &joined };
                ahead.look_ahead(&set, window, line, start..end, text);
                rejected += usize::from(ahead.clear.is_some());
                lines_seen += 1;
                assert_eq!(
                    visits(&set, &mut ahead, text),
                    visits(&set, &mut plain, text),
                    "{:?} with {start}..{end} cut",
                    String::from_utf8_lossy(line)
                );
            }
        }
        assert!(
            rejected * 4 > lines_seen,
            "{rejected} of {lines_seen} lines rejected ahead: the test tries too little"
        );
    }
}
