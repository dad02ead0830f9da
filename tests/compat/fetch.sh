#!/bin/bash
# Fetches Debian's fail2ban package and unpacks it into DIR/root (default target/compat), once:
# its filter.d and the annotated sample logs of its test suite are what `make compat` checks
# banjo against. Needs apt (and the network the first time); nothing is installed.
set -euo pipefail
dir=${1:-target/compat}
root=$dir/root
if [ -d "$root/etc/fail2ban/filter.d" ]; then
  exit 0
fi
mkdir -p "$dir"
cd "$dir"
rm -rf root.tmp ./fail2ban_*.deb
if ! apt-get download fail2ban 2>/dev/null; then
  apt-get update -qq
  apt-get download fail2ban
fi
dpkg-deb -x fail2ban_*.deb root.tmp
# fail2ban's test filters (tests/config/filter.d/zzz-*.conf) include
# ../../../../../../../config/filter.d/common.conf, the source tree's place for it; Debian's layout
# drops that directory, so point it at the packaged common.conf.
mkdir -p root.tmp/usr/config
ln -s ../../etc/fail2ban/filter.d root.tmp/usr/config/filter.d
mv root.tmp root
echo "unpacked $(ls fail2ban_*.deb) into $root"
