#!/usr/bin/env python3
"""bench/journal.py: fill a private journald with the merged stream, for the journal suite.

Every line of LOGS/journal.tsv (IDENTIFIER<TAB>PID<TAB>MESSAGE) becomes one entry, sent in
order through journald's native socket; a last entry marks the end, so that its presence
means all came in. journald is then stopped (files synced and offline) and the journal
directory kept for every reader: journalctl -D, sd-journal, fail2ban, banjo --journal-dir.
DIR/meta.json says what is in it; a DIR whose meta.json matches the logs is reused.

usage: journal.py --logs LOGS --dir DIR      prints the journal directory; root needed
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from journald import PrivateJournald, wait_for  # noqa: E402

END = "banjo-bench: end of fill"


def count(jdir, *match):
    out = subprocess.run(["journalctl", "-D", jdir, "-o", "cat", "--no-pager", *match], capture_output=True, check=True)
    return out.stdout.count(b"\n")


def fill(logs, root):
    params = json.load(open(os.path.join(logs, "params.json")))
    meta_path = os.path.join(root, "meta.json")
    if os.path.exists(meta_path):
        meta = json.load(open(meta_path))
        if meta.get("params") == params and os.path.isdir(meta.get("dir", "")):
            print(f"journal: reusing {meta['dir']} ({meta['entries']} entries)", file=sys.stderr)
            return meta
        shutil.rmtree(root)
    t0 = time.monotonic()
    jd = PrivateJournald(root)
    sent = 0
    try:
        with open(os.path.join(logs, "journal.tsv")) as f:
            for line in f:
                ident, pid, message = line.rstrip("\n").split("\t", 2)
                jd.send(ident, message, pid)
                sent += 1
        jd.send("banjo-bench", END)
        jdir = jd.journal_dir()
        wait_for(lambda: jdir and count(jdir, f"MESSAGE={END}") == 1, "journald to store every entry", timeout=900)
    finally:
        jd.stop()
    ours = count(jdir, "_TRANSPORT=journal")
    if ours != sent + 1:
        raise SystemExit(f"journal: sent {sent + 1} entries, journald stored {ours}")
    meta = dict(dir=jdir, sent=sent, entries=count(jdir), params=params, fill_s=round(time.monotonic() - t0, 1))
    with open(meta_path, "w") as f:
        json.dump(meta, f, indent=1)
    print(f"journal: {sent} lines -> {meta['entries']} entries in {jdir} ({meta['fill_s']} s)", file=sys.stderr)
    return meta


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--logs", required=True)
    ap.add_argument("--dir", required=True)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/journal.py needs root (a private mount namespace for journald)")
    meta = fill(os.path.abspath(a.logs), os.path.abspath(a.dir))
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
