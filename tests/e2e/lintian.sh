#!/bin/bash
# Debian 13's lintian on the package: a cached trixie rootfs with lintian (mmdebstrap), the
# package's directory bind-mounted read-only, lintian run as nobody in a chroot with its own
# mount and pid namespaces. Fails on errors and warnings; info tags are shown.
# The binary package is checked (debian/banjo.lintian-overrides applies to it); the .changes
# and the -dbgsym package add only bogus-mail-host for the placeholder maintainer address,
# which the overrides explain and which cannot be overridden there.
# Needs root. Usage: tests/e2e/lintian.sh path/to/banjo_*.deb
set -euo pipefail
HERE=$(dirname "$(realpath "$0")")
source "$HERE/lib.sh"
PKG=$(realpath "$1")
[ "$(id -u)" = 0 ] || { echo "lintian.sh: needs root (chroot)" >&2; exit 2; }
need_tools
E2E_PACKAGES=lintian                       # not the e2e list: a rootfs of its own
LINT=$(rootfs trixie)
echo "lintian $(chroot "$LINT" dpkg-query -W -f='${Version}' lintian) (Debian 13) on $(basename "$PKG"):"
unshare --mount --pid --fork --propagation private bash -euo pipefail -c '
  lint=$1 dir=$2 pkg=$3
  mount --bind -o ro "$dir" "$lint/mnt"
  mount -t proc proc "$lint/proc"
  mount -t tmpfs tmpfs "$lint/tmp"
  exec chroot --userspec=65534:65534 "$lint" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C.UTF-8 \
    lintian --display-info --fail-on error,warning "/mnt/$pkg"
' _ "$LINT" "$(dirname "$PKG")" "$(basename "$PKG")"
