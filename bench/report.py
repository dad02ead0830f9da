#!/usr/bin/env python3
"""bench/report.py: the bench's results as a person reads them.

From OUT/runs.tsv, OUT/verify.tsv, OUT/meta.json and OUT/daemon.json (if the daemon suite
ran) it writes OUT/summary.md (medians, ratios to fail2ban and to the ceiling, every count
checked) and OUT/chart.svg (lines/s and entries/s per tool, log scale, drawn by matplotlib).
With --readme FILE it puts the table and the chart into FILE between the markers
"<!-- bench:begin -->" and "<!-- bench:end -->".

usage: report.py OUT [--readme README.md] [--no-chart]
"""
import argparse
import csv
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cases import ORDER  # noqa: E402

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
# Why a peer's count differs from the truth, where that was worked out (shown only when it does)
NOTES = {
    "fail2ban-rs": "fail2ban-rs 1.5.4 misses lines of the vpopmail failregex, whose alternation "
                   "`(?:password fail|vpopmail user not found)` its literal prefilter mishandles (the same "
                   "regex with either branch alone counts them all)",
}
# by role; a tool named here has its own ("banjo (before)": banjo's, lighter)
COLORS = {"banjo": "#d9480f", "fail2ban": "#5c7cfa", "peer": "#868e96", "ceiling": "#2b8a3e",
          "banjo (before)": "#ffa94d"}


def rate(x):
    return f"{x / 1e6:.2f}M" if x >= 1e6 else f"{x / 1e3:.1f}k" if x >= 1e3 else f"{x:.0f}"


def ratio(x):
    return "" if x is None else f"{x:,.0f}×" if x >= 10 else f"{x:.2f}×"


def load(out):
    """Per (suite, case): its size and unit, and per tool its role, walls, cpus, counts."""
    cases = {}
    with open(os.path.join(out, "runs.tsv")) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            c = cases.setdefault((r["suite"], r["case"]), dict(label=r["label"], size=int(r["size"]), unit=r["unit"],
                                                               tools={}))
            t = c["tools"].setdefault(r["tool"], dict(role=r["role"], wall=[], cpu=[], ok=[], count=r["count"],
                                                     expected=int(r["expected"])))
            t["wall"].append(float(r["wall_s"]))
            t["cpu"].append(float(r["cpu_s"]))
            t["ok"].append(r["ok"] == "ok")
    for c in cases.values():
        for t in c["tools"].values():
            t["median"] = statistics.median(t["wall"])
            t["min"] = min(t["wall"])
            t["cpu_median"] = statistics.median(t["cpu"])
            t["rate"] = c["size"] / t["median"]
        by_role = {t["role"]: t["median"] for t in c["tools"].values()}
        for t in c["tools"].values():
            t["x_f2b"] = by_role["fail2ban"] / t["median"] if "fail2ban" in by_role else None
            t["x_ceiling"] = by_role["ceiling"] / t["median"] if "ceiling" in by_role else None
    verify = []
    if os.path.exists(os.path.join(out, "verify.tsv")):
        with open(os.path.join(out, "verify.tsv")) as f:
            verify = list(csv.DictReader(f, delimiter="\t"))
    return cases, verify


def in_order(tools):
    return sorted(tools.items(), key=lambda kv: ORDER.index(kv[0]) if kv[0] in ORDER else len(ORDER))


def table(cases, suite, title):
    rows = [(k, c) for k, c in cases.items() if k[0] == suite]
    if not rows:
        return []
    unit = rows[0][1]["unit"]
    md = [f"**{title}**", "",
          f"| input | tool | median s | min s | CPU s | {unit}/s | × fail2ban | × ceiling | count |",
          "|---|---|--:|--:|--:|--:|--:|--:|---|"]
    for (_, name), c in rows:
        first = True
        for tname, t in in_order(c["tools"]):
            label = f"{c['label']}: {c['size']:,} {unit}" if first else ""
            first = False
            what = "matches" if t["expected"] != c["size"] else unit
            check = (f"✓ {t['expected']:,} {what}" if all(t["ok"]) else f"✗ want {t['expected']:,}, got {t['count']}")
            name_md = f"**{tname}**" if t["role"] == "banjo" else tname
            md.append(f"| {label} | {name_md} | {t['median']:.3f} | {t['min']:.3f} | {t['cpu_median']:.3f} | "
                      f"{rate(t['rate'])} | {ratio(t['x_f2b'])} | {ratio(t['x_ceiling'])} | {check} |")
    return md + [""]


def daemon_table(out):
    path = os.path.join(out, "daemon.json")
    if not os.path.exists(path):
        return []
    results = json.load(open(path))
    md = ["**The daemon** (`bench/daemon.py`: banjo run in private namespaces, a private journald)", "",
          "| measurement | figures |", "|---|---|"]
    for name, figures in results.items():
        md.append(f"| {name} | " + ", ".join(f"{k.replace('_', ' ')} {v:,}" if isinstance(v, (int, float))
                                             else f"{k.replace('_', ' ')} {v}" for k, v in figures.items()) + " |")
    return md + [""]


def summary(out, cases, verify, meta):
    n_checks = len(verify) + sum(len(t["ok"]) for c in cases.values() for t in c["tools"].values())
    n_wrong = sum(v["ok"] != "ok" for v in verify) + sum(
        not ok for c in cases.values() for t in c["tools"].values() for ok in t["ok"])
    wrong = {}  # tool -> ["case: got N of M"]
    for (_, name), c in cases.items():
        for tname, t in c["tools"].items():
            if not all(t["ok"]):
                wrong.setdefault(tname, []).append(f"{c['label']}: {int(t['count']):,} of {t['expected']:,}")
    md = [f"{meta['mode'].capitalize()} run, {meta['date']}: {meta['lines']:,}-line logs (seed {meta['seed']}), "
          f"{meta['rounds']} rounds, each tool pinned to one core (`taskset -c {meta['cpu']}`); "
          f"median and min of the wall clock, CPU = user + system (median); × = how many times faster "
          f"than fail2ban-regex, or the share of the ceiling's speed.", "",
          f"Machine: {meta['machine']}.  ", f"Versions: {meta['versions']}.", ""]
    md += table(cases, "files", "Log files: lines/s, the bench filter (bench/patterns.tsv)")
    md += table(cases, "journal", "Journal: entries/s, the same lines in a private journald, read whole")
    md += daemon_table(out)
    md.append(f"Counts: {n_checks} checks against the generator's truth (every timed run, and per address "
              f"in the verify pass), " + ("all equal." if not n_wrong else f"{n_wrong} differ (runs.tsv, verify.tsv):"))
    for tname, where in wrong.items():
        md.append(f"- {tname} counted {'; '.join(where)}." + (f" {NOTES[tname]}." if tname in NOTES else ""))
    return md


def chart(out, cases, meta):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams["svg.hashsalt"] = "banjo-bench"  # stable ids: a rerun changes only what changed
    suites = [(s, t) for s, t in (("files", "log files: lines/s"), ("journal", "journal: entries/s"))
              if any(k[0] == s for k in cases)]
    heights = [sum(len(c["tools"]) + 1 for k, c in cases.items() if k[0] == s) for s, _ in suites]
    fig, axes = plt.subplots(len(suites), 1, figsize=(9, 0.26 * sum(heights) + 1.6),
                             gridspec_kw=dict(height_ratios=heights), squeeze=False)
    lo = min(t["rate"] for c in cases.values() for t in c["tools"].values())
    hi = max(t["rate"] for c in cases.values() for t in c["tools"].values())
    for ax, (suite, title) in zip(axes[:, 0], suites):
        y, labels, ticks = 0, [], []
        for (s, _), c in cases.items():
            if s != suite:
                continue
            # the case's name on a row of its own, above its tools
            ax.text(lo / 1.9, y, f"{c['label']}, {c['size']:,} {c['unit']}", va="center", fontsize=8,
                    fontweight="bold")
            y += 1
            for tname, t in in_order(c["tools"]):
                ax.barh(y, t["rate"], color=COLORS.get(tname, COLORS[t["role"]]), height=0.75)
                ax.text(t["rate"] * 1.08, y, rate(t["rate"]) + ("" if all(t["ok"]) else "  (count wrong)"),
                        va="center", fontsize=8)
                labels.append(tname)
                ticks.append(y)
                y += 1
        ax.set_xscale("log")
        ax.set_xlim(lo / 2, hi * 6)
        ax.set_yticks(ticks, labels, fontsize=8)
        ax.set_ylim(y - 0.5, -0.7)
        ax.set_title(title, fontsize=10, loc="left")
        ax.grid(axis="x", which="major", alpha=0.3)
    fig.suptitle(f"banjo bench, {meta['mode']} run ({meta['lines']:,} lines), {meta['date']}, one core each",
                 fontsize=10)
    fig.text(0.01, 0.005, meta["machine"], fontsize=7, color="#555")
    fig.tight_layout(rect=(0, 0.02, 1, 1))
    fig.savefig(os.path.join(out, "chart.svg"), format="svg", metadata={"Date": None})
    plt.close(fig)


def readme(path, out, md):
    text = open(path).read()
    if BEGIN not in text or END not in text:
        sys.exit(f"report: {path} has no {BEGIN} ... {END} block")
    rel = os.path.relpath(os.path.join(out, "chart.svg"), os.path.dirname(os.path.abspath(path)))
    block = "\n".join([BEGIN, "", *md, "", f"![lines/s and entries/s per tool, log scale]({rel})", "", END])
    head, rest = text.split(BEGIN, 1)
    open(path, "w").write(head + block + rest.split(END, 1)[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--readme")
    ap.add_argument("--no-chart", action="store_true")
    a = ap.parse_args()
    meta = json.load(open(os.path.join(a.out, "meta.json")))
    cases, verify = load(a.out)
    md = summary(a.out, cases, verify, meta)
    with open(os.path.join(a.out, "summary.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    if not a.no_chart:
        chart(a.out, cases, meta)
    if a.readme:
        readme(a.readme, a.out, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
