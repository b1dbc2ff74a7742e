#!/bin/sh
# PID 1 of the User-Mode Linux guest that scripts/test-package.sh boots on
# a clean Debian root where the rasstatic package is installed. Everything
# it runs is the root's own: the installed pppd, plugin and command.
# Writes one "ok CHECK" / "FAIL CHECK: why" line per check into
# /var/tmp/pkgtest/results, and /var/tmp/pkgtest/finished at the end.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C
P=/var/tmp/pkgtest
# /run first, unrecorded (-n): mount(8) keeps its records there, and the
# root's own /run must stay as the install left it.
mount -n -t tmpfs -o size=64m,mode=755 tmpfs /run
mount -t proc proc /proc
mount -t sysfs sys /sys
mountpoint -q /dev || mount -t devtmpfs dev /dev
mkdir -p /dev/pts
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mkdir -p /run/lock
exec > "$P/guest.log" 2>&1
: > "$P/results"
ok() { echo "ok $1" >> "$P/results"; }
fail() { echo "FAIL $1: $2" >> "$P/results"; }
check() { n=$1; shift; if out=$("$@" 2>&1); then ok "$n"; else fail "$n" "$(echo "$out" | tail -3 | tr '\n' ' ')"; fi; }
finish() {
    rm -f /etc/ppp/peers/pkgtest
    cp /run/syslog "$P/syslog" 2>/dev/null
    echo finished > "$P/finished"
    sync
    poweroff -f
}

# Modules from the booted kernel's own directory, with what they depend on.
M=$P/modules/$(uname -r)
. "$P/modules.sh"
echo "kernel $(uname -r)"
load ppp_async
ip link set lo up
[ -c /dev/ppp ] || { fail dev-ppp "no /dev/ppp after loading ppp_async"; finish; }
# A syslog on /dev/log, as on a server, for pppd's and the plugin's logs.
socat -u UNIX-RECV:/dev/log,unlink-early,mode=666 OPEN:/run/syslog,creat,append < /dev/null > /dev/null 2>&1 &
for _ in $(seq 50); do [ -S /dev/log ] && break; sleep 0.02; done

# At boot, systemd-tmpfiles creates /run/rasstatic from the package's entry.
check tmpfiles-boot systemd-tmpfiles --create rasstatic.conf
check run-dir-mode sh -c '[ "$(stat -c "%a %U" /run/rasstatic)" = "700 root" ]'

# The dial-in line's options, as an administrator writes them.
cat > /etc/ppp/peers/pkgtest <<'OPTS'
noauth
local
noipv6
silent
lcp-restart 1
ipcp-restart 1
plugin rasstatic.so
rasstatic-pool 10.77.0.10-10.77.0.19
10.77.0.1:
OPTS
check check-peers-file rasstatic check /etc/ppp/peers/pkgtest
D=/run/lines
mkdir -p $D
# line N: a pty pair, the dial-in pppd on sN, the caller on cN; sets
# SERVER and CALLER to their PIDs.
line() {
    socat PTY,link=$D/s$1,raw,echo=0 PTY,link=$D/c$1,raw,echo=0 < /dev/null > /dev/null 2>&1 &
    for _ in $(seq 100); do [ -e $D/s$1 ] && [ -e $D/c$1 ] && break; sleep 0.05; done
    pppd $D/s$1 call pkgtest nodetach < /dev/null > $P/server$1.log 2>&1 &
    SERVER=$!
    pppd $D/c$1 nodetach noauth local noipv6 noipdefault lcp-restart 1 ipcp-restart 1 \
        < /dev/null > $P/caller$1.log 2>&1 &
    CALLER=$!
}
# leased_to ADDRESS PID: the table shows ADDRESS leased to PID.
leased_to() {
    rasstatic show --json > $P/show.json 2>&1 &&
        tr -d '\n ' < $P/show.json | grep -q "\"address\":\"$1\",\"state\":\"leased\",\"pid\":$2,"
}
# up ADDRESS SERVER: wait (20 s at most) until the caller has ADDRESS and
# the table shows it leased to the dial-in pppd SERVER.
up() {
    for _ in $(seq 200); do
        ip -4 -o addr show | grep -q "inet $1 peer 10.77.0.1" && leased_to "$1" "$2" && return 0
        sleep 0.1
    done
    return 1
}
gone() { # gone PID...: wait (10 s at most) until none of them runs
    for _ in $(seq 100); do
        still=""
        for p in "$@"; do kill -0 "$p" 2>/dev/null && still=1; done
        [ -z "$still" ] && return 0
        sleep 0.1
    done
    return 1
}

# A call through the installed pppd and plugin.
line 0
S0=$SERVER C0=$CALLER
t0=$(date +%s.%N)
if up 10.77.0.10 $S0; then
    ok "call-up 10.77.0.10 leased to the dial-in pppd in $(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $t0 }") s"
else
    fail call-up "no lease of 10.77.0.10 to pppd $S0: $(cat $P/show.json 2>/dev/null | head -5 | tr '\n' ' ')"
    finish
fi
if grep -q '/usr/lib/pppd/[0-9.]*/rasstatic\.so' /proc/$S0/maps; then
    ok plugin-loaded-from-installed-path
else
    fail plugin-loaded-from-installed-path "$(grep rasstatic /proc/$S0/maps | head -1)"
fi
check watchdog-running pgrep -x rasstatic-wd

# An upgrade (here: the same package again) with the call up: dpkg
# replaces the plugin file, the running pppd keeps the one it mapped, and
# the lease stays.
if dpkg -i $P/rasstatic.deb > $P/reinstall.log 2>&1; then ok reinstall-with-call-up; else
    fail reinstall-with-call-up "$(tail -3 $P/reinstall.log | tr '\n' ' ')"; fi
check lease-kept-through-reinstall leased_to 10.77.0.10 $S0
check pppd-alive-through-reinstall kill -0 $S0
check running-pppd-keeps-old-plugin grep -q 'rasstatic\.so (deleted)' /proc/$S0/maps
# A second call, on the new plugin, shares the table with the first.
line 1
S1=$SERVER C1=$CALLER
if up 10.77.0.11 $S1; then ok second-call-after-reinstall; else
    fail second-call-after-reinstall "$(cat $P/show.json 2>/dev/null | head -5 | tr '\n' ' ')"; fi

# Removal with calls up: the tables and the sessions stay.
if dpkg -r rasstatic > $P/remove.log 2>&1; then ok remove-with-calls-up; else
    fail remove-with-calls-up "$(tail -3 $P/remove.log | tr '\n' ' ')"; fi
check removed-command-gone sh -c '! [ -e /usr/sbin/rasstatic ]'
check table-kept-after-remove test -f /run/rasstatic/default.table
check pppds-alive-after-remove kill -0 $S0 $S1
check calls-up-after-remove sh -c 'ip -4 -o addr show | grep -q "inet 10.77.0.10 peer" && ip -4 -o addr show | grep -q "inet 10.77.0.11 peer"'
# The callers hang up; the dial-in pppds give the addresses back with the
# plugin they loaded, although its file is gone.
kill -TERM $C0 $C1
if gone $S0 $S1 $C0 $C1; then ok hang-up; else fail hang-up "pppds still running"; fi
if dpkg -i $P/rasstatic.deb > $P/install-again.log 2>&1; then ok install-again; else
    fail install-again "$(tail -3 $P/install-again.log | tr '\n' ' ')"; fi
if rasstatic show --json > $P/show.json 2>&1 && tr -d '\n ' < $P/show.json | grep -q '"leased":0,"stale":0,' &&
        [ "$(tr -d '\n ' < $P/show.json | grep -o '"released_by":"ip-down"' | wc -l)" = 2 ]; then
    ok released-after-hang-up
else
    fail released-after-hang-up "$(tr -d '\n' < $P/show.json | head -c 600)"
fi

# Purge with no session left: the watchdog is stopped, /run/rasstatic goes.
if dpkg --purge rasstatic > $P/purge.log 2>&1; then ok purge-in-guest; else
    fail purge-in-guest "$(tail -3 $P/purge.log | tr '\n' ' ')"; fi
check run-dir-gone-after-purge sh -c '! [ -e /run/rasstatic ]'
sleep 0.3
check watchdog-stopped-by-purge sh -c '! pgrep -x rasstatic-wd'
# Installed again for the purge in the chroot after this boot.
check install-after-purge dpkg -i $P/rasstatic.deb
finish
