# Helpers for the PPTP scenarios, sourced after lib.sh and pppoe.sh (for
# fail, plugin_as_installed, slog, notified, released_by, lease_pid,
# server_pppds, dead_holders, running): Debian 12's pptpd (PPTP 1.4.0) on
# one end of a veth pair (v0, 172.30.0.1, in the guest's own network
# namespace), spawning the pppd under test with the plugin through
# pptpctrl, one per call; the callers are pptp-linux's `pptp` as the pty of
# a pppd in the network namespace "cli" on the other end (v1), each from
# its own address (172.30.0.11, .12, ...), so that each has its own control
# connection, as callers from different hosts have.
#
# pptpd and pptp both carry the PPP frames in GRE through raw sockets of
# their own: no kernel module beyond the pty's ppp_async.
PPTPD=/usr/sbin/pptpd
PPTPCTRL=/usr/sbin/pptpctrl
PPTP=/usr/sbin/pptp
PPTP_SRV=172.30.0.1

# pptp_setup: check what the scenarios need and make the veth pair with
# the callers' addresses.
pptp_setup() {
    for t in "$PPTPD" "$PPTPCTRL"; do
        [ -x "$t" ] || fail "$t not found: install Debian's pptpd package"
    done
    [ -x "$PPTP" ] || fail "$PPTP not found: install Debian's pptp-linux package"
    ip netns add cli || fail "ip netns add cli failed"
    ip link add v0 type veth peer name v1 netns cli || fail "no veth pair (veth.ko not loaded?)"
    ip addr add $PPTP_SRV/24 dev v0
    ip link set v0 up
    ip -n cli link set lo up
    for n in 1 2 3 4 5 6 7 8 9; do ip -n cli addr add 172.30.0.1$n/24 dev v1; done
    ip -n cli link set v1 up
    trap pptp_teardown EXIT
}

# pptp_teardown: nothing of the scenario left (the runner only kills
# pppd, socat and the watchdog).
pptp_teardown() {
    pkill -9 -x pptpd
    pkill -9 -x pptpctrl
    pkill -9 -x pptp
    pkill -9 -x pppd
    ip netns del cli 2> /dev/null
    ip link del v0 2> /dev/null
    return 0
}

# pptp_options POOL [OPTIONS...]: the pppd options file pptpd.conf's
# `option` names, one per line; the server's end of every call is
# 10.0.0.1, given here since `delegate` leaves addressing to pppd.
pptp_options() {
    pool=$1; shift
    {
        echo "plugin $(plugin_as_installed)"
        echo "rasstatic-dir $TDIR"
        echo "rasstatic-pool $pool"
        echo "10.0.0.1:"
        for o in noauth noipv6 debug nodefaultroute "lcp-restart 1" "ipcp-restart 1" \
                 "lcp-echo-interval 1" "lcp-echo-failure 3" "$@"; do
            echo "$o"
        done
    } > "$OUT/pptpd-options"
}

# pptpd_conf [LINES...]: pptpd.conf naming the options file above and the
# pppd under test, then LINES (the scenarios' own: `delegate`, so that
# pptpd passes pppd no address, or `localip`/`remoteip`).
pptpd_conf() {
    {
        echo "option $OUT/pptpd-options"
        echo "ppp $PPPD"
        echo "connections 8"
        echo "listen $PPTP_SRV"
        echo "pidfile /run/pptpd.pid"
        for l in "$@"; do echo "$l"; done
    } > "$OUT/pptpd.conf"
}

# pptpd_start N: pptpd in the foreground (role pptpd) with $OUT/pptpd.conf.
pptpd_start() {
    launch pptpd $1 "$PPTPD" -f -c "$OUT/pptpd.conf"
    # Until it listens on the PPTP port.
    for _ in $(seq 50); do
        ss -ltn 2> /dev/null | grep -q "$PPTP_SRV:1723 " && return 0
        sleep 0.1
    done
    fail "pptpd $1 does not listen on $PPTP_SRV:1723: $(cat "$OUT/pptpd.$1.out")"
}
pptpd_pid() { cat "$OUT/pptpd.$1.pid"; }

# The callers' options.
PPTP_CLI="nodetach noauth noipv6 noipdefault lcp-restart 1 ipcp-restart 1 nodefaultroute"
# pptp_caller N [OPTIONS...]: a PPTP caller in namespace cli, from
# 172.30.0.1N.
pptp_caller() {
    n=$1; shift
    keep client $n
    launch client $n ip netns exec cli /usr/sbin/pppd \
        pty "$PPTP $PPTP_SRV --nolaunchpppd --nohostroute --localbind 172.30.0.1$n --logstring caller$n" \
        $PPTP_CLI logfile "$OUT/client.$n.log" "$@"
}

# caller_result N [SECONDS]: the address caller N got, or "none" once it
# has ended without one (or after SECONDS).
caller_result() {
    for _ in $(seq $((${2:-30} * 10))); do
        if grep -q "local  IP address" "$OUT/client.$1.log" 2> /dev/null; then
            sed -n 's/^local  IP address //p' "$OUT/client.$1.log" | tail -1
            return 0
        fi
        [ -s "$OUT/client.$1.status" ] && break
        sleep 0.1
    done
    echo none; return 1
}

# pptpctrls: the PIDs of the running pptpctrl processes, sorted.
pptpctrls() { pgrep -x pptpctrl | sort -n | tr '\n' ' '; }
# ppid PID: the parent of PID ("gone" once it has ended).
ppid() { cut -d' ' -f4 /proc/$1/stat 2> /dev/null || echo gone; }
# syslog_count PATTERN: how many lines of the scenario's syslog match.
syslog_count() {
    sed 's/<[0-9]\{1,3\}>/\n/g' "$OUT/syslog" | grep -ac -- "$1"
}
