#!/bin/sh
# Boots the demo dial-in server (tests/pppd/boot.sh: User-Mode Linux when
# this kernel has no PPP, otherwise the host kernel in private namespaces).
# Run by ./demo.sh after the release build.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUN=$ROOT/target/demo-run
. "$ROOT/tests/pppd/release-env.sh"
release_env "$RUN" "$ROOT/tests/pppd/demo-guest.sh"
# The guest's console shows the demo; the boot messages around it are cut.
sh "$ROOT/tests/pppd/boot.sh" "$RUN" 300 512M \
    | sed -n '/== rasstatic demo/,$p' | grep -v -e '^Powering off' -e '^reboot: ' || true
[ -f "$RUN/finished" ] || { echo "demo did not finish; see $RUN/boot.log and $RUN/guest.log" >&2; exit 1; }
