#!/usr/bin/env bash
# bench/run.sh: banjo's benchmark, from a clone of the repository alone (`make bench`).
#
#   bench/run.sh BANJO            quick: 100k-line logs, 3 rounds (a few minutes on 2 cores once
#                                 the tools are in place; the first run also builds fail2ban-rs)
#   FULL=1 bench/run.sh BANJO     full: 1M-line logs, 3 rounds (about 15 minutes on 2 cores)
#   bench/run.sh --check BANJO    `make test`'s guard against bit rot: a 3000-line log through
#                                 banjo and grep, every count checked, the table written; no
#                                 installs, no root, no timing worth reading
#
# Environment (optional): LINES, ROUNDS, SEED=1, CPU (the core the tools run on; default the
# last), SUITES="files journal daemon", BEFORE (a second banjo binary, say an older commit's,
# measured in the same run by every suite, as "banjo (before)"), WORK=target/bench (tools,
# logs, journals; kept between runs), OUT (results; default bench/results for FULL=1,
# bench/results/quick otherwise).
#
# What it fetches, and where (nothing is installed as a service, no firewall is touched):
#   apt (only what is missing): Debian's python3 with python3-matplotlib and python3-systemd,
#     gcc, libsystemd-dev, systemd, nftables, iproute2
#   fail2ban: Debian's package, `apt-get download`ed and unpacked with dpkg-deb under WORK
#     (no postinst, no service); fail2ban-regex runs from there
#   fail2ban-rs: `cargo install --locked` into WORK; only its offline dry-run is used
#   the ceilings: bench/ceiling (cargo, into WORK) and bench/jread.c (cc, into WORK)
# The journal and daemon suites run journald, banjo and nft in private namespaces (root).
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$BENCH")
MODE=quick
if [ "${1:-}" = --check ]; then MODE=check; shift; elif [ -n "${FULL:-}" ] && [ "${FULL}" != 0 ]; then MODE=full; fi
BANJO=$(realpath "${1:?usage: bench/run.sh [--check] BANJO_BINARY}")
BEFORE=${BEFORE:+$(realpath "$BEFORE")}
case $MODE in
    full)  LINES=${LINES:-1000000} ROUNDS=${ROUNDS:-3} OUT=${OUT:-$BENCH/results} ;;
    quick) LINES=${LINES:-100000} ROUNDS=${ROUNDS:-3} OUT=${OUT:-$BENCH/results/quick} ;;
    check) LINES=${LINES:-3000} ROUNDS=${ROUNDS:-1} SUITES=files ;;
esac
SEED=${SEED:-1}
SUITES=${SUITES:-files journal daemon}
WORK=$(realpath -m "${WORK:-$REPO/target/bench}")
if [ "$MODE" = check ]; then
    OUT=${OUT:-$WORK/check/results}
    unset F2B_REGEX F2BRS CEILING JREAD   # banjo and grep only: nothing to fetch or build
fi
CPU=${CPU:-$(($(nproc) - 1))}
F2BRS_VERSION=${F2BRS_VERSION:-1.5.4}
PY=/usr/bin/python3   # Debian's: matplotlib and python-systemd are its packages
[ -x "$PY" ] || PY=$(command -v python3)
mkdir -p "$WORK/tools" "$OUT"

say() { printf '\n=== %s\n' "$*"; }
has() { [[ " $SUITES " == *" $1 "* ]]; }

deps() {
    local want=(python3 python3-matplotlib python3-systemd gcc libc6-dev pkg-config libsystemd-dev systemd
                util-linux nftables iproute2) missing=()
    for p in "${want[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
    command -v cargo >/dev/null || { echo "bench: cargo not found (install Rust with rustup)" >&2; exit 1; }
}

fail2ban() {  # Debian's package, unpacked: fail2ban-regex without a fail2ban service
    local root=$WORK/tools/fail2ban
    if [ ! -f "$root/usr/bin/fail2ban-regex" ]; then
        echo "fail2ban: apt-get download + dpkg-deb -x into $root"
        rm -rf "$WORK/tools/debs" "$root"
        mkdir -p "$WORK/tools/debs" "$root"
        # as root apt downloads "unsandboxed": let its _apt user write there
        chown _apt "$WORK/tools/debs" 2>/dev/null || true
        (cd "$WORK/tools/debs" && { apt-get download -qq fail2ban || { apt-get update -qq && apt-get download -qq fail2ban; }; })
        dpkg-deb -x "$WORK"/tools/debs/fail2ban_*.deb "$root"
    fi
    cat > "$WORK/tools/fail2ban-regex" <<EOF
#!/bin/sh
# fail2ban-regex from Debian's fail2ban package unpacked under $root (with its own filter.d)
PYTHONPATH=$root/usr/lib/python3/dist-packages exec $PY $root/usr/bin/fail2ban-regex -c $root/etc/fail2ban "\$@"
EOF
    chmod +x "$WORK/tools/fail2ban-regex"
    export F2B_REGEX=$WORK/tools/fail2ban-regex
    F2B_VERSION=$(dpkg-deb -f "$WORK"/tools/debs/fail2ban_*.deb Version)
}

fail2ban_rs() {  # from crates.io, its own Cargo.lock; only `fail2ban-rs dry-run` is used
    local root=$WORK/tools/fail2ban-rs-$F2BRS_VERSION
    if [ ! -x "$root/bin/fail2ban-rs" ]; then
        echo "fail2ban-rs: cargo install --locked fail2ban-rs@$F2BRS_VERSION into $root (a few minutes, once)"
        CARGO_TARGET_DIR=$WORK/fail2ban-rs-build cargo install --locked --quiet "fail2ban-rs@$F2BRS_VERSION" --root "$root"
        rm -rf "$WORK/fail2ban-rs-build"
    fi
    export F2BRS=$root/bin/fail2ban-rs
}

ceilings() {
    CARGO_TARGET_DIR=$WORK/ceiling cargo build --release --locked --quiet --manifest-path "$BENCH/ceiling/Cargo.toml"
    export CEILING=$WORK/ceiling/release/ceiling
    if [ ! -x "$WORK/tools/jread" ] || [ "$BENCH/jread.c" -nt "$WORK/tools/jread" ]; then
        cc -O2 -Wall -o "$WORK/tools/jread" "$BENCH/jread.c" $(pkg-config --cflags --libs libsystemd)
    fi
    export JREAD=$WORK/tools/jread
}

logs() {  # regenerated when the generator changed (its hash is kept beside the logs)
    LOGS=$WORK/logs-$LINES-seed$SEED
    local gen
    gen=$(sha256sum "$BENCH/genlogs.py" | cut -d' ' -f1)
    if [ "$(cat "$LOGS/.generator" 2>/dev/null)" != "$gen" ]; then
        rm -rf "$LOGS" "$WORK/journal-$LINES-seed$SEED"
        "$PY" "$BENCH/genlogs.py" --out "$LOGS" --lines "$LINES" --seed "$SEED"
        echo "$gen" > "$LOGS/.generator"
    fi
    cat "$LOGS"/*.log > /dev/null   # every tool reads from the page cache
}

meta() {
    local v=("banjo $("$BANJO" --version | awk '{print $2}') ($(git -C "$REPO" describe --always --dirty 2>/dev/null || echo "no git"))")
    [ -n "$BEFORE" ] && v+=("banjo (before) $("$BEFORE" --version | awk '{print $2}') ($BEFORE)")
    [ -n "${F2B_REGEX:-}" ] && v+=("fail2ban-regex $F2B_VERSION (Debian's package; $($PY -V))")
    [ -n "${F2BRS:-}" ] && v+=("$("$F2BRS" --version)")
    v+=("$(grep --version | head -1)" "journalctl $(journalctl --version | head -1 | awk '{print $2}')"
        "$(rustc --version | cut -d' ' -f1-2)")
    local IFS=$'\t'
    MODE=$MODE LINES=$LINES ROUNDS=$ROUNDS SEED=$SEED CPU=$CPU VERSIONS="${v[*]}" \
    MACHINE="$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) CPUs, $(free -g | awk '/^Mem:/{print $2}') GiB RAM, Linux $(uname -r), Debian $(cat /etc/debian_version 2>/dev/null)" \
    "$PY" -c 'import json, os, time
e = os.environ
print(json.dumps(dict(mode=e["MODE"], lines=int(e["LINES"]), rounds=int(e["ROUNDS"]), seed=int(e["SEED"]),
                      cpu=int(e["CPU"]), date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                      machine=e["MACHINE"], versions=e["VERSIONS"].replace("\t", ", ")), indent=1))' > "$OUT/meta.json"
}

rm -f "$OUT"/{runs.tsv,verify.tsv,meta.json,daemon.json,summary.md,chart.svg}
case $MODE in
    check) say "bench --check: $LINES lines, banjo and grep, counts against the truth" ;;
    *) say "bench: $MODE run ($LINES-line logs, $ROUNDS rounds, suites: $SUITES, tools on CPU $CPU) -> $OUT" ;;
esac
if [ "$MODE" != check ]; then
    [ "$(id -u)" = 0 ] || { echo "bench: run as root (apt, private journald and namespaces)" >&2; exit 1; }
    say "tools"
    deps
    fail2ban
    fail2ban_rs
    ceilings
fi
say "logs"
logs
suites=files
JOURNAL_ARGS=()
if has journal; then
    say "journal: the syslog stream (merged.log) into a private journald"
    jmeta=$("$PY" "$BENCH/journal.py" --logs "$LOGS" --dir "$WORK/journal-$LINES-seed$SEED")
    jdir=$(echo "$jmeta" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["dir"])')
    entries=$(echo "$jmeta" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["entries"])')
    cat "$jdir"/*.journal > /dev/null
    suites=files,journal
    JOURNAL_ARGS=(--journal-dir "$jdir" --journal-entries "$entries")
fi
meta
say "matching: every tool's count checked, then $ROUNDS timed rounds"
rc=0
STRICT=()
[ "$MODE" = check ] && STRICT=(--strict)
BANJO=$BANJO BANJO_BEFORE=$BEFORE "$PY" "$BENCH/runner.py" --work "$WORK" --logs "$LOGS" --out "$OUT" --rounds "$ROUNDS" --cpu "$CPU" \
    --suites "$suites" "${JOURNAL_ARGS[@]}" "${STRICT[@]}" || rc=$?
if has daemon && [ "$MODE" != check ]; then
    say "daemon: bench/daemon.py"
    # isolated failures are 1.5 s apart on the journal: 300 of them take 7.5 minutes
    if [ "$MODE" = full ]; then sizes=(--bans 1000 --isolated 300 --restore 100000 --entries 1000000)
    else sizes=(--bans 200 --isolated 40 --idle-s 20 --restore 20000 --entries 100000); fi
    [ -n "$BEFORE" ] && sizes+=(--before "$BEFORE")
    "$PY" "$BENCH/daemon.py" "$BANJO" "${sizes[@]}" --json "$OUT/daemon.json" || rc=$?
fi
[ -s "$OUT/runs.tsv" ] || exit $rc
say "report"
REPORT=()
[ "$MODE" = check ] && REPORT=(--no-chart)
[ "$MODE" = full ] && REPORT=(--readme "$REPO/README.md")
"$PY" "$BENCH/report.py" "$OUT" "${REPORT[@]}"
case $MODE in
    check) [ $rc = 0 ] && echo "bench --check: every count equals the truth ($OUT)" ;;
    full) echo "bench: FULL run ($LINES lines, $ROUNDS rounds): $OUT/summary.md, $OUT/chart.svg; README.md updated" ;;
    quick) echo "bench: quick run ($LINES lines, $ROUNDS rounds; make bench FULL=1 for the 1M-line suite): $OUT/summary.md, $OUT/chart.svg" ;;
esac
exit $rc
