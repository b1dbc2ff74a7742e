#!/bin/sh
# Boots the demo dial-in server (tests/pppd/boot.sh: User-Mode Linux when
# this kernel has no PPP, otherwise the host kernel in a private mount
# namespace). Run by ./demo.sh after the release build.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUN=$ROOT/target/demo-run
rm -rf "$RUN"; mkdir -p "$RUN"
cat > "$RUN/env" <<E
PLUGIN=$ROOT/target/release/librasstatic.so
RASSTATIC=$ROOT/target/release/rasstatic
PPPD=/usr/sbin/pppd
LIB=$ROOT/tests/pppd/lib.sh
DEMO=$ROOT/tests/pppd/demo-guest.sh
SCENARIOS=""
export PLUGIN RASSTATIC PPPD LIB
E
# The guest's console shows the demo; the boot messages around it are cut.
sh "$ROOT/tests/pppd/boot.sh" "$RUN" 300 512M \
    | sed -n '/== rasstatic demo/,$p' | grep -v -e '^Powering off' -e '^reboot: ' || true
[ -f "$RUN/finished" ] || { echo "demo did not finish; see $RUN/guest.log" >&2; exit 1; }
