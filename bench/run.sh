#!/usr/bin/env bash
# make bench: banjo's matcher side by side with its peers (fail2ban-regex, fail2ban-rs, grep,
# a literal-prefiltered Rust matcher) on the same generated logs, in one run, using the peers
# harness in ../shared/bench. Match counts are checked against the generator's ground truth.
#
#   bench/run.sh BANJO_BINARY [SHARED_DIR]
#   LINES=200000 REPS=3 REPS_MERGED=2 make bench     # quicker
#   SUITES="files merged journal" make bench          # default: files merged
set -euo pipefail
BANJO=$(realpath "${1:?usage: bench/run.sh BANJO_BINARY [SHARED_DIR]}")
SHARED=${2:-../shared}
if [ ! -f "$SHARED/bench/peers.sh" ]; then
    echo "bench: the peers harness is not at $SHARED/bench/peers.sh (set SHARED=…)" >&2
    exit 1
fi
export BANJO
export BANJO_TEST_FILTER='{banjo} test-filter {filter} {log}'
export BANJO_MATCH_RE='matched: (\d+)'
export BANJO_JOURNAL_CMD='{banjo} test-filter {filter} --journal-dir {dir}'
# one core, as the peers are measured
exec taskset -c 0 bash "$SHARED/bench/peers.sh" ${SUITES:-files merged}
