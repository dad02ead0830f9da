"""bench/cases.py: what the bench runs: the bench filter in each tool's syntax, and per case
the tools, their command lines and how to read their match count.

From patterns.tsv it writes, into WORK/filters/, per group (ssh, mail, web, and syslog = ssh
and mail, for the syslog stream and the journal):
  bench-<group>.conf  fail2ban filter files (fail2ban-regex and banjo read them); the date
                      pinned as fail2ban's own filters pin it ({^LN-BEG} for syslog files, the
                      access log's [dd/Mon/yyyy:...] for web)
  bench-<group>.ere   the same regexes as grep -E patterns
  fail2ban-rs.toml    fail2ban-rs jails, one per group (used by its offline dry-run only)
The ceiling reads patterns.tsv itself. Tool binaries come from the environment (bench/run.sh
sets them): BANJO, BANJO_BEFORE, F2B_REGEX, F2BRS, CEILING, JREAD; a tool whose variable is empty
is left out.
"""
import os
from dataclasses import dataclass, field

BENCH = os.path.dirname(os.path.abspath(__file__))
FORMATS = ["ssh", "mail", "web"]
# group -> (formats, fail2ban datepattern, fail2ban-rs date_format)
GROUPS = {"syslog": (["ssh", "mail"], "{^LN-BEG}", "syslog"), "ssh": (["ssh"], "{^LN-BEG}", "syslog"),
          "mail": (["mail"], "{^LN-BEG}", "syslog"), "web": (["web"], "%d/%b/%Y:%H:%M:%S %z", "common")}
# the file cases: (case name, log file, group, what the table calls it)
FILE_CASES = [("merged", "merged.log", "syslog", "syslog stream (merged.log)"),
              ("ssh", "ssh.log", "ssh", "sshd (ssh.log)"), ("mail", "mail.log", "mail", "mail (mail.log)"),
              ("web", "web.log", "web", "nginx access log (web.log)")]
# the tables' and the chart's order of the tools
ORDER = ["fail2ban-regex", "fail2ban-rs", "grep -E", "journalctl -o cat", "banjo (before)", "banjo",
         "ceiling (Rust)", "ceiling (sd-journal C)"]
ERE_HOST = r"([0-9]{1,3}(\.[0-9]{1,3}){3}|[0-9a-fA-F:]*:[0-9a-fA-F:.]+)"
F2B_COUNT = r"^Lines: \d+ lines, \d+ ignored, (\d+) matched"


@dataclass
class Tool:
    name: str          # as the table shows it
    role: str          # banjo | fail2ban | peer | ceiling: the ratios are taken to fail2ban and ceiling
    argv: list
    count_re: str = ""  # regex whose first group is the match count on stdout; "" = not timed-checked
    stdout: bool = True  # False: stdout to /dev/null (its count is checked in the verify pass)
    counts: str = "matches"  # what its count is: "matches" (failure lines) or "entries" (all read)
    env: dict = field(default_factory=dict)


@dataclass
class Case:
    suite: str         # files | journal
    name: str
    label: str         # what the table calls it
    unit: str          # lines | entries
    size: int          # lines or entries the tools read
    expected: int      # lines every matching tool must count
    tools: list


def load_patterns(path=os.path.join(BENCH, "patterns.tsv")):
    rows = []
    for n, line in enumerate(open(path), 1):
        line = line.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        fmt, literal, regex = line.split("\t")
        if fmt not in FORMATS or regex.count("<HOST>") != 1:
            raise SystemExit(f"{path}:{n}: want format ssh|mail|web and one <HOST>: {line!r}")
        rows.append((fmt, literal, regex))
    return rows


def to_ere(regex):
    """fail2ban/Python regex -> GNU grep -E (same lines matched; GNU grep knows \\s \\S \\w)."""
    return (regex.replace("<HOST>", ERE_HOST).replace("(?:", "(").replace(r"\d", "[0-9]")
            .replace("*?", "*").replace("+?", "+"))


def write_filters(work, rows):
    d = os.path.join(work, "filters")
    os.makedirs(d, exist_ok=True)
    toml = ["# fail2ban-rs jails for banjo's bench (written by bench/cases.py from bench/patterns.tsv);",
            "# only its offline dry-run reads this: no daemon, no firewall.", "[global]",
            f'state_dir = "{d}/f2brs-state"', f'socket_path = "{d}/f2brs.sock"', ""]
    for name, (formats, datepattern, date_format) in GROUPS.items():
        regexes = [r for f, _, r in rows if f in formats]
        with open(os.path.join(d, f"bench-{name}.conf"), "w") as f:
            f.write(f"# banjo bench filter, group {name} (written by bench/cases.py from bench/patterns.tsv)\n")
            # fail2ban reads its .conf files with interpolation: a literal % is written %%
            f.write("[Definition]\nfailregex = " + "\n            ".join(r.replace("%", "%%") for r in regexes))
            f.write(f"\nignoreregex =\ndatepattern = {datepattern.replace('%', '%%')}\n")
        with open(os.path.join(d, f"bench-{name}.ere"), "w") as f:
            f.write("".join(to_ere(r) + "\n" for r in regexes))
        toml += [f"[jail.{name}]", 'log_path = "/dev/null"', f'date_format = "{date_format}"', "ignoreself = false",
                 "filter = ["] + [f"    '''{r}'''," for r in regexes] + ["]", ""]
    with open(os.path.join(d, "fail2ban-rs.toml"), "w") as f:
        f.write("\n".join(toml))
    return d


def read_expected(logs):
    exp = {}
    for line in open(os.path.join(logs, "expected.tsv")):
        name, lines, matched, addrs = line.rstrip("\n").split("\t")
        if name != "file":
            exp[name] = (int(lines), int(matched), int(addrs))
    return exp


def banjos(env, args):
    """banjo's test-filter with `args`, and the same by BANJO_BEFORE (a second binary, say an
    older commit's, in the same run: its counts are checked as banjo's are)."""
    return [Tool(name, "banjo", [env[var], "test-filter", *args], r"matched: (\d+)")
            for name, var in (("banjo (before)", "BANJO_BEFORE"), ("banjo", "BANJO")) if env.get(var)]


def file_cases(work, logs, env):
    filters = os.path.join(work, "filters")
    exp = read_expected(logs)
    cases = []
    for name, log, group, label in FILE_CASES:
        path = os.path.join(logs, log)
        conf = os.path.join(filters, f"bench-{group}.conf")
        tools = []
        tools += banjos(env, [conf, path])
        if env.get("F2B_REGEX"):
            tools.append(Tool("fail2ban-regex", "fail2ban", [env["F2B_REGEX"], "-r", "--print-no-missed",
                                                             "--print-no-ignored", path, conf], F2B_COUNT))
        if env.get("F2BRS"):
            tools.append(Tool("fail2ban-rs", "peer", [env["F2BRS"], "-c", os.path.join(filters, "fail2ban-rs.toml"),
                                                      "dry-run", "-j", group, path], r"Matches:\s+(\d+)"))
        if env.get("GREP", "grep"):
            # LC_ALL=C: bytes, as every other tool here reads them (a UTF-8 locale is 2-3x slower)
            tools.append(Tool("grep -E", "peer", [env.get("GREP", "grep"), "-c", "-E", "-f",
                                                  os.path.join(filters, f"bench-{group}.ere"), path],
                              r"^(\d+)$", env={"LC_ALL": "C"}))
        if env.get("CEILING"):
            tools.append(Tool("ceiling (Rust)", "ceiling", [env["CEILING"], os.path.join(BENCH, "patterns.tsv"),
                                                            ",".join(GROUPS[group][0]), path], r"matched=(\d+)"))
        lines, matched, _ = exp[name]
        cases.append(Case("files", name, label, "lines", lines, matched, tools))
    return cases


def journal_case(work, logs, env, journal_dir, entries):
    """One journal of the syslog stream, read whole by each tool."""
    conf = os.path.join(work, "filters", "bench-syslog.conf")
    _, matched, _ = read_expected(logs)["merged"]
    tools = []
    tools += banjos(env, [conf, "--journal-dir", journal_dir])
    if env.get("F2B_REGEX"):
        tools.append(Tool("fail2ban-regex", "fail2ban", [env["F2B_REGEX"], "-r", "--print-no-missed",
                                                         "--print-no-ignored",
                                                         f"systemd-journal[journalpath={journal_dir}]", conf],
                          F2B_COUNT))
    # journalctl prints every entry: its count (entries, not matches) is checked in the verify pass
    tools.append(Tool("journalctl -o cat", "peer", ["journalctl", "-D", journal_dir, "-o", "cat", "--no-pager"],
                      stdout=False, counts="entries"))
    if env.get("JREAD"):
        tools.append(Tool("ceiling (sd-journal C)", "ceiling", [env["JREAD"], journal_dir], r"entries=(\d+)",
                          counts="entries"))
    return Case("journal", "journal", "journal (the syslog stream)", "entries", entries, matched, tools)
