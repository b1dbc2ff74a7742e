#!/bin/sh
# Boots tests/pppd/guest-init.sh over the run directory RUN (which holds
# its env file): on the host kernel in private mount, PID and network
# namespaces (and a private /dev) when this kernel has PPP, otherwise as PID 1 of a User-Mode Linux guest whose
# kernel scripts/uml-kernel.sh chooses. Used by the demo, the real-pppd
# tests and bench/connect.
#
# Usage: boot.sh RUN SECONDS MEMORY
# The guest's console goes to standard output; which kernel runs it, and
# why, to standard error and RUN/boot.log. RASSTATIC_BOOT=uml boots UML
# even where the host kernel has PPP. Exit status: that of the boot (the
# guest's own status does not come back; callers look for RUN/finished),
# 1 when no UML kernel boots here.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUN=$1
SECONDS_=$2
MEM=$3
INIT=$ROOT/tests/pppd/guest-init.sh
# A checkout may lose the executable bit; the guest's init needs it.
chmod 755 "$INIT"
# A kernel with PPP has the /dev/ppp character device, and it opens.
if [ "${RASSTATIC_BOOT:-auto}" != uml ] && [ -c /dev/ppp ] && ( exec 9<>/dev/ppp ) 2>/dev/null; then
    echo "boot: this kernel has PPP: running on it in private namespaces" | tee "$RUN/boot.log" >&2
    exec timeout -k 10 "$SECONDS_" unshare -m -p -f -n --mount-proc sh "$INIT" --host "$RUN"
fi
# The choice (or why nothing boots) goes to the console and to RUN/boot.log.
st=0
K=$(sh "$ROOT/scripts/uml-kernel.sh" 2> "$RUN/boot.log") || st=$?
cat "$RUN/boot.log" >&2
[ "$st" = 0 ] || exit 1
eval "$K"
exec timeout -k 10 "$SECONDS_" "$UML_KERNEL" mem="$MEM" root=/dev/root rootfstype=hostfs rootflags=/ rw quiet \
    init="$INIT" rasstatic.run="$RUN" rasstatic.modules="$UML_MODULES" \
    con=null con0=fd:0,fd:1 < /dev/null
