#!/bin/bash
# banjo end-to-end test: the .deb installed into booted Debian containers, one per suite
# (Debian 13 trixie and Debian 12 bookworm by default), the same checks on each, run side by
# side. Each container is systemd-nspawn on a cached mmdebstrap rootfs with its own network
# namespace (--private-network: the host's ruleset and journal are never touched), a
# throw-away overlay (--volatile=overlay) and the .deb bind-mounted read-only; nsenter drives
# it from outside. The checks are tests/e2e/checks.sh (one function per group); a suite is
# tests/e2e/suite.sh. Beside them, Debian 13's lintian checks the package (tests/e2e/lintian.sh:
# errors and warnings fail).
# Needs root. Usage: tests/e2e/run.sh [path/to/banjo_*.deb]
#   E2E_SUITES   the suites (default "trixie bookworm")
#   E2E_SERIAL=1 one suite after the other instead of side by side
#   E2E_CACHE    rootfs cache (default /var/tmp/banjo-e2e); a rootfs is built when missing
#   E2E_REBUILD_DEB=1  build the .deb even if target/deb/ has one
#   E2E_LINTIAN=0      skip lintian
set -euo pipefail

cd "$(dirname "$0")/../.."
HERE=tests/e2e
source $HERE/lib.sh
SUITES=${E2E_SUITES:-trixie bookworm}

[ "$(id -u)" = 0 ] || { echo "e2e: needs root" >&2; exit 2; }
need_tools

DEB=${1:-}
if [ -z "$DEB" ]; then
  DEB=$(ls -t target/deb/banjo_*.deb 2>/dev/null | head -1 || true)
  if [ -z "$DEB" ] || [ "${E2E_REBUILD_DEB:-0}" = 1 ]; then
    make deb
    DEB=$(ls -t target/deb/banjo_*.deb | head -1)
  fi
fi
DEB=$(realpath "$DEB")
phase "package: $DEB"

LINT=${E2E_LINTIAN:-1}

# rootfs first (built concurrently when missing: a fresh machine builds all at once), then the
# suites and lintian side by side
declare -A ROOTS
# the cache holds the answer files too: it must exist before their redirections (a fresh machine)
mkdir -p "$CACHE"
for s in $SUITES; do rootfs "$s" > "$CACHE/.root-$s-$$" & done
if [ "$LINT" = 1 ]; then (E2E_PACKAGES=lintian rootfs trixie >/dev/null) & fi
wait
for s in $SUITES; do ROOTS[$s]=$(cat "$CACHE/.root-$s-$$"); rm -f "$CACHE/.root-$s-$$"; done
phase "rootfs: ${ROOTS[*]}"

LOGS=$(mktemp -d /tmp/banjo-e2e-logs.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait; rm -rf "$LOGS"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
for s in $SUITES; do
  if [ "${E2E_SERIAL:-0}" = 1 ]; then
    bash $HERE/suite.sh "$s" "${ROOTS[$s]}" "$DEB" debian/tests > "$LOGS/$s.log" 2>&1 || true
  else
    bash $HERE/suite.sh "$s" "${ROOTS[$s]}" "$DEB" debian/tests > "$LOGS/$s.log" 2>&1 &
    PIDS+=($!)
  fi
done
LINT_RC=0
if [ "$LINT" = 1 ]; then bash $HERE/lintian.sh "$DEB" > "$LOGS/lintian.log" 2>&1 || LINT_RC=$?; fi
for p in "${PIDS[@]}"; do wait "$p" || true; done
PIDS=()

pass=0 fail=0 summary=""
for s in $SUITES; do
  echo "=== $s"
  cat "$LOGS/$s.log"
  line=$(grep -E "^e2e $s: [0-9]+ passed, [0-9]+ failed$" "$LOGS/$s.log" | tail -1 || true)
  if [ -z "$line" ]; then line="e2e $s: 0 passed, 1 failed (no result: the suite stopped early)"; fi
  summary="$summary$line"$'\n'
  set -- $line
  pass=$((pass + $3)); fail=$((fail + $5))
done
if [ "$LINT" = 1 ]; then
  echo "=== lintian"
  cat "$LOGS/lintian.log"
  if [ "$LINT_RC" = 0 ]; then pass=$((pass + 1)); line="e2e lintian: 1 passed, 0 failed"; else
    fail=$((fail + 1)); line="e2e lintian: 0 passed, 1 failed"; fi
  summary="$summary$line"$'\n'
fi
phase "suites done"
printf '%s' "$summary"
echo "e2e: $pass passed, $fail failed"
[ "$fail" = 0 ]
