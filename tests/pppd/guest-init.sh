#!/bin/sh
# Runs the real-pppd scenarios.
#
# UML mode: PID 1 of a User-Mode Linux guest whose root is the host's
# filesystem (hostfs); the run directory comes from the kernel command line
# (rasstatic.run=DIR). Host mode (`guest-init.sh --host DIR`, inside
# `unshare -m` on a machine whose kernel has PPP): the same, without booting.
#
# DIR/env names the plugin, the admin command and the scenarios. Each
# scenario writes into DIR/<scenario>/ and its exit status into
# DIR/<scenario>/status; DIR/finished marks the end of the run.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
if [ "${1:-}" = "--host" ]; then
    MODE=host
    RUN=$2
    mount --make-rprivate /
else
    MODE=uml
    mount -t proc proc /proc
    mount -t sysfs sys /sys
    mountpoint -q /dev || mount -t devtmpfs dev /dev
    mkdir -p /dev/pts
    mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
    RUN=$(sed -n 's/.*rasstatic\.run=\([^ ]*\).*/\1/p' /proc/cmdline)
fi
# Fresh /run and /etc/ppp: Debian's /etc/ppp/options and ip-up.d scripts
# stay out of the tests, and tables live on a tmpfs as in production. (/tmp
# stays the host's: the checkout and its target/ may live there.)
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /etc/ppp
mkdir -p /run/lock /var/lock 2>/dev/null
# fd 3 keeps the console for the demo; everything else goes to the log.
exec 3>&1 > "$RUN/guest.log" 2>&1
echo "mode $MODE, kernel $(uname -r)"
if [ "$MODE" = uml ]; then
    M=$(echo /usr/lib/uml/modules/*/kernel)
    for m in drivers/net/slip/slhc.ko lib/crc-ccitt.ko drivers/net/ppp/ppp_generic.ko \
             drivers/net/ppp/ppp_async.ko drivers/net/dummy.ko; do
        insmod "$M/$m" || echo "insmod $m failed"
    done
    ip link set lo up
fi
[ -c /dev/ppp ] || echo "no /dev/ppp"
. "$RUN/env"
if [ -n "${DEMO:-}" ]; then
    ( cd "$RUN" && OUT="$RUN" NAME=demo sh "$DEMO" >&3 2>&3 )
    SCENARIOS=""
fi
for s in $SCENARIOS; do
    mkdir -p "$RUN/$s"
    start=$(date +%s.%N)
    ( cd "$RUN/$s" && OUT="$RUN/$s" NAME="$s" timeout -k 5 "$SCENARIO_TIMEOUT" sh "$SCEN_DIR/$s.sh" > "$RUN/$s/trace" 2>&1 )
    echo $? > "$RUN/$s/status"
    end=$(date +%s.%N)
    echo "$s: status $(cat "$RUN/$s/status") in $(awk "BEGIN { printf \"%.1f\", $end - $start }")s"
    # Whatever a scenario left running must not disturb the next one.
    pkill -9 -x pppd; pkill -9 -x socat; pkill -9 -f pppeer
    sleep 0.3
done
echo finished > "$RUN/finished"
sync
if [ "$MODE" = uml ]; then
    poweroff -f
fi
