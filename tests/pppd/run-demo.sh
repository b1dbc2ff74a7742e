#!/bin/sh
# Boots the demo dial-in server: User-Mode Linux when this kernel has no
# PPP, otherwise the host kernel in a private mount namespace. Run by
# ./demo.sh after the release build.
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
# A kernel with PPP has the /dev/ppp character device, and it opens.
if [ -c /dev/ppp ] && ( exec 9<>/dev/ppp ) 2>/dev/null; then
    timeout 300 unshare -m sh "$ROOT/tests/pppd/guest-init.sh" --host "$RUN"
else
    echo "(this kernel has no PPP: booting User-Mode Linux, about 2 s)"
    timeout 300 linux.uml mem=512M root=/dev/root rootfstype=hostfs rootflags=/ rw quiet \
        init="$ROOT/tests/pppd/guest-init.sh" rasstatic.run="$RUN" con=null con0=fd:0,fd:1 < /dev/null \
        | sed -n '/== rasstatic demo/,$p' | grep -v -e '^Powering off' -e '^reboot: ' || true
fi
[ -f "$RUN/finished" ] || { echo "demo did not finish; see $RUN/guest.log" >&2; exit 1; }
