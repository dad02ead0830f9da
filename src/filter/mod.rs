//! Filters: fail2ban failregex syntax compiled into one linear-time matcher per source.
//!
//! `FilterDef` is a filter as written (config, built-in or fail2ban .conf file);
//! `Filter` is it compiled; `MatchSet` runs several filters over one line in one pass;
//! `SourceLines` (multiline.rs) carries what a source's filters remember between lines.
//! Timestamps of text lines are found by `time`; nothing here does I/O except `resolve`
//! reading a filter file the admin named.
pub mod builtin;
pub mod f2bconf;
mod literal;
mod matchset;
pub mod multiline;
mod pattern;
mod tags;
pub mod time;

pub use matchset::{MatchSet, Scratch};
pub use multiline::{MultilineStats, SourceLines};
pub use pattern::{Captured, Host, Pattern};

use std::collections::BTreeMap;
use std::path::Path;

/// A filter as written: the fail2ban keys, uncompiled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterDef {
    /// Name shown in messages: the built-in name, the file stem or the config key.
    pub name: String,
    /// Where it was defined, for messages: "built-in", a file path, or "config.toml [filters.x]".
    pub origin: String,
    pub failregex: Vec<String>,
    pub ignoreregex: Vec<String>,
    pub prefregex: Option<String>,
    /// fail2ban `datepattern`, when the filter pins one.
    pub datepattern: Option<String>,
    /// fail2ban `journalmatch`: the journal matches of a jail that sets neither `journal` nor
    /// `multilog`, as words (`FIELD=VALUE`, `+`; each line of a .conf value is an alternative).
    pub journalmatch: Vec<String>,
    /// fail2ban `maxlines`: how many lines a failregex sees at once (0 or 1: each line alone).
    pub maxlines: usize,
    /// Options read from a fail2ban file that banjo cannot honour, with why (e.g. `maxlines`).
    pub unsupported: Vec<String>,
}

/// Why a filter could not be found or compiled. Callers (config check, test-filter) print it
/// with the jail or file it belongs to.
#[derive(Debug, thiserror::Error)]
pub enum FilterError {
    #[error(
        "unknown filter {name:?}: not a built-in filter ({builtins}), not a [filters.{name}] section, and no file {name:?} exists"
    )]
    Unknown { name: String, builtins: String },
    #[error("{origin}: {key} {index}: {message}\n  regex: {regex}")]
    BadRegex {
        origin: String,
        key: &'static str,
        index: usize,
        regex: String,
        message: String,
    },
    #[error("{origin}: no failregex: a filter needs at least one")]
    NoFailregex { origin: String },
    #[error("{origin}: {message}")]
    BadDatepattern {
        origin: String,
        pattern: String,
        message: String,
    },
    #[error("{0}")]
    Other(String),
}

/// A compiled filter.
#[derive(Debug)]
pub struct Filter {
    pub def: FilterDef,
    fail: Vec<Pattern>,
    ignore: Vec<Pattern>,
    pref: Option<Pattern>,
    /// Lines a failregex sees at once (at least 1).
    maxlines: usize,
    /// Whether a regex captures `<F-MLFID>`: failures are assembled across lines per id.
    by_id: bool,
}

/// What a filter says of one line (its timestamp already cut).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Missed,
    /// A failregex matched, and so did an ignoreregex.
    Ignored {
        failregex: usize,
        ignoreregex: usize,
    },
    /// A failregex matched but what its address tag took is not an address.
    BadHost {
        failregex: usize,
        text: String,
    },
    /// A failregex matched a line that is part of a multi-line failure but not a failure
    /// itself: marked `<F-NOFAIL>`, or its address is not known (yet).
    Context {
        failregex: usize,
    },
    Matched(Matched),
}

/// A failure: which failregex matched, the address, and the other captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    /// Index into the filter's failregex list (0-based).
    pub failregex: usize,
    pub host: Host,
    pub fields: Vec<(String, String)>,
    /// How many log lines make up this failure (fail2ban's `attempts`): 1 for a single line.
    pub lines: usize,
    /// Every user name a multi-line failure named, sorted; empty unless assembled by id.
    pub users: Vec<String>,
}

/// One failregex hit on a line or buffer, before multi-line assembly.
#[derive(Debug)]
pub(crate) struct Hit {
    pub failregex: usize,
    /// The prefregex's captures merged with the failregex's (the failregex's win).
    pub captured: Captured,
}

/// What the regexes say of one line or buffer.
#[derive(Debug)]
pub(crate) enum Search {
    Missed,
    Ignored {
        failregex: usize,
        ignoreregex: usize,
        span: (usize, usize),
        skipped: Vec<(usize, usize)>,
    },
    Hit(Hit),
}

impl Search {
    /// The outcome of a search whose hit `hit` makes into one (a failure, or context).
    pub(crate) fn outcome(self, hit: impl FnOnce(Hit) -> Outcome) -> Outcome {
        match self {
            Search::Missed => Outcome::Missed,
            Search::Ignored {
                failregex,
                ignoreregex,
                ..
            } => Outcome::Ignored {
                failregex,
                ignoreregex,
            },
            Search::Hit(h) => hit(h),
        }
    }
}

impl Filter {
    /// Compiles every regex; an error names the filter, the key and the regex's position.
    pub fn compile(def: &FilterDef) -> Result<Filter, FilterError> {
        if def.failregex.is_empty() {
            return Err(FilterError::NoFailregex {
                origin: def.origin.clone(),
            });
        }
        let maxlines = def.maxlines.max(1);
        let compile = |key: &'static str, index: usize, regex: &str, multi_line: bool| {
            Pattern::compile_with(regex, multi_line).map_err(|message| FilterError::BadRegex {
                origin: def.origin.clone(),
                key,
                index: index + 1,
                regex: regex.to_string(),
                message,
            })
        };
        if let Some(pattern) = &def.datepattern {
            // a date banjo cannot find would leave every line at "now": refuse, do not guess
            time::TimeFinder::pinned(pattern, jiff::tz::TimeZone::UTC).map_err(|e| {
                FilterError::BadDatepattern {
                    origin: def.origin.clone(),
                    pattern: pattern.clone(),
                    message: e.to_string(),
                }
            })?;
        }
        let pref = def
            .prefregex
            .as_deref()
            .map(|re| compile("prefregex", 0, re, false))
            .transpose()?;
        let pref_names = pref.as_ref().is_some_and(Pattern::has_failure_id);
        let mut fail = Vec::with_capacity(def.failregex.len());
        for (i, re) in def.failregex.iter().enumerate() {
            // fail2ban compiles failregexes for a multi-line buffer when maxlines > 1
            let p = compile("failregex", i, re, maxlines > 1)?;
            let problem = if !p.has_failure_id() && !pref_names {
                Some(
                    "no <HOST>, <ADDR>, <IP4>, <IP6>, <DNS>, <F-ID> or <F-MLFID> tag: banjo would \
                     not know whom to ban",
                )
            } else if p.hosts_at_once().is_some_and(|n| n > 1) {
                Some(
                    "two address tags (<HOST>, <ADDR>, <IP4>, <IP6>, <DNS>, <SUBNET>) can match in \
                     one line: banjo would not know which address to ban; keep one, or make them \
                     alternatives such as (?:from <HOST>|by <HOST>)",
                )
            } else {
                None
            };
            if let Some(message) = problem {
                return Err(FilterError::BadRegex {
                    origin: def.origin.clone(),
                    key: "failregex",
                    index: i + 1,
                    regex: re.clone(),
                    message: message.into(),
                });
            }
            fail.push(p);
        }
        let ignore = def
            .ignoreregex
            .iter()
            .enumerate()
            .map(|(i, re)| compile("ignoreregex", i, re, false))
            .collect::<Result<_, _>>()?;
        let by_id = fail.iter().chain(&pref).any(|p| p.has_group("mlfid"));
        Ok(Filter {
            def: def.clone(),
            fail,
            ignore,
            pref,
            maxlines,
            by_id,
        })
    }

    pub fn failregex(&self) -> &[Pattern] {
        &self.fail
    }

    /// Lines a failregex sees at once (fail2ban's maxlines, at least 1).
    pub fn maxlines(&self) -> usize {
        self.maxlines
    }

    /// Whether the filter remembers anything between lines: a maxlines buffer or failures
    /// assembled per `<F-MLFID>`. Only such filters need a `SourceLines` state.
    pub fn is_multiline(&self) -> bool {
        self.maxlines > 1 || self.by_id
    }

    /// Things `banjo check` should tell: patterns on the slow engine, options not honoured.
    pub fn warnings(&self) -> Vec<String> {
        let mut w: Vec<String> = self
            .fail
            .iter()
            .enumerate()
            .filter(|(_, p)| p.uses_fallback())
            .map(|(i, p)| {
                format!(
                    "failregex {} uses look-around or a back-reference: it runs on the backtracking engine, \
                     which is slower and not linear-time: {}",
                    i + 1,
                    p.source
                )
            })
            .collect();
        w.extend(self.def.unsupported.iter().cloned());
        w
    }

    /// Matches one line with every regex (no prefilter), as if it were the only line: for
    /// single lines and explanations.
    pub fn check(&self, text: &[u8]) -> Outcome {
        self.evaluate(text, |_| true)
    }

    /// Why `text` was missed, in a sentence: the closest failregex and the fixed text it
    /// needs but does not find (the usual cause, e.g. a qlogenvelope line without remoteip=).
    pub fn explain_miss(&self, text: &[u8]) -> String {
        if let Some(p) = &self.pref
            && p.captures(text).is_none()
        {
            let (_, missing) = p.fixed_text(text);
            return if missing.is_empty() {
                "the prefregex does not match this line".to_string()
            } else {
                format!("the prefregex does not match: no {}", missing.join(", "))
            };
        }
        // closest: the most fixed text found, then the least missing, then the first
        let scored = self.fail.iter().enumerate().map(|(i, p)| {
            let (found, missing) = p.fixed_text(text);
            let weight = found.iter().map(String::len).sum::<usize>();
            (weight, usize::MAX - missing.len(), i, found, missing)
        });
        let Some((nfound, _, i, found, missing)) = scored.max_by_key(|s| (s.0, s.1, usize::MAX - s.2)) else {
            return String::new();
        };
        let which = format!("failregex #{} ({})", i + 1, self.fail[i].source);
        if nfound == 0 && !missing.is_empty() {
            format!(
                "none of the filter's fixed text occurs here; the closest, {which}, needs {}",
                missing.join(", ")
            )
        } else if !missing.is_empty() {
            format!(
                "closest is {which}: has {} but not {}",
                found.join(", "),
                missing.join(", ")
            )
        } else {
            format!(
                "closest is {which}: its fixed text is all here, but the parts between do not fit \
                 (check where the address stands, ^/$ anchors, and that the timestamp was cut as expected)"
            )
        }
    }

    /// One line on its own, with nothing remembered from earlier lines (a multi-line filter
    /// fed this way sees each line as the first of its kind).
    /// `candidate(i)` says whether failregex i (or the prefregex, i = len) may match at all.
    pub(crate) fn evaluate(&self, text: &[u8], candidate: impl Fn(usize) -> bool) -> Outcome {
        self.search(text, candidate).outcome(multiline::single)
    }

    /// fail2ban's order: prefregex must match and narrows the text to its `<F-CONTENT>`;
    /// the first failregex that matches wins; an ignoreregex match then drops it.
    /// Spans in the result are in `text`, or in the content when the prefregex narrowed it
    /// (then `content` says where that is).
    pub(crate) fn search(&self, text: &[u8], candidate: impl Fn(usize) -> bool) -> Search {
        self.search_narrowed(text, candidate).0
    }

    /// `search`, plus the `<F-CONTENT>` span the prefregex narrowed `text` to, if any.
    pub(crate) fn search_narrowed(
        &self,
        text: &[u8],
        candidate: impl Fn(usize) -> bool,
    ) -> (Search, Option<(usize, usize)>) {
        let mut pre = None;
        let mut content = None;
        let body = match &self.pref {
            None => text,
            Some(p) => {
                if !candidate(self.fail.len()) {
                    return (Search::Missed, None);
                }
                let Some(c) = p.captures(text) else {
                    return (Search::Missed, None);
                };
                content = c.content;
                let body = match c.content {
                    Some((a, b)) => &text[a..b],
                    None => text,
                };
                pre = Some(c);
                body
            }
        };
        for (i, p) in self.fail.iter().enumerate() {
            if !candidate(i) {
                continue;
            }
            let Some(c) = p.captures(body) else { continue };
            // a multi-line match is checked against the lines it took, a single line whole
            let ignored_text = if self.maxlines > 1 {
                multiline::matched_lines(body, c.span, &c.skipped)
            } else {
                std::borrow::Cow::Borrowed(text)
            };
            if let Some(j) = self
                .ignore
                .iter()
                .position(|ig| ig.captures(&ignored_text).is_some())
            {
                let search = Search::Ignored {
                    failregex: i,
                    ignoreregex: j,
                    span: c.span,
                    skipped: c.skipped,
                };
                return (search, content);
            }
            let captured = match pre {
                None => c,
                Some(pre) => merge_prefregex(pre, c),
            };
            return (
                Search::Hit(Hit {
                    failregex: i,
                    captured,
                }),
                content,
            );
        }
        (Search::Missed, content)
    }
}

/// fail2ban merges the prefregex's groups under the failregex's: the failregex's values win,
/// the address falls back to the prefregex's.
fn merge_prefregex(pre: Captured, cur: Captured) -> Captured {
    let mut fields = pre.fields;
    for (name, value) in cur.fields {
        match fields.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => *v = value,
            None => fields.push((name, value)),
        }
    }
    Captured {
        host: cur.host.or(pre.host),
        fields,
        ..cur
    }
}

/// Where a jail's `filter = "…"` points: a `[filters.NAME]` section, a built-in filter, or a
/// fail2ban filter file (relative to `base_dir`); `NAME[k=v, …]` passes fail2ban parameters.
pub fn resolve(
    spec: &str,
    base_dir: &Path,
    inline: &BTreeMap<String, FilterDef>,
) -> Result<FilterDef, FilterError> {
    if let Some(def) = inline.get(spec) {
        return Ok(def.clone());
    }
    let (name, params) = f2bconf::parse_spec(spec).map_err(|e| FilterError::Other(e.to_string()))?;
    let looks_like_path = name.contains('/') || name.ends_with(".conf") || name.ends_with(".local");
    if !looks_like_path && let Some(def) = builtin::load(&name, &params)? {
        return Ok(def);
    }
    let path = base_dir.join(&name);
    if looks_like_path || path.is_file() {
        if !path.is_file() {
            return Err(FilterError::Other(format!(
                "filter file {} does not exist (filter = {spec:?})",
                path.display()
            )));
        }
        return f2bconf::load(&f2bconf::Disk, &path, &params).map_err(|e| FilterError::Other(e.to_string()));
    }
    Err(FilterError::Unknown {
        name: name.to_string(),
        builtins: builtin::names().join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(failregex: &[&str], datepattern: Option<&str>) -> FilterDef {
        FilterDef {
            name: "t".into(),
            origin: "/etc/banjo/filters/t.conf".into(),
            failregex: failregex.iter().map(ToString::to_string).collect(),
            datepattern: datepattern.map(str::to_string),
            ..FilterDef::default()
        }
    }

    #[test]
    fn two_address_tags_in_one_match_are_refused_alternatives_are_not() {
        let e = Filter::compile(&def(&["from <HOST> via <HOST>$"], None)).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("failregex 1") && text.contains("two address tags"),
            "{text}"
        );
        assert!(Filter::compile(&def(&["a <HOST> b <ADDR>"], None)).is_err());
        assert!(Filter::compile(&def(&["^(?:x <IP4>)? y <IP6>$"], None)).is_err());
        Filter::compile(&def(&["^(?:from <HOST>|by <ADDR>) port \\d+$"], None)).unwrap();
        Filter::compile(&def(&["a <HOST>|b <ADDR>"], None)).unwrap();
        Filter::compile(&def(&["net <SUBNET> end"], None)).unwrap();
        Filter::compile(&def(&["(?:<HOST> )+end"], None)).unwrap();
    }

    #[test]
    fn an_unknown_datepattern_is_refused_with_the_known_ones() {
        let e = Filter::compile(&def(&["from <HOST>"], Some("^%Q %Z"))).unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("/etc/banjo/filters/t.conf: datepattern `^%Q %Z` is not one"),
            "{text}"
        );
        assert!(matches!(e, FilterError::BadDatepattern { .. }));
        Filter::compile(&def(&["from <HOST>"], Some("{^LN-BEG}TAI64N"))).unwrap();
    }
}
