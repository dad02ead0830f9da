#!/bin/bash
# banjo e2e, one suite: boots a container from ROOT, installs the .deb and runs the check
# groups of checks.sh in order. Usage: suite.sh SUITE ROOT DEB DEBIAN_TESTS_DIR
# Prints PASS/FAIL lines and, last, "e2e SUITE: N passed, M failed"; exits 1 on a failure.
set -euo pipefail
SUITE=$1 ROOT=$2 DEB=$3 TESTS=$4
HERE=$(dirname "$(realpath "$0")")
source "$HERE/lib.sh"
source "$HERE/checks.sh"
source "$HERE/notify.sh"

# The groups, in order; each leaves banjo running for the next.
GROUPS_IN_ORDER="install notify_unconfigured ban_from_journal metrics_and_catalog socket_activation
                 reload_restart_stop broken_config sshd_maxauthtries notify autopkgtest reinstall purge
                 notify_purged"

WORK=$(mktemp -d "$CACHE/run-$SUITE.XXXXXX")
SHARE=$WORK/share
mkdir -p "$SHARE"
cp "$DEB" "$SHARE/banjo.deb"
cp -r "$TESTS" "$SHARE/tests"

finish() {
  local rc=$?
  teardown
  if [ "$rc" != 0 ] && [ -s "$WORK/console.log" ]; then echo "--- container console (tail)"; tail -30 "$WORK/console.log"; fi
  rm -rf "$WORK"
  phase "container stopped, cgroups and work dir removed"
  if [ "$rc" != 0 ] && [ "$FAIL" = 0 ]; then FAIL=1; echo "  FAIL: the suite stopped early (exit $rc)"; fi
  echo "e2e $SUITE: $PASS passed, $FAIL failed"
  [ "$FAIL" = 0 ] && [ "$rc" = 0 ] || exit 1
}
trap finish EXIT
trap 'exit 130' INT TERM

phase "$SUITE: rootfs $ROOT"
boot "$ROOT" "banjo-e2e-$SUITE-$$" "$SHARE"
echo "  $SUITE: $(IN systemctl --version | head -1), $(IN nft --version), $(IN sshd -V 2>&1 | cut -d, -f1)"
for group in $GROUPS_IN_ORDER; do
  "group_$group" || bad "group $group stopped early"
done
