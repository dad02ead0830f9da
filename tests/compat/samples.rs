//! fail2ban's annotated sample logs read the way its samplestestcase.py reads them: which lines
//! go to which filter instance (one per option set), with what expectation. No matching here.
//!
//! The rules, as samplestestcase.py has them: `# failJSON: {…}` annotates the next line;
//! `# filterOptions: {…}` or `[{…}, …]` starts a block run once per option set (merged over the
//! last `# fileOptions:`), each set naming a filter instance that keeps its state across blocks;
//! `test.condition` skips a whole block, a failJSON `constraint` skips one line for one set;
//! `# addFILE: "name"` appends a file to read after this one; other `#` lines and blank lines
//! are skipped; any other line is a probe that must give no failure.
use std::path::Path;

use serde_json::Value;

/// One ordered JSON object: option order makes fail2ban's instance names (`sshd{'mode': …}`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options(pub Vec<(String, Value)>);

impl Options {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }

    /// Python's `dict.update`: a key already there keeps its place.
    fn update(&mut self, other: &Options) {
        for (k, v) in &other.0 {
            match self.0.iter_mut().find(|(key, _)| key == k) {
                Some(slot) => slot.1 = v.clone(),
                None => self.0.push((k.clone(), v.clone())),
            }
        }
    }

    /// The options a filter gets as parameters: all but the `test.` ones.
    pub fn filter_params(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .filter(|(k, _)| !k.starts_with("test."))
            .map(|(k, v)| (k.clone(), plain(v)))
            .collect()
    }

    /// fail2ban's name suffix for these parameters: Python's `str(dict)`, or "" when empty.
    fn python_repr(params: &[(String, String)]) -> String {
        if params.is_empty() {
            return String::new();
        }
        let items: Vec<String> = params.iter().map(|(k, v)| format!("'{k}': '{v}'")).collect();
        format!("{{{}}}", items.join(", "))
    }
}

impl<'de> serde::Deserialize<'de> for Options {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Options;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<Options, A::Error> {
                let mut v = Vec::new();
                while let Some(entry) = m.next_entry()? {
                    v.push(entry);
                }
                Ok(Options(v))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// A JSON value as text: strings bare, the rest as JSON.
pub fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One line fed to one filter instance, and what fail2ban's annotation says of it.
#[derive(Clone, Debug)]
pub struct Probe {
    /// Sample file name and 1-based line number, for the report.
    pub file: String,
    pub line: usize,
    /// The line as fed: `\r\n` cut; for journal instances, `test.prefix-line` prepended.
    pub text: Vec<u8>,
    /// The failJSON object; empty for a line without one (must give no failure).
    pub expect: Options,
}

impl Probe {
    pub fn expects_failure(&self) -> bool {
        self.expect.get("match").and_then(Value::as_bool).unwrap_or(false)
    }
}

/// One filter with one option set: fail2ban's cached `Filter` object, with all its lines in order.
#[derive(Debug)]
pub struct Instance {
    /// fail2ban's name for it, e.g. `sshd{'mode': 'aggressive'}`.
    pub name: String,
    pub params: Vec<(String, String)>,
    /// `logtype: journal`: lines are journal messages (time from the entry, no date parsing).
    pub journal: bool,
    pub probes: Vec<Probe>,
}

/// Everything one filter's test feeds: its instances in order of first use.
#[derive(Debug, Default)]
pub struct Plan {
    pub instances: Vec<Instance>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{file}:{line}: {detail}")]
    At {
        file: String,
        line: usize,
        detail: String,
    },
    #[error("{0}: {1}")]
    Read(String, std::io::Error),
}

/// Reads the sample log `name` (and every file it adds) from `logs` for the filter `name`.
pub fn plan(name: &str, logs: &Path) -> Result<Plan, PlanError> {
    let mut plan = Plan::default();
    let mut files = vec![name.to_string()];
    let mut common = Options::default();
    // (instance index, the option set as given, test.* keys included); None until a block.
    let mut tests: Option<Vec<(usize, Options)>> = None;
    let mut i = 0;
    while i < files.len() {
        let file = files[i].clone();
        i += 1;
        let bytes = std::fs::read(logs.join(&file)).map_err(|e| PlanError::Read(file.clone(), e))?;
        let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
        let at = |line: usize, detail: String| PlanError::At {
            file: file.clone(),
            line,
            detail,
        };
        let mut ignore_block = false;
        let mut n = 0;
        while n < lines.len() {
            let mut raw = lines[n];
            n += 1;
            let mut expect = Options::default();
            if let Some((kind, json)) = directive(raw) {
                match kind {
                    "fileOptions" => {
                        common = serde_json::from_str(json).map_err(|e| at(n, e.to_string()))?;
                        continue;
                    }
                    "filterOptions" => {
                        let value: Value = serde_json::from_str(json).map_err(|e| at(n, e.to_string()))?;
                        let sets: Vec<Options> = match value {
                            Value::Array(_) => serde_json::from_str(json),
                            _ => serde_json::from_str(json).map(|o| vec![o]),
                        }
                        .map_err(|e| at(n, e.to_string()))?;
                        let mut block = Vec::new();
                        ignore_block = false;
                        for set in sets {
                            let mut opts = common.clone();
                            opts.update(&set);
                            if let Some(cond) = opts.get_str("test.condition") {
                                ignore_block = !condition(cond, name, &opts).map_err(|e| at(n, e))?;
                            }
                            if !ignore_block {
                                let idx = instance(&mut plan, name, &opts);
                                block.push((idx, opts));
                            }
                        }
                        tests = Some(block);
                        continue;
                    }
                    "addFILE" => {
                        let f: String = serde_json::from_str(json).map_err(|e| at(n, e.to_string()))?;
                        files.push(f);
                        continue;
                    }
                    _ => {
                        expect = serde_json::from_str(json).map_err(|e| at(n, e.to_string()))?;
                        let Some(next) = lines.get(n) else { break };
                        raw = next;
                        n += 1;
                    }
                }
            } else if ignore_block || raw.starts_with(b"#") || raw.trim_ascii().is_empty() {
                continue;
            }
            if ignore_block {
                continue;
            }
            let tests = tests.get_or_insert_with(|| {
                vec![(instance(&mut plan, name, &Options::default()), Options::default())]
            });
            let text = trim_newline(raw);
            for (idx, opts) in tests.iter() {
                if let Some(c) = expect.get_str("constraint")
                    && !condition(c, name, opts).map_err(|e| at(n, e))?
                {
                    continue;
                }
                let inst = &mut plan.instances[*idx];
                let mut fed = Vec::new();
                if inst.journal
                    && let Some(prefix) = opts.get_str("test.prefix-line")
                {
                    fed.extend_from_slice(prefix.as_bytes());
                }
                fed.extend_from_slice(text);
                inst.probes.push(Probe {
                    file: file.clone(),
                    line: n,
                    text: fed,
                    expect: expect.clone(),
                });
            }
        }
    }
    Ok(plan)
}

/// The instance fail2ban's `_readFilter` would return for these options (made on first use).
fn instance(plan: &mut Plan, name: &str, opts: &Options) -> usize {
    let params = opts.filter_params();
    let label = match opts.get_str("test.filter-name") {
        Some(n) => format!("{name}{n}"),
        None => format!("{name}{}", Options::python_repr(&params)),
    };
    if let Some(i) = plan.instances.iter().position(|x| x.name == label) {
        return i;
    }
    plan.instances.push(Instance {
        name: label,
        journal: opts.get_str("logtype") == Some("journal"),
        params,
        probes: Vec::new(),
    });
    plan.instances.len() - 1
}

/// `# failJSON: {…}` and its kin: (kind, JSON text). fail2ban's `^#+ ?(kind):(.+)$`.
fn directive(raw: &[u8]) -> Option<(&'static str, &str)> {
    let line = std::str::from_utf8(trim_newline(raw)).ok()?;
    let rest = line.trim_start_matches('#');
    if rest.len() == line.len() {
        return None;
    }
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    for kind in ["failJSON", "fileOptions", "filterOptions", "addFILE"] {
        if let Some(json) = rest.strip_prefix(kind).and_then(|r| r.strip_prefix(':'))
            && !json.is_empty()
        {
            return Some((kind, json));
        }
    }
    None
}

fn trim_newline(raw: &[u8]) -> &[u8] {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    raw.strip_suffix(b"\r").unwrap_or(raw)
}

/// The Python expressions the samples use as `test.condition` and `constraint`:
/// `name == 'x'`, `opts.get('k') != 'v'` (either quote, `==` or `!=`). Anything else is an
/// error, so a new form in a future package is noticed rather than guessed.
pub fn condition(expr: &str, name: &str, opts: &Options) -> Result<bool, String> {
    let (lhs, rhs, equal) = if let Some((l, r)) = expr.split_once("==") {
        (l, r, true)
    } else if let Some((l, r)) = expr.split_once("!=") {
        (l, r, false)
    } else {
        return Err(format!("condition {expr:?}: expected `==` or `!=`"));
    };
    let unquote = |s: &str| -> Option<String> {
        let s = s.trim();
        let q = s.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        s.strip_prefix(q)?.strip_suffix(q).map(str::to_string)
    };
    let want = unquote(rhs).ok_or_else(|| format!("condition {expr:?}: the right side must be a string"))?;
    let lhs = lhs.trim();
    let have = if lhs == "name" {
        Some(name.to_string())
    } else if let Some(key) = lhs.strip_prefix("opts.get(").and_then(|r| r.strip_suffix(')')) {
        let key = unquote(key).ok_or_else(|| format!("condition {expr:?}: opts.get needs a string key"))?;
        opts.get(&key).map(plain)
    } else {
        return Err(format!("condition {expr:?}: unknown left side {lhs:?}"));
    };
    Ok((have.as_deref() == Some(want.as_str())) == equal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn blocks_make_one_instance_per_option_set_and_keep_it_across_blocks() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "f",
            "# failJSON: { \"match\": true, \"host\": \"192.0.2.1\" }\n\
             line one\n\
             # filterOptions: [{}, {\"mode\": \"aggressive\"}]\n\
             \n\
             # failJSON: { \"constraint\": \"opts.get('mode') == 'aggressive'\", \"match\": true }\n\
             line two\r\n\
             unannotated\n\
             # filterOptions: {\"mode\": \"aggressive\"}\n\
             # a comment\n\
             line three\n\
             # addFILE: \"g\"\n",
        );
        write(
            dir.path(),
            "g",
            "# fileOptions: {\"logtype\": \"journal\", \"test.condition\": \"name=='f'\"}\n\
             # filterOptions: [{\"test.prefix-line\": \"srv x[1]: \"}]\n\
             # failJSON: { \"match\": false }\n\
             journal line\n",
        );
        let plan = plan("f", dir.path()).unwrap();
        let names: Vec<_> = plan.instances.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["f", "f{'mode': 'aggressive'}", "f{'logtype': 'journal'}"]);
        let lines = |i: usize| -> Vec<(usize, String)> {
            plan.instances[i]
                .probes
                .iter()
                .map(|p| (p.line, String::from_utf8(p.text.clone()).unwrap()))
                .collect()
        };
        assert_eq!(lines(0), [(2, "line one".into()), (7, "unannotated".into())]);
        assert_eq!(
            lines(1),
            [
                (6, "line two".into()),
                (7, "unannotated".into()),
                (10, "line three".into())
            ]
        );
        assert_eq!(lines(2), [(4, "srv x[1]: journal line".into())]);
        assert!(plan.instances[2].journal);
        assert!(plan.instances[0].probes[0].expects_failure());
        assert!(!plan.instances[0].probes[1].expects_failure());
    }

    #[test]
    fn a_false_test_condition_skips_the_whole_block() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "f",
            "# filterOptions: [{\"test.condition\": \"name=='other'\"}]\n\
             # failJSON: { \"match\": true }\n\
             skipped\n\
             # filterOptions: [{}]\n\
             kept\n",
        );
        let plan = plan("f", dir.path()).unwrap();
        assert_eq!(plan.instances.len(), 1);
        assert_eq!(plan.instances[0].probes.len(), 1);
        assert_eq!(plan.instances[0].probes[0].text, b"kept");
    }

    #[test]
    fn conditions_read_the_samples_forms_and_refuse_others() {
        let opts: Options = serde_json::from_str(r#"{"mode": "aggressive"}"#).unwrap();
        assert_eq!(condition("name == 'sshd'", "sshd", &opts), Ok(true));
        assert_eq!(condition("name=='sshd'", "sshd-journal", &opts), Ok(false));
        assert_eq!(
            condition("opts.get('mode') == 'aggressive'", "x", &opts),
            Ok(true)
        );
        assert_eq!(
            condition("opts.get('mode') != 'aggressive'", "x", &opts),
            Ok(false)
        );
        assert_eq!(
            condition("opts.get(\"logtype\") != 'journal'", "x", &opts),
            Ok(true)
        );
        assert!(condition("len(name) > 3", "x", &opts).is_err());
    }
}
