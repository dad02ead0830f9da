//! `banjo test-filter FILTER INPUT`: what fail2ban-regex does — run a filter over a log and
//! say what matched, what was missed and why.
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::filter::multiline::OneFilter;
use crate::filter::time::{self, TimeFinder};
use crate::filter::{self, Filter, FilterDef, Host, Outcome, Scratch};
use crate::source::journal::{self, Location};
use crate::source::lines::LineReader;

/// Missed lines shown with a hint when --print-all-missed is not given.
const SAMPLE_MISSED: usize = 3;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A `[filters.NAME]` of the config, a built-in filter name (`banjo test-filter --list`),
    /// a fail2ban filter file (`/etc/fail2ban/filter.d/sshd.conf`, `sshd[mode=aggressive]`),
    /// or a failregex.
    #[arg(required_unless_present = "list")]
    pub filter: Option<String>,
    /// A log file, or `-` for standard input. With --journal: journal matches FIELD=VALUE.
    pub input: Vec<String>,
    /// Read the journal instead of a file; INPUT words are matches (journalctl syntax).
    #[arg(long)]
    pub journal: bool,
    /// Read the journal files in this directory (like journalctl -D).
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
    /// Read this journal file (like journalctl --file); may be repeated.
    #[arg(long, value_name = "FILE")]
    pub journal_file: Vec<PathBuf>,
    /// An extra ignoreregex (may be repeated).
    #[arg(long, value_name = "REGEX")]
    pub ignoreregex: Vec<String>,
    /// Pin the timestamp format (fail2ban datepattern), e.g. `{^LN-BEG}TAI64N`.
    #[arg(long, value_name = "PATTERN")]
    pub datepattern: Option<String>,
    /// "Now" for dates without a year (or without a day): the year is the one of TIME, unless
    /// that puts the date more than a day after TIME. RFC 3339 (`2005-08-14T12:00:00+02:00`) or a
    /// local time (`2005-08-14 12:00:00`, in TZ). Default: the clock.
    #[arg(long, value_name = "TIME", value_parser = parse_now)]
    pub now: Option<jiff::Timestamp>,
    /// Print every missed line, each with a hint why.
    #[arg(long)]
    pub print_all_missed: bool,
    /// Print every matched line with its address.
    #[arg(long)]
    pub print_all_matched: bool,
    /// Print every ignored line.
    #[arg(long)]
    pub print_all_ignored: bool,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
    /// List the built-in filters and exit.
    #[arg(long)]
    pub list: bool,
}

#[derive(Debug, Default, Serialize)]
struct Report {
    filter: String,
    input: String,
    lines: u64,
    matched: u64,
    ignored: u64,
    missed: u64,
    /// Lines a failregex matched that are part of a multi-line failure but not one
    /// themselves (`<F-NOFAIL>`, or no address known yet).
    context: u64,
    /// Failure ids dropped from the multi-line memory because it was full.
    #[serde(skip_serializing_if = "is_zero")]
    multiline_evicted: u64,
    /// Lines a failregex matched whose address tag took something that is not an address.
    bad_host: u64,
    /// Lines longer than the line cap, skipped.
    overlong: u64,
    /// Lines with no timestamp found (their time is unknown; the daemon uses "now").
    no_time: u64,
    failregex: Vec<RegexHits>,
    ignoreregex: Vec<RegexHits>,
    templates: Vec<TemplateHits>,
    hosts: Vec<HostHits>,
    matches: Vec<MatchLine>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    missed_lines: Vec<MissedLine>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ignored_lines: Vec<MissedLine>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
struct RegexHits {
    /// 1-based, as fail2ban numbers them.
    index: usize,
    regex: String,
    hits: u64,
}

#[derive(Debug, Serialize)]
struct TemplateHits {
    template: String,
    lines: u64,
}

#[derive(Debug, Serialize)]
struct HostHits {
    host: String,
    failures: u64,
}

#[derive(Debug, Serialize)]
struct MatchLine {
    line: u64,
    host: String,
    /// 1-based failregex index.
    regex: usize,
    time: Option<String>,
    /// Log lines that make up the failure (fail2ban's attempts): 1 unless multi-line.
    attempts: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    users: Vec<String>,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    fields: HashMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
}

#[derive(Debug, Serialize)]
struct MissedLine {
    line: u64,
    text: String,
    hint: String,
}

/// `config`: the config whose `[filters.NAME]` sections FILTER may name, as the daemon does.
pub fn run(args: Args, config: &Path) -> Result<()> {
    if args.list {
        for name in filter::builtin::names() {
            println!("{name}");
        }
        return Ok(());
    }
    let spec = args.filter.as_deref().unwrap_or_default();
    let mut def = filter_def(spec, config)?;
    def.ignoreregex.extend(args.ignoreregex.iter().cloned());
    if let Some(p) = &args.datepattern {
        def.datepattern = Some(p.clone());
    }
    let compiled = Filter::compile(&def).with_context(|| format!("filter {spec:?}"))?;
    let mut run = Run::new(&args, Arc::new(compiled))?;
    let journal = args.journal || args.journal_dir.is_some() || !args.journal_file.is_empty();
    if journal {
        run.tally.report.input = journal_input(&args);
        run.journal(&args)?;
    } else {
        let [input] = args.input.as_slice() else {
            bail!("give one INPUT: a log file, or - for standard input (or --journal to read the journal)");
        };
        run.tally.report.input = input.clone();
        run.text(input)?;
    }
    let report = run.finish();
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print_human(&mut out, &report, &args)?;
    }
    Ok(())
}

/// FILTER as the config's `[filters.NAME]`, a built-in, a file, or else a failregex given on
/// the command line.
fn filter_def(spec: &str, config: &Path) -> Result<FilterDef> {
    // the config is only needed for its own filters; one that is absent or broken is skipped
    let (inline, unread) = match config.exists().then(|| crate::config::load(config)) {
        Some(Ok(cfg)) => (cfg.filters, None),
        Some(Err(e)) => (Default::default(), Some(e)),
        None => (Default::default(), None),
    };
    match filter::resolve(spec, Path::new("."), &inline) {
        Ok(def) => Ok(def),
        Err(e @ filter::FilterError::Unknown { .. }) if unread.is_some() && !looks_like_regex(spec) => {
            let config_error = unread.map(|u| u.to_string()).unwrap_or_default();
            Err(anyhow::Error::new(e).context(format!(
                "{} was not read, so its [filters] are not known: {config_error}",
                config.display()
            )))
        }
        Err(filter::FilterError::Unknown { .. }) if looks_like_regex(spec) => Ok(FilterDef {
            name: "command line".into(),
            origin: "failregex from the command line".into(),
            failregex: vec![spec.to_string()],
            ..Default::default()
        }),
        Err(e) => Err(e.into()),
    }
}

/// `--now`: an instant with its offset, or a civil time in the local zone.
fn parse_now(s: &str) -> Result<jiff::Timestamp, String> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    let civil: jiff::civil::DateTime = s.parse().map_err(|_| {
        format!("{s:?} is not a time: write 2005-08-14T12:00:00+02:00, or 2005-08-14 12:00:00 for local time")
    })?;
    civil
        .to_zoned(jiff::tz::TimeZone::system())
        .map(|z| z.timestamp())
        .map_err(|e| format!("{s:?}: {e}"))
}

fn looks_like_regex(spec: &str) -> bool {
    ["<HOST>", "<ADDR>", "<IP4>", "<IP6>", "<DNS>", "<SUBNET>", "(?P<"]
        .iter()
        .any(|t| spec.contains(t))
}

fn journal_input(args: &Args) -> String {
    let what = match (&args.journal_dir, args.journal_file.is_empty()) {
        (Some(d), _) => format!("journal directory {}", d.display()),
        (None, false) => format!(
            "journal file(s) {}",
            args.journal_file
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        (None, true) => "the system journal".to_string(),
    };
    if args.input.is_empty() {
        what
    } else {
        format!("{what} ({})", args.input.join(" "))
    }
}

/// One pass over the input: timestamps are found and cut here, `Tally` counts.
struct Run {
    tally: Tally,
    cut: Vec<u8>,
    times: TimeFinder,
    now: jiff::Timestamp,
    /// The last date a line had: a line without one takes it while it is recent, as
    /// fail2ban's processLine does (a multi-line failure often ends on such a line).
    last: Option<jiff::Timestamp>,
}

/// How recent the last date must be for a dateless line to take it (fail2ban: 60 s).
const LAST_DATE_WINDOW: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What the report counts, line by line.
struct Tally {
    one: OneFilter,
    filter: Arc<Filter>,
    scratch: Scratch,
    now: jiff::Timestamp,
    report: Report,
    fail_hits: Vec<u64>,
    ignore_hits: Vec<u64>,
    /// Failures per host, named only for the report (a million matches, a few thousand hosts).
    hosts: HashMap<Host, u64>,
    keep_matches: bool,
    keep_match_text: bool,
    keep_missed: usize,
    keep_ignored: bool,
}

impl Run {
    fn new(args: &Args, filter: Arc<Filter>) -> Result<Run> {
        let tz = jiff::tz::TimeZone::system();
        let times = match &filter.def.datepattern {
            Some(p) => {
                TimeFinder::pinned(p, tz).with_context(|| format!("{}: datepattern", filter.def.origin))?
            }
            None => TimeFinder::new(tz),
        };
        let now = args.now.unwrap_or_else(jiff::Timestamp::now);
        let tally = Tally {
            one: OneFilter::new(filter.clone()),
            now,
            fail_hits: vec![0; filter.def.failregex.len()],
            ignore_hits: vec![0; filter.def.ignoreregex.len()],
            report: Report {
                filter: format!("{} ({})", filter.def.name, filter.def.origin),
                warnings: filter.warnings(),
                ..Default::default()
            },
            filter,
            scratch: Scratch::default(),
            hosts: HashMap::new(),
            keep_matches: args.json || args.print_all_matched,
            keep_match_text: args.print_all_matched,
            keep_missed: if args.print_all_missed {
                usize::MAX
            } else {
                SAMPLE_MISSED
            },
            keep_ignored: args.print_all_ignored,
        };
        Ok(Run {
            tally,
            cut: Vec::new(),
            times,
            now,
            last: None,
        })
    }

    fn text(&mut self, input: &str) -> Result<()> {
        let reader: Box<dyn std::io::Read> = if input == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::fs::File::open(input).with_context(|| format!("cannot open {input}"))?)
        };
        let mut lines = LineReader::new(reader);
        let window_start = self.now - LAST_DATE_WINDOW;
        lines
            .for_each_line_in(|line, window| {
                let (text, own, cut) = match self.times.find(line, self.now) {
                    Some(found) => (
                        time::cut(line, &found, &mut self.cut),
                        // an empty date (a datepattern like `^WARNING:()**`) is no date
                        found.time.filter(|_| found.start < found.end),
                        found.start..found.end,
                    ),
                    None => (line, None, 0..0),
                };
                if own.is_some() {
                    self.last = own;
                }
                let taken = own.or(self.last.filter(|t| *t > window_start));
                let tally = &mut self.tally;
                tally.scratch.look_ahead(&tally.one.set, window, line, cut, text);
                tally.line(text, line, own.is_some(), taken);
            })
            .with_context(|| format!("reading {input}"))?;
        self.tally.report.overlong = lines.overlong;
        Ok(())
    }

    fn journal(&mut self, args: &Args) -> Result<()> {
        let location = match (&args.journal_dir, args.journal_file.is_empty()) {
            (Some(d), _) => Location::Directory(d.clone()),
            (None, false) => Location::Files(args.journal_file.clone()),
            (None, true) => Location::System,
        };
        let mut reader = journal::Reader::open(&location, &args.input)?;
        while let Some(entry) = reader.next_entry()? {
            self.tally
                .line(&entry.text, &entry.text, entry.time.is_some(), entry.time);
        }
        Ok(())
    }

    fn finish(self) -> Report {
        let mut t = self.tally;
        let r = &mut t.report;
        r.failregex = hits(&t.filter.def.failregex, &t.fail_hits);
        r.ignoreregex = hits(&t.filter.def.ignoreregex, &t.ignore_hits);
        r.templates = self
            .times
            .hits()
            .into_iter()
            .map(|(t, n)| TemplateHits {
                template: t,
                lines: n,
            })
            .collect();
        let mut hosts: Vec<_> = t
            .hosts
            .into_iter()
            .map(|(host, failures)| HostHits {
                host: host.to_string(),
                failures,
            })
            .collect();
        hosts.sort_by(|a, b| b.failures.cmp(&a.failures).then_with(|| a.host.cmp(&b.host)));
        r.hosts = hosts;
        r.multiline_evicted = t.one.lines.stats().evicted;
        t.report
    }
}

impl Tally {
    /// `text` is what the filter matches (timestamp cut), `raw` the line as read, `dated`
    /// whether it had a date of its own, `t` the time it is taken to have.
    fn line(&mut self, text: &[u8], raw: &[u8], dated: bool, t: Option<jiff::Timestamp>) {
        let r = &mut self.report;
        r.lines += 1;
        let n = r.lines;
        if !dated {
            r.no_time += 1;
        }
        let outcome = self.one.feed(text, t.unwrap_or(self.now), &mut self.scratch);
        let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match outcome {
            Outcome::Matched(m) => {
                r.matched += 1;
                self.fail_hits[m.failregex] += 1;
                if self.keep_matches {
                    r.matches.push(MatchLine {
                        line: n,
                        host: m.host.to_string(),
                        regex: m.failregex + 1,
                        time: t.map(|t| t.to_string()),
                        attempts: m.lines,
                        users: m.users,
                        fields: m.fields.into_iter().collect(),
                        text: self.keep_match_text.then(|| show(raw)),
                    });
                }
                *self.hosts.entry(m.host).or_default() += 1;
            }
            Outcome::Context { failregex } => {
                r.context += 1;
                self.fail_hits[failregex] += 1;
            }
            Outcome::Ignored { ignoreregex, .. } => {
                r.ignored += 1;
                self.ignore_hits[ignoreregex] += 1;
                if self.keep_ignored {
                    let hint = format!("ignoreregex #{} matched", ignoreregex + 1);
                    r.ignored_lines.push(MissedLine {
                        line: n,
                        text: show(raw),
                        hint,
                    });
                }
            }
            Outcome::BadHost {
                failregex,
                text: host,
            } => {
                r.missed += 1;
                r.bad_host += 1;
                if r.missed_lines.len() < self.keep_missed {
                    let hint = format!(
                        "failregex #{} matched, but its address tag took {host:?}, which is not an address",
                        failregex + 1
                    );
                    r.missed_lines.push(MissedLine {
                        line: n,
                        text: show(raw),
                        hint,
                    });
                }
            }
            Outcome::Missed => {
                r.missed += 1;
                if r.missed_lines.len() < self.keep_missed {
                    let hint = self.filter.explain_miss(text);
                    r.missed_lines.push(MissedLine {
                        line: n,
                        text: show(raw),
                        hint,
                    });
                }
            }
        }
    }
}

fn hits(regexes: &[String], counts: &[u64]) -> Vec<RegexHits> {
    regexes
        .iter()
        .zip(counts)
        .enumerate()
        .map(|(i, (re, n))| RegexHits {
            index: i + 1,
            regex: re.clone(),
            hits: *n,
        })
        .collect()
}

/// Hosts listed in the human report.
const TOP_HOSTS: usize = 10;

fn print_human(out: &mut impl Write, r: &Report, args: &Args) -> std::io::Result<()> {
    writeln!(out, "filter:  {}", r.filter)?;
    writeln!(out, "input:   {}", r.input)?;
    writeln!(out)?;
    writeln!(
        out,
        "lines: {}  matched: {}  ignored: {}  missed: {}",
        r.lines, r.matched, r.ignored, r.missed
    )?;
    if r.context > 0 {
        writeln!(
            out,
            "  ({} more lines matched as context of multi-line failures, not failures themselves)",
            r.context
        )?;
    }
    if r.multiline_evicted > 0 {
        writeln!(
            out,
            "  ({} multi-line failure ids were dropped because too many were open at once)",
            r.multiline_evicted
        )?;
    }
    if r.bad_host > 0 {
        writeln!(
            out,
            "  ({} missed lines matched a failregex whose address was not an address)",
            r.bad_host
        )?;
    }
    if r.overlong > 0 {
        writeln!(out, "  ({} overlong lines skipped)", r.overlong)?;
    }
    writeln!(out)?;
    writeln!(out, "failregex hits:")?;
    for h in &r.failregex {
        writeln!(out, "  #{:<3} {:>9}  {}", h.index, h.hits, h.regex)?;
    }
    if !r.ignoreregex.is_empty() {
        writeln!(out, "ignoreregex hits:")?;
        for h in &r.ignoreregex {
            writeln!(out, "  #{:<3} {:>9}  {}", h.index, h.hits, h.regex)?;
        }
    }
    writeln!(out, "timestamps:")?;
    if r.input.starts_with("journal") || r.input.starts_with("the system journal") {
        writeln!(
            out,
            "  each journal entry's own time (_SOURCE_REALTIME_TIMESTAMP, else its receive time)"
        )?;
    }
    for t in &r.templates {
        writeln!(out, "  {:>9}  {}", t.lines, t.template)?;
    }
    if r.no_time > 0 {
        writeln!(
            out,
            "  {:>9}  no timestamp found (time taken from the last dated line if within a minute of now, else now)",
            r.no_time
        )?;
    }
    if !r.hosts.is_empty() {
        writeln!(out, "addresses: {} distinct", r.hosts.len())?;
        for h in r.hosts.iter().take(TOP_HOSTS) {
            writeln!(out, "  {:>9}  {}", h.failures, h.host)?;
        }
        if r.hosts.len() > TOP_HOSTS {
            writeln!(out, "  … and {} more", r.hosts.len() - TOP_HOSTS)?;
        }
    }
    for w in &r.warnings {
        writeln!(out, "warning: {w}")?;
    }
    if args.print_all_matched {
        writeln!(out, "\nmatched lines:")?;
        for m in &r.matches {
            writeln!(
                out,
                "  {:>7}  {:<39} #{}  {}",
                m.line,
                m.host,
                m.regex,
                m.text.as_deref().unwrap_or("")
            )?;
        }
    }
    if args.print_all_ignored && !r.ignored_lines.is_empty() {
        writeln!(out, "\nignored lines:")?;
        for m in &r.ignored_lines {
            writeln!(out, "  {:>7}  {}\n           {}", m.line, m.text, m.hint)?;
        }
    }
    if !r.missed_lines.is_empty() {
        let all = args.print_all_missed || r.missed as usize <= r.missed_lines.len();
        writeln!(out, "\n{} lines:", if all { "missed" } else { "some missed" })?;
        for m in &r.missed_lines {
            writeln!(out, "  {:>7}  {}\n           why: {}", m.line, m.text, m.hint)?;
        }
        if !all {
            writeln!(out, "  (--print-all-missed shows all {} with hints)", r.missed)?;
        }
    }
    Ok(())
}
