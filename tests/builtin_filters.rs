//! Every built-in filter against its fixture log (tests/data/filters/NAME.log), in fail2ban's
//! own test-file convention: a `# failJSON: {…}` comment states what the next line must give.
//! Lines are fed in order, each option set with its own multi-line memory, as a source would
//! feed them: a line may complete a failure that earlier lines began.
use std::path::Path;
use std::sync::Arc;

use banjo::filter::multiline::OneFilter;
use banjo::filter::time::{self, TimeFinder};
use banjo::filter::{Filter, Outcome, Scratch, builtin};

#[derive(Debug, serde::Deserialize)]
struct Expect {
    #[serde(rename = "match")]
    matches: bool,
    host: Option<String>,
    user: Option<String>,
    time: Option<String>,
    /// Lines the failure is made of (fail2ban's attempts).
    attempts: Option<usize>,
}

/// Runs one fixture; returns (hits, misses) checked, or the list of failures.
fn compile(name: &str, params: &[(String, String)]) -> Filter {
    let def = builtin::load(name, params)
        .unwrap()
        .unwrap_or_else(|| panic!("no built-in filter {name}"));
    Filter::compile(&def).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn run_fixture(name: &str) -> Result<(usize, usize), Vec<String>> {
    let fresh = |f: Filter| OneFilter::new(Arc::new(f));
    let mut filters = vec![fresh(compile(name, &[]))];
    let mut feed_scratch = Scratch::default();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/filters/{name}.log"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let tz = jiff::tz::TimeZone::fixed(jiff::tz::offset(0));
    let now: jiff::Timestamp = "2026-11-24T12:00:00Z".parse().unwrap();
    let mut times = TimeFinder::new(tz);
    let (mut failures, mut hits, mut misses) = (Vec::new(), 0, 0);
    let mut expect: Option<Expect> = None;
    let mut scratch = Vec::new();
    for (no, line) in text.lines().enumerate() {
        let at = format!("{}:{}", path.display(), no + 1);
        if let Some(json) = line.trim_start().strip_prefix("# filterOptions:") {
            let v: serde_json::Value =
                serde_json::from_str(json).unwrap_or_else(|e| panic!("{at}: bad filterOptions: {e}"));
            let sets = match v {
                serde_json::Value::Array(a) => a,
                o => vec![o],
            };
            filters = sets
                .iter()
                .map(|o| {
                    let params: Vec<(String, String)> = o
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                        .collect();
                    fresh(compile(name, &params))
                })
                .collect();
            continue;
        }
        if let Some(json) = line.trim_start().strip_prefix("# failJSON:") {
            expect = Some(serde_json::from_str(json).unwrap_or_else(|e| panic!("{at}: bad failJSON: {e}")));
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some(want) = expect.take() else {
            failures.push(format!("{at}: line without a failJSON comment before it"));
            continue;
        };
        let found = times.find(line.as_bytes(), now);
        let body = match &found {
            Some(f) => time::cut(line.as_bytes(), f, &mut scratch).to_vec(),
            None => line.as_bytes().to_vec(),
        };
        let at_time = found.as_ref().and_then(|f| f.time).unwrap_or(now);
        for one in &mut filters {
            let filter = one.set.filters()[0].clone();
            match (one.feed(&body, at_time, &mut feed_scratch), want.matches) {
                (Outcome::Matched(m), true) => {
                    hits += 1;
                    if let Some(h) = &want.host
                        && m.host.to_string() != *h
                    {
                        failures.push(format!("{at}: took {} instead of {h}\n    {line}", m.host));
                    }
                    let user = m
                        .fields
                        .iter()
                        .find(|(k, _)| k == "user")
                        .map(|(_, v)| v.as_str());
                    if let Some(u) = &want.user
                        && user != Some(u.as_str())
                    {
                        failures.push(format!("{at}: user {user:?} instead of {u:?}\n    {line}"));
                    }
                    if let Some(n) = want.attempts
                        && m.lines != n
                    {
                        failures.push(format!("{at}: {} lines instead of {n}\n    {line}", m.lines));
                    }
                    if let Some(t) = &want.time {
                        let want_t: jiff::Timestamp =
                            t.parse().unwrap_or_else(|e| panic!("{at}: bad time {t}: {e}"));
                        if found.as_ref().and_then(|f| f.time) != Some(want_t) {
                            failures.push(format!("{at}: time {:?} instead of {t}", found.map(|f| f.time)));
                        }
                    }
                }
                (Outcome::Missed | Outcome::Ignored { .. } | Outcome::Context { .. }, false) => misses += 1,
                (got, true) => failures.push(format!(
                    "{at}: expected a match, got {got:?}: {}\n    {line}",
                    filter.explain_miss(&body)
                )),
                (got, false) => failures.push(format!("{at}: expected no match, got {got:?}\n    {line}")),
            }
        }
    }
    if failures.is_empty() {
        Ok((hits, misses))
    } else {
        Err(failures)
    }
}

#[test]
fn every_builtin_filter_passes_its_fixture() {
    let mut report = Vec::new();
    let mut failed = Vec::new();
    for name in builtin::names() {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/filters/{name}.log"));
        assert!(
            fixture.exists(),
            "built-in filter {name} has no fixture {}",
            fixture.display()
        );
        match run_fixture(name) {
            Ok((hits, misses)) => {
                assert!(hits >= 6, "{name}: only {hits} matching lines in its fixture");
                assert!(
                    misses >= 4,
                    "{name}: only {misses} non-matching lines in its fixture"
                );
                report.push(format!("{name}: {hits} hits, {misses} misses"));
            }
            Err(f) => failed.extend(f),
        }
    }
    println!("{}", report.join("\n"));
    assert!(
        failed.is_empty(),
        "{} fixture failures:\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn builtin_filters_use_the_linear_time_engine() {
    for name in builtin::names() {
        let def = builtin::load(name, &[]).unwrap().unwrap();
        let f = Filter::compile(&def).unwrap();
        assert!(f.warnings().is_empty(), "{name}: {:?}", f.warnings());
    }
}
