//! The Prometheus text exposition format (version 0.0.4, what every Prometheus and the node
//! exporter's textfile collector read): one family at a time, `# HELP` and `# TYPE` first,
//! then its samples, label values escaped. A family is written once, with all its samples
//! together, as the format requires.

use std::collections::BTreeSet;
use std::fmt::Write;

use super::Histogram;

/// The media type of the text, for an HTTP answer.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A family's type, as `# TYPE` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (the name ends in `_total`).
    Counter,
    /// A value now.
    Gauge,
    /// Buckets, sum and count (`NAME_bucket`, `NAME_sum`, `NAME_count`).
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A sample's value: whole numbers as they are, the others as Prometheus reads floats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(u64),
    Float(f64),
}

impl From<u64> for Number {
    fn from(n: u64) -> Number {
        Number::Int(n)
    }
}

impl From<usize> for Number {
    fn from(n: usize) -> Number {
        Number::Int(n as u64)
    }
}

impl From<u32> for Number {
    fn from(n: u32) -> Number {
        Number::Int(n.into())
    }
}

impl From<bool> for Number {
    fn from(b: bool) -> Number {
        Number::Int(b.into())
    }
}

impl From<f64> for Number {
    fn from(f: f64) -> Number {
        Number::Float(f)
    }
}

fn write_number(out: &mut String, n: Number) {
    let _ = match n {
        Number::Int(i) => write!(out, "{i}"),
        Number::Float(f) if f.is_nan() => write!(out, "NaN"),
        Number::Float(f) if f == f64::INFINITY => write!(out, "+Inf"),
        Number::Float(f) if f == f64::NEG_INFINITY => write!(out, "-Inf"),
        Number::Float(f) => write!(out, "{f}"),
    };
}

/// The text being written.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
    /// The family samples go to, and its type.
    current: Option<(String, Kind)>,
    written: BTreeSet<String>,
}

impl Exposition {
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// Starts family `name`: its help line and type. The samples written next belong to it.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        debug_assert!(valid_name(name), "metric name {name:?}");
        debug_assert!(
            self.written.insert(name.to_string()),
            "family {name} written twice"
        );
        debug_assert!(
            (kind == Kind::Counter) == name.ends_with("_total"),
            "{name}: a counter's name ends in _total, nothing else's does"
        );
        let _ = writeln!(self.out, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
        self.current = Some((name.to_string(), kind));
    }

    /// One sample of the current counter or gauge.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Into<Number>) {
        let Some((name, kind)) = self.current.clone() else {
            debug_assert!(false, "a sample before its family");
            return;
        };
        debug_assert!(kind != Kind::Histogram, "{name}: use histogram()");
        self.line(&name, "", labels, None, value.into());
    }

    /// The current histogram family's series with these labels.
    pub fn histogram(&mut self, labels: &[(&str, &str)], h: &Histogram) {
        let Some((name, kind)) = self.current.clone() else {
            debug_assert!(false, "a histogram before its family");
            return;
        };
        debug_assert!(kind == Kind::Histogram, "{name} is not a histogram");
        let mut le = String::new();
        for (bound, n) in h.buckets() {
            le.clear();
            write_number(&mut le, Number::Float(bound));
            self.line(&name, "_bucket", labels, Some(&le), Number::Int(n));
        }
        self.line(&name, "_sum", labels, None, Number::Float(h.sum()));
        self.line(&name, "_count", labels, None, Number::Int(h.count()));
    }

    fn line(&mut self, name: &str, suffix: &str, labels: &[(&str, &str)], le: Option<&str>, value: Number) {
        let out = &mut self.out;
        out.push_str(name);
        out.push_str(suffix);
        let all = labels.iter().copied().chain(le.map(|le| ("le", le)));
        for (i, (key, value)) in all.enumerate() {
            debug_assert!(valid_label(key), "label name {key:?}");
            out.push(if i == 0 { '{' } else { ',' });
            out.push_str(key);
            out.push_str("=\"");
            escape_label_into(out, value);
            out.push('"');
        }
        if !labels.is_empty() || le.is_some() {
            out.push('}');
        }
        out.push(' ');
        write_number(out, value);
        out.push('\n');
    }

    /// The whole text.
    pub fn finish(self) -> String {
        self.out
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (reserved).
fn valid_label(name: &str) -> bool {
    !name.starts_with("__") && !name.contains(':') && valid_name(name)
}

/// A help text escapes backslash and newline.
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A label value escapes backslash, double quote and newline.
fn escape_label_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_has_help_type_and_its_samples() {
        let mut e = Exposition::new();
        e.family("banjo_bans_total", Kind::Counter, "Bans made.");
        e.sample(&[("jail", "sshd"), ("cause", "failures")], 3u64);
        e.family("banjo_journal_lag_seconds", Kind::Gauge, "How far behind.");
        e.sample(&[], 0.25);
        assert_eq!(
            e.finish(),
            "# HELP banjo_bans_total Bans made.\n# TYPE banjo_bans_total counter\n\
             banjo_bans_total{jail=\"sshd\",cause=\"failures\"} 3\n\
             # HELP banjo_journal_lag_seconds How far behind.\n# TYPE banjo_journal_lag_seconds gauge\n\
             banjo_journal_lag_seconds 0.25\n"
        );
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut e = Exposition::new();
        e.family("x_total", Kind::Counter, "a \\ b\nc");
        e.sample(&[("source", "multilog:/run/a \"b\"\\\n")], 1u64);
        let text = e.finish();
        assert!(text.contains("# HELP x_total a \\\\ b\\nc\n"), "{text}");
        assert!(
            text.contains("x_total{source=\"multilog:/run/a \\\"b\\\"\\\\\\n\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn a_histogram_writes_cumulative_buckets_sum_and_count() {
        let mut h = Histogram::new(&[0.005, 1.0]);
        h.observe(0.001);
        h.observe(3.0);
        let mut e = Exposition::new();
        e.family("banjo_ban_latency_seconds", Kind::Histogram, "Latency.");
        e.histogram(&[("jail", "app")], &h);
        let text = e.finish();
        for line in [
            "banjo_ban_latency_seconds_bucket{jail=\"app\",le=\"0.005\"} 1\n",
            "banjo_ban_latency_seconds_bucket{jail=\"app\",le=\"1\"} 1\n",
            "banjo_ban_latency_seconds_bucket{jail=\"app\",le=\"+Inf\"} 2\n",
            "banjo_ban_latency_seconds_sum{jail=\"app\"} 3.001\n",
            "banjo_ban_latency_seconds_count{jail=\"app\"} 2\n",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }

    #[test]
    fn names_follow_the_format() {
        assert!(valid_name("banjo_bans_total") && valid_name("a:b"));
        assert!(!valid_name("9lives") && !valid_name("a-b") && !valid_name(""));
        assert!(valid_label("jail") && !valid_label("__name__") && !valid_label("a:b"));
    }

    #[test]
    #[should_panic(expected = "written twice")]
    #[cfg(debug_assertions)]
    fn a_family_written_twice_is_a_bug() {
        let mut e = Exposition::new();
        e.family("x_total", Kind::Counter, "x");
        e.family("x_total", Kind::Counter, "x");
    }
}
