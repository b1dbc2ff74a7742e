#!/bin/sh
# Runs the real-pppd scenarios (or the demo), booted by tests/pppd/boot.sh.
#
# UML mode: PID 1 of a User-Mode Linux guest whose root is the host's
# filesystem (hostfs); the run directory and the kernel's module directory
# come from the kernel command line (rasstatic.run=DIR,
# rasstatic.modules=DIR). Host mode (`guest-init.sh --host DIR`, inside
# `unshare -m` on a machine whose kernel has PPP): the same, without booting.
#
# DIR/env names the plugin, the admin command and the scenarios. Each
# scenario writes into DIR/<scenario>/ and its exit status into
# DIR/<scenario>/status; DIR/finished marks the end of the run.
#
# The guest looks like a dial-in server where the product could behave
# differently: a syslog listens on /dev/log (so pppd's syslog socket takes
# descriptor 3, as on a server with journald or rsyslog), pppd inherits no
# descriptor beyond 0-2 from this script, and /run is a small fresh tmpfs.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
# Nothing a harness left open reaches pppd (dash closes 3-9; the Rust
# harness and boot.sh open nothing else without close-on-exec).
for fd in 3 4 5 6 7 8 9; do eval "exec $fd>&-"; done
if [ "${1:-}" = "--host" ]; then
    # boot.sh runs this in new mount, PID and network namespaces: the
    # scenarios' pkill, interfaces and routes stay inside them. /dev is
    # made private too, so that the scenarios' syslog on /dev/log does not
    # replace the host's.
    MODE=host
    RUN=$2
    mount --make-rprivate /
    mount -t tmpfs -o mode=755,size=1m dev /dev
    for n in "null 1 3 666" "zero 1 5 666" "random 1 8 666" "urandom 1 9 666" \
             "tty 5 0 666" "ppp 108 0 600"; do
        set -- $n
        mknod -m "$4" "/dev/$1" c "$2" "$3"
    done
    mkdir -p /dev/pts /dev/shm
    mount -t devpts -o newinstance,gid=5,mode=620,ptmxmode=666 devpts /dev/pts
    ln -s pts/ptmx /dev/ptmx
    mount -t tmpfs -o mode=1777 shm /dev/shm
    ip link set lo up
else
    MODE=uml
    mount -t proc proc /proc
    mount -t sysfs sys /sys
    mountpoint -q /dev || mount -t devtmpfs dev /dev
    mkdir -p /dev/pts
    mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
    RUN=$(sed -n 's/.*rasstatic\.run=\([^ ]*\).*/\1/p' /proc/cmdline)
    MODULES=$(sed -n 's/.*rasstatic\.modules=\([^ ]*\).*/\1/p' /proc/cmdline)
fi
# Fresh /run (small, as on a server) and /etc/ppp: Debian's
# /etc/ppp/options and ip-up.d scripts stay out of the tests, and tables
# live on a tmpfs as in production. (/tmp stays the host's: the checkout
# and its target/ may live there.)
mount -t tmpfs -o size=64m,mode=755 tmpfs /run
mount -t tmpfs tmpfs /etc/ppp
mkdir -p /run/lock /var/lock 2>/dev/null

# Modules from the booted kernel's own directory, with what they depend on.
M=${MODULES:-/usr/lib/uml/modules}/$(uname -r)
. "$(dirname "$0")/modules.sh"

setup() {
    echo "mode $MODE, kernel $(uname -r)"
    if [ "$MODE" = uml ]; then
        echo "modules from $M"
        for m in ppp_async dummy veth pppoe l2tp_ppp; do load $m; done
        ip link set lo up
    fi
    [ -c /dev/ppp ] || echo "no /dev/ppp"
}
# syslog FILE: a tiny syslog daemon on /dev/log, writing into FILE.
syslog() {
    rm -f /dev/log
    socat -u UNIX-RECV:/dev/log,unlink-early,mode=666 OPEN:"$1",creat,append < /dev/null > /dev/null 2>&1 &
    for _ in $(seq 50); do [ -S /dev/log ] && return 0; sleep 0.02; done
    echo "no /dev/log"
}

setup > "$RUN/guest.log" 2>&1
. "$RUN/env"
if [ -n "${DEMO:-}" ]; then
    # The demo writes to the console (this script's standard output).
    syslog "$RUN/syslog" >> "$RUN/guest.log" 2>&1
    ( cd "$RUN" && OUT="$RUN" NAME=demo sh "$DEMO" ) 2>&1
    SCENARIOS=""
fi
for s in $SCENARIOS; do
    mkdir -p "$RUN/$s"
    syslog "$RUN/$s/syslog"
    start=$(date +%s.%N)
    ( cd "$RUN/$s" && OUT="$RUN/$s" NAME="$s" timeout -k 5 "$SCENARIO_TIMEOUT" sh "$SCEN_DIR/$s.sh" < /dev/null > "$RUN/$s/trace" 2>&1 )
    echo $? > "$RUN/$s/status"
    end=$(date +%s.%N)
    echo "$s: status $(cat "$RUN/$s/status") in $(awk "BEGIN { printf \"%.1f\", $end - $start }")s"
    # Whatever a scenario left running must not disturb the next one (the
    # syslog listener is a socat too).
    pkill -9 -x pppoe-server; pkill -9 -x pppd; pkill -9 -x pppoe; pkill -9 -x socat; pkill -9 -f pppeer; pkill -9 -x rasstatic-wd
    pkill -9 -x pptpd; pkill -9 -x pptpctrl; pkill -9 -x pptp; pkill -9 -x xl2tpd
    pkill -9 -x rasstatic-agent; pkill -9 -x etcd
    sleep 0.3
done >> "$RUN/guest.log" 2>&1
echo finished > "$RUN/finished"
sync
if [ "$MODE" = uml ]; then
    poweroff -f
fi
