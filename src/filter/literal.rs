//! Required literals: strings of which at least one must occur in any line a regex matches.
//!
//! They feed the Aho-Corasick prefilter, so that the regex engines run only on lines that
//! contain one of them. Most log lines contain none and cost one automaton pass.
use regex_syntax::hir::{Class, Hir, HirKind};

/// Literals shorter than this select too many lines to be worth a prefilter entry.
pub(crate) const MIN_LEN: usize = 3;
/// An alternation wider than this is not expanded.
const MAX_ALTERNATIVES: usize = 32;

/// The best set of required literals of `regex` (already translated from fail2ban syntax),
/// or None when every line is a candidate (no literal of `MIN_LEN` bytes is required).
pub fn required(regex: &str) -> Option<Vec<Vec<u8>>> {
    let hir = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(regex)
        .ok()?;
    let set = of(&hir)?;
    (shortest(&set) >= MIN_LEN).then_some(set)
}

/// The fixed texts a regex needs, in order: one set per top-level piece that requires any,
/// for telling a user which part of a line a regex did not find.
pub fn factors(regex: &str) -> Vec<Vec<Vec<u8>>> {
    let Ok(hir) = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(regex)
    else {
        return Vec::new();
    };
    let mut hir = &hir;
    while let HirKind::Capture(c) = hir.kind() {
        hir = &c.sub;
    }
    match hir.kind() {
        HirKind::Concat(subs) => subs.iter().filter_map(of).collect(),
        _ => of(hir).into_iter().collect(),
    }
}

fn shortest(set: &[Vec<u8>]) -> usize {
    set.iter().map(Vec::len).min().unwrap_or(0)
}

/// Better = its shortest member is longer; on a tie, fewer members.
fn better(a: &[Vec<u8>], b: &[Vec<u8>]) -> bool {
    let (la, lb) = (shortest(a), shortest(b));
    la > lb || (la == lb && a.len() < b.len())
}

fn of(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    match hir.kind() {
        HirKind::Literal(lit) => Some(vec![lit.0.to_vec()]),
        HirKind::Class(class) => single_byte_class(class),
        HirKind::Capture(cap) => of(&cap.sub),
        HirKind::Repetition(rep) if rep.min >= 1 => of(&rep.sub),
        HirKind::Concat(subs) => concat(subs),
        HirKind::Alternation(subs) => {
            let mut all = Vec::new();
            for sub in subs {
                all.extend(of(sub)?);
                if all.len() > MAX_ALTERNATIVES {
                    return None;
                }
            }
            all.sort();
            all.dedup();
            Some(all)
        }
        _ => None,
    }
}

/// In a concatenation, runs of single literals join into longer strings (`a` `[Bb]` `c` gives
/// `aBc`, `abc`); then the best of the runs and of the other children is the requirement.
fn concat(subs: &[Hir]) -> Option<Vec<Vec<u8>>> {
    let mut best: Option<Vec<Vec<u8>>> = None;
    let mut run: Option<Vec<Vec<u8>>> = None;
    let consider = |cand: Option<Vec<Vec<u8>>>, best: &mut Option<Vec<Vec<u8>>>| {
        if let Some(c) = cand
            && best.as_ref().is_none_or(|b| better(&c, b))
        {
            *best = Some(c);
        }
    };
    for sub in subs {
        let exact = exact(sub);
        match (exact, run.take()) {
            (Some(e), Some(r)) => match cross(&r, &e) {
                Some(joined) => run = Some(joined),
                None => {
                    consider(Some(r), &mut best);
                    run = Some(e);
                }
            },
            (Some(e), None) => run = Some(e),
            (None, r) => {
                consider(r, &mut best);
                consider(of(sub), &mut best);
            }
        }
    }
    consider(run, &mut best);
    best
}

/// The exact strings a sub-expression matches, when it matches only a few fixed strings.
fn exact(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    match hir.kind() {
        HirKind::Literal(lit) => Some(vec![lit.0.to_vec()]),
        HirKind::Class(class) => single_byte_class(class),
        HirKind::Capture(cap) => exact(&cap.sub),
        _ => None,
    }
}

fn cross(a: &[Vec<u8>], b: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if a.len() * b.len() > MAX_ALTERNATIVES {
        return None;
    }
    Some(
        a.iter()
            .flat_map(|x| {
                b.iter().map(move |y| {
                    let mut s = x.clone();
                    s.extend_from_slice(y);
                    s
                })
            })
            .collect(),
    )
}

/// A class of a few ASCII characters (e.g. `[Aa]` from a case-insensitive letter).
fn single_byte_class(class: &Class) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    match class {
        Class::Unicode(c) => {
            for r in c.iter() {
                for ch in r.start()..=r.end() {
                    if !ch.is_ascii() || out.len() >= 4 {
                        return None;
                    }
                    out.push(vec![ch as u8]);
                }
            }
        }
        Class::Bytes(c) => {
            for r in c.iter() {
                for b in r.start()..=r.end() {
                    if out.len() >= 4 {
                        return None;
                    }
                    out.push(vec![b]);
                }
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(re: &str) -> Option<Vec<String>> {
        required(re).map(|v| v.into_iter().map(|s| String::from_utf8(s).unwrap()).collect())
    }

    #[test]
    fn longest_plain_literal_is_required() {
        assert_eq!(
            req(r"GREETDELAY from \d+: client sent data"),
            Some(vec![": client sent data".into()])
        );
    }

    #[test]
    fn alternation_gives_a_set() {
        assert_eq!(
            req(r"\(\S*,x\): (?:unknown user|Password mismatch)"),
            Some(vec!["Password mismatch".into(), "unknown user".into()])
        );
    }

    #[test]
    fn optional_parts_are_not_required() {
        assert_eq!(req(r"(?:invalid user )?\S+ from"), Some(vec![" from".into()]));
        assert_eq!(req(r"(?:abcdef)?x"), None);
    }

    #[test]
    fn case_insensitive_letters_expand() {
        let r = req(r"(?i)fail").unwrap();
        assert_eq!(r.len(), 16);
        assert!(r.contains(&"FaIl".to_string()));
    }

    #[test]
    fn factors_keep_order() {
        let f = factors(r"qlogenvelope: result=rejected .* remoteip=\d+");
        assert_eq!(
            f,
            vec![
                vec![b"qlogenvelope: result=rejected ".to_vec()],
                vec![b" remoteip=".to_vec()]
            ]
        );
    }

    #[test]
    fn nothing_literal_means_every_line_is_a_candidate() {
        assert_eq!(req(r"\d+\s+\w+"), None);
        assert_eq!(req(r"ab"), None);
    }
}
