#!/bin/sh
# Fetches Debian 13 (trixie)'s pppoe 4.0 into target/pppoe-4/root without
# touching this machine's apt sources (a private sources list and private
# package lists under target/pppoe-4/apt). Debian 12's pppoe-server 3.15 is
# built without kernel-mode PPPoE (no -k); trixie's has it and runs on
# Debian 12. Safe to run again.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$ROOT/target/pppoe-4
[ -x "$T/root/usr/sbin/pppoe-server" ] && exit 0
mkdir -p "$T/apt/lists/partial" "$T/apt/cache/archives/partial" "$T/debs" "$T/root"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" \
    > "$T/apt/sources.list"
A="-o Dir::Etc::SourceList=$T/apt/sources.list -o Dir::Etc::SourceParts=/dev/null
   -o Dir::State::Lists=$T/apt/lists -o Dir::Cache=$T/apt/cache -o APT::Sandbox::User=root"
echo "fetch-pppoe-4: downloading trixie's pppoe"
timeout 300 apt-get $A update -q > "$T/apt/update.log" 2>&1 || { cat "$T/apt/update.log" >&2; exit 1; }
( cd "$T/debs" && timeout 300 apt-get $A download pppoe )
for d in "$T"/debs/pppoe_4*.deb; do
    [ -f "$d" ] || { echo "fetch-pppoe-4: $d missing" >&2; exit 1; }
    dpkg -x "$d" "$T/root"
done
"$T/root/usr/sbin/pppoe-server" -h 2>&1 | grep -q -- ' -k ' ||
    { echo "fetch-pppoe-4: this pppoe-server has no kernel mode (-k)" >&2; exit 1; }
