//! fail2ban conformance: banjo's `test-filter` on every annotated sample log of Debian's
//! fail2ban package, against that package's filter.d, checked the way fail2ban's own
//! samplestestcase.py checks them. `make compat` fetches the package (tests/compat/fetch.sh)
//! and runs this; the score must not fall below tests/compat/floor.
//!
//! Per filter (each filter.d/*.conf but common.conf, and the test suite's zzz-*.conf): the
//! sample log is read into instances (samples.rs), each instance's lines are fed in order to one
//! `banjo test-filter FILTER[params] --json --now TEST_NOW` run in fail2ban's test zone (so state
//! such as the date template memory carries from line to line as in fail2ban), and every probe is
//! judged (verdict.rs). Journal instances get `--datepattern {NONE}`: the line is the message,
//! its time the entry's, which in fail2ban's test is TEST_NOW.
//!
//! Output: one row per filter and the total on stdout; every wrong line, grouped by cause, in
//! target/compat/wrong.txt. BANJO_COMPAT_DIR overrides where the package was unpacked,
//! BANJO_BIN the banjo binary.
mod samples;
mod verdict;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use jiff::tz::TimeZone;
use serde_json::Value;

use samples::{Instance, Probe};
use verdict::{Reported, TEST_NOW, TEST_TZ, Wrong};

const PYLIB: &str = "usr/lib/python3/dist-packages/fail2ban";

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The unpacked package: BANJO_COMPAT_DIR, else target/compat/root.
fn package_root() -> PathBuf {
    std::env::var_os("BANJO_COMPAT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest().join("target/compat/root"))
}

/// Every filter fail2ban's sample test runs: (name, its .conf).
fn filters(root: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let dirs = [
        (root.join("etc/fail2ban/filter.d"), false),
        (root.join(PYLIB).join("tests/config/filter.d"), true),
    ];
    for (dir, zzz_only) in dirs {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for e in entries {
            let path = e.unwrap().path();
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            let Some(name) = file.strip_suffix(".conf") else {
                continue;
            };
            if file.ends_with("common.conf")
                || name.starts_with('.')
                || (zzz_only && !name.starts_with("zzz-"))
            {
                continue;
            }
            out.push((name.to_string(), path));
        }
    }
    out.sort();
    out
}

/// What one filter scored.
#[derive(Default)]
struct Score {
    probes: usize,
    right: usize,
    /// (instance, probe, why)
    wrong: Vec<(String, Probe, Wrong)>,
}

fn banjo_bin() -> PathBuf {
    std::env::var_os("BANJO_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_banjo")))
}

/// Runs one instance's lines through banjo; judges each.
fn run_instance(conf: &Path, inst: &Instance, work: &Path, tz: &TimeZone, score: &mut Score) {
    if inst.probes.is_empty() {
        return;
    }
    let input = work.join("input.log");
    let mut text = Vec::new();
    for p in &inst.probes {
        text.extend_from_slice(&p.text);
        text.push(b'\n');
    }
    std::fs::write(&input, &text).unwrap();
    let mut spec = conf.display().to_string();
    if !inst.params.is_empty() {
        let params: Vec<String> = inst.params.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        let _ = write!(spec, "[{}]", params.join(", "));
    }
    let mut cmd = Command::new(banjo_bin());
    cmd.arg("test-filter")
        .arg(&spec)
        .arg(&input)
        .args(["--json", "--print-all-missed", "--now", TEST_NOW])
        .env("TZ", TEST_TZ);
    if inst.journal {
        cmd.args(["--datepattern", "{NONE}"]);
    }
    let out = cmd.output().expect("run banjo test-filter");
    let report: Value = match out.status.success() {
        true => serde_json::from_slice(&out.stdout).expect("test-filter --json prints JSON"),
        false => {
            let err = String::from_utf8_lossy(&out.stderr);
            let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("no message");
            for p in &inst.probes {
                score.probes += 1;
                let why = Wrong::FilterDoesNotLoad(first.to_string());
                score.wrong.push((inst.name.clone(), p.clone(), why));
            }
            return;
        }
    };
    let mut matched: HashMap<usize, Reported> = HashMap::new();
    for m in report["matches"].as_array().into_iter().flatten() {
        let line = m["line"].as_u64().unwrap_or(0) as usize;
        matched.insert(line, Reported::from_json(m));
    }
    let mut hints: HashMap<usize, String> = HashMap::new();
    for m in report["missed_lines"].as_array().into_iter().flatten() {
        let line = m["line"].as_u64().unwrap_or(0) as usize;
        hints.insert(line, m["hint"].as_str().unwrap_or_default().to_string());
    }
    for (i, p) in inst.probes.iter().enumerate() {
        score.probes += 1;
        let n = i + 1;
        match verdict::judge(p, matched.get(&n), hints.get(&n).map(String::as_str), tz) {
            None => score.right += 1,
            Some(w) => score.wrong.push((inst.name.clone(), p.clone(), w)),
        }
    }
}

/// The floor in tests/compat/floor: the lowest score (percent of probes right) accepted.
fn floor() -> f64 {
    let path = manifest().join("tests/compat/floor");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("{}: no number", path.display()))
}

fn percent(right: usize, all: usize) -> f64 {
    if all == 0 {
        100.0
    } else {
        100.0 * right as f64 / all as f64
    }
}

#[test]
#[ignore = "needs Debian's fail2ban package unpacked: run `make compat`"]
fn fail2ban_samples_meet_the_floor() {
    let root = package_root();
    assert!(
        root.join("etc/fail2ban/filter.d").is_dir(),
        "{} has no etc/fail2ban/filter.d: run `make compat` (tests/compat/fetch.sh fetches the package)",
        root.display()
    );
    let logs = root.join(PYLIB).join("tests/files/logs");
    let tz = TimeZone::posix(TEST_TZ).unwrap();
    let work = tempfile::tempdir().unwrap();
    let mut scores: BTreeMap<String, Score> = BTreeMap::new();
    for (name, conf) in filters(&root) {
        let mut score = Score::default();
        match samples::plan(&name, &logs) {
            Ok(plan) => {
                for inst in &plan.instances {
                    run_instance(&conf, inst, work.path(), &tz, &mut score);
                }
            }
            Err(e) => panic!("{name}: cannot read its samples: {e}"),
        }
        scores.insert(name, score);
    }
    let (mut all, mut right) = (0, 0);
    let mut table = String::new();
    let _ = writeln!(table, "{:<32} {:>6} {:>6} {:>7}", "filter", "lines", "right", "%");
    for (name, s) in &scores {
        all += s.probes;
        right += s.right;
        let _ = writeln!(
            table,
            "{:<32} {:>6} {:>6} {:>6.1}%",
            name,
            s.probes,
            s.right,
            percent(s.right, s.probes)
        );
    }
    let total = percent(right, all);
    let _ = writeln!(table, "{:<32} {:>6} {:>6} {:>6.2}%", "TOTAL", all, right, total);
    print!("{table}");
    let wrong_file = write_wrong(&scores, &table);
    let floor = floor();
    println!(
        "floor {floor:.2}%; every wrong line, grouped by cause: {}",
        wrong_file.display()
    );
    assert!(
        total + 1e-9 >= floor,
        "fail2ban conformance fell to {total:.2}%, below the floor of {floor:.2}% (tests/compat/floor); see {}",
        wrong_file.display()
    );
    if total >= floor + 0.5 {
        println!(
            "the score is above the floor: raise tests/compat/floor to {:.2}",
            total.floor()
        );
    }
}

/// Every wrong line, grouped by cause, then by filter: target/compat/wrong.txt.
fn write_wrong(scores: &BTreeMap<String, Score>, table: &str) -> PathBuf {
    let mut by_kind: BTreeMap<&str, Vec<(&str, &str, &Probe, &Wrong)>> = BTreeMap::new();
    for (name, s) in scores {
        for (inst, p, w) in &s.wrong {
            by_kind.entry(w.kind()).or_default().push((name, inst, p, w));
        }
    }
    let mut out = String::new();
    out.push_str(table);
    for (kind, items) in &by_kind {
        let _ = writeln!(out, "\n== {kind}: {} lines", items.len());
        for (_, inst, p, w) in items {
            let _ = writeln!(
                out,
                "{inst} {}:{}: {w}\n    {}",
                p.file,
                p.line,
                String::from_utf8_lossy(&p.text)
            );
        }
    }
    let dir = manifest().join("target/compat");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("wrong.txt");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(out.as_bytes()))
        .unwrap();
    path
}
