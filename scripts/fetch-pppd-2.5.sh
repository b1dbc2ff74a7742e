#!/bin/sh
# Fetches Debian 13 (trixie)'s ppp and ppp-dev 2.5.2 into target/pppd-2.5/root
# without touching this machine's apt sources: a private sources list and
# private package lists under target/pppd-2.5/apt. Safe to run again.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$ROOT/target/pppd-2.5
[ -x "$T/root/usr/sbin/pppd" ] && [ -f "$T/root/usr/include/pppd/pppdconf.h" ] && exit 0
mkdir -p "$T/apt/lists/partial" "$T/apt/cache/archives/partial" "$T/debs" "$T/root"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
    > "$T/apt/sources.list"
A="-o Dir::Etc::SourceList=$T/apt/sources.list -o Dir::Etc::SourceParts=/dev/null
   -o Dir::State::Lists=$T/apt/lists -o Dir::Cache=$T/apt/cache -o APT::Sandbox::User=root"
echo "fetch-pppd-2.5: downloading trixie's ppp and ppp-dev"
apt-get $A update -q > "$T/apt/update.log" 2>&1 || { cat "$T/apt/update.log" >&2; exit 1; }
( cd "$T/debs" && apt-get $A download ppp ppp-dev )
for d in "$T"/debs/ppp_2.5*.deb "$T"/debs/ppp-dev_2.5*.deb; do
    [ -f "$d" ] || { echo "fetch-pppd-2.5: $d missing" >&2; exit 1; }
    dpkg -x "$d" "$T/root"
done
"$T/root/usr/sbin/pppd" --version
