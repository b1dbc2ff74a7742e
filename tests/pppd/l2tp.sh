# Helpers for the L2TP scenarios, sourced after lib.sh: Debian 12's xl2tpd
# as an LNS on one end of a veth pair (v0, 10.1.0.1, in the guest's own
# network namespace) spawning the pppd under test with the plugin, and the
# callers in the network namespace "cli" on the other end (v1): one xl2tpd
# LAC per caller, each with its own address (10.1.0.1N), config, control
# pipe and pid file, dialling out at start (autodial) and running Debian
# 12's pppd. A missing piece fails the scenario, naming it.
#
# Kernel mode: the LNS finds kernel L2TP (l2tp_ppp loaded) and each
# session's pppd loads pppol2tp.so. User-space mode (`force userspace`):
# each session's pppd runs on a pty that xl2tpd feeds. The LACs always use
# kernel L2TP.
#
# xl2tpd runs /usr/sbin/pppd by that path. To make it run the pppd under
# test, the LNS runs in a mount namespace of its own where that pppd is
# bound over /usr/sbin/pppd, and its plugin directory over /usr/lib/pppd
# (for the bare `pppol2tp.so` xl2tpd names): nothing outside changes.
. "$(dirname "$LIB")/pppoe.sh"
XL2TPD=/usr/sbin/xl2tpd
PPPOL2TP=$(ls "$PPPD_ROOT"/usr/lib/pppd/*/pppol2tp.so 2> /dev/null | head -1)
# Control pipes and pid files.
XD=/run/xl2tpd
LNS_OPTS=$OUT/lns-options

# l2tp_setup [-k]: check what the scenario needs (kernel mode with -k) and
# make the veth pair.
l2tp_setup() {
    [ -x "$XL2TPD" ] || fail "$XL2TPD not found: install Debian's xl2tpd package"
    [ -x "$CALLER_PPPD" ] || fail "$CALLER_PPPD not found: install Debian's ppp package"
    # Kernel L2TP: /proc/net/pppol2tp exists once l2tp_ppp.ko is loaded.
    # The callers always use it.
    [ -e /proc/net/pppol2tp ] || fail "no kernel L2TP (/proc/net/pppol2tp): l2tp_ppp.ko not loaded"
    [ -n "$(ls /usr/lib/pppd/*/pppol2tp.so 2> /dev/null)" ] || fail "no pppol2tp.so under /usr/lib/pppd"
    L2TP_MODE=user
    if [ "${1:-}" = -k ]; then
        L2TP_MODE=kernel
        # Each session's pppd loads the L2TP plugin of the pppd under test.
        [ -n "$PPPOL2TP" ] || fail "no pppol2tp.so under $PPPD_ROOT/usr/lib/pppd"
        out=$("$PPPD" plugin "$PPPOL2TP" dryrun 2>&1)
        case $out in
            *"Couldn't load plugin"*) fail "$PPPD cannot load $PPPOL2TP: $(echo "$out" | head -1)" ;;
        esac
    fi
    mkdir -p "$XD"
    ip netns add cli || fail "ip netns add cli failed"
    ip link add v0 type veth peer name v1 netns cli || fail "no veth pair (veth.ko not loaded?)"
    ip addr add 10.1.0.1/24 dev v0
    ip link set v0 up
    ip -n cli link set lo up
    ip -n cli addr add 10.1.0.2/24 dev v1
    ip -n cli link set v1 up
    trap l2tp_teardown EXIT
}

# l2tp_teardown: nothing of the scenario left (the runner only kills
# pppd, socat and the watchdog).
l2tp_teardown() {
    pkill -9 -x xl2tpd
    pkill -9 -x pppd
    ip netns del cli 2> /dev/null
    ip link del v0 2> /dev/null
    return 0
}

# lns_options POOL [OPTIONS...]: the options file the LNS section names
# (pppoptfile), one option per line.
lns_options() {
    pool=$1; shift
    {
        echo "plugin $(plugin_as_installed)"
        echo "rasstatic-dir $TDIR"
        echo "rasstatic-pool $pool"
        for o in noauth noipv6 debug nodefaultroute "lcp-echo-interval 1" "lcp-echo-failure 3" "$@"; do
            echo "$o"
        done
    } > "$LNS_OPTS"
}

# lns_conf [LINES...]: the LNS's xl2tpd.conf: its [global] section (user
# space mode unless l2tp_setup had -k), then the section `[lns default]`
# with LINES, by default the recommended ones.
lns_conf() {
    {
        echo "[global]"
        [ "$L2TP_MODE" = user ] && echo "force userspace = yes"
        echo "[lns default]"
        if [ $# = 0 ]; then
            set -- "local ip = 10.0.0.1" "assign ip = no" "pppoptfile = $LNS_OPTS"
        fi
        for l in "$@"; do echo "$l"; done
    } > "$OUT/xl2tpd.conf"
}

# lns N: the LNS (role lns), in the foreground, with $OUT/xl2tpd.conf,
# running the pppd under test.
lns() {
    rm -f "$XD/lns.ctl"
    launch lns "$1" unshare -m sh -c '
        if [ "$PPPD" != /usr/sbin/pppd ]; then
            mount --bind "$PPPD" /usr/sbin/pppd || exit 1
            mount --bind "${PPPD%/sbin/pppd}/lib/pppd" /usr/lib/pppd || exit 1
        fi
        exec "$0" -D -c "$1" -p "$2" -C "$3"' "$XL2TPD" "$OUT/xl2tpd.conf" "$XD/lns.pid" "$XD/lns.ctl"
    for _ in $(seq 50); do [ -p "$XD/lns.ctl" ] && return 0; sleep 0.1; done
    fail "xl2tpd (LNS $1) did not start: $(tail -3 "$OUT/lns.$1.out" | tr '\n' ';')"
}
lns_pid() { cat "$OUT/lns.$1.pid"; }

# The callers' pppd options: lib.sh's CLI without `local`, a tty option.
L2TP_CLI="noauth noipv6 noipdefault lcp-restart 1 ipcp-restart 1 nodefaultroute lcp-echo-interval 1 lcp-echo-failure 3"
# caller N [LAC LINES...]: an xl2tpd LAC of its own from 10.1.0.1N in
# namespace cli (role lac), calling the LNS at once; its pppd logs to
# $OUT/client.N.log, with $CALLER_OPTS added to its options.
caller() {
    n=$1; shift
    keep client $n
    ip -n cli addr add 10.1.0.1$n/24 dev v1 2> /dev/null
    for o in $L2TP_CLI ${CALLER_OPTS:-} "logfile $OUT/client.$n.log"; do echo "$o"; done > "$OUT/lac.$n.options"
    {
        printf '[global]\nlisten-addr = 10.1.0.1%s\n' $n
        printf '[lac c%s]\nlns = 10.1.0.1\npppoptfile = %s\nautodial = yes\n' $n "$OUT/lac.$n.options"
        for l in "$@"; do echo "$l"; done
    } > "$OUT/lac.$n.conf"
    rm -f "$XD/lac.$n.ctl"
    launch lac $n ip netns exec cli "$XL2TPD" -D -c "$OUT/lac.$n.conf" -p "$XD/lac.$n.pid" -C "$XD/lac.$n.ctl"
}
# cpid N: the PID of caller N's pppd (the one its LAC runs now), or nothing.
cpid() { pgrep -f "file $OUT/lac.$1.options" | head -1; }
# caller_ended N [SECONDS]: wait until caller N's pppd has ended (its log
# says "Connection terminated." and no pppd of caller N runs); print why
# it ended (the first reason in its log), or "running".
caller_ended() {
    wait_for "$OUT/client.$1.log" "Connection terminated" "${2:-15}" > /dev/null || { echo running; return 1; }
    for _ in $(seq 30); do [ -z "$(cpid $1)" ] && break; sleep 0.1; done
    [ -z "$(cpid $1)" ] || { echo running; return 1; }
    grep -aoE 'Could not determine local IP address|LCP terminated by peer|Terminating on signal [0-9]+|No response to [0-9]+ echo-requests|Modem hangup' \
        "$OUT/client.$1.log" | head -1
}
# caller_result N [SECONDS]: caller N's address once its IPCP is up, or
# "none" once its call ended without one (its pppd ended, or its LAC saw
# the call or tunnel closed before starting one).
caller_result() {
    for _ in $(seq $((${2:-15} * 5))); do
        if grep -q 'local  IP address' "$OUT/client.$1.log" 2> /dev/null; then
            sed -n 's/^local  IP address //p' "$OUT/client.$1.log" | tail -1
            return 0
        fi
        grep -q 'Connection terminated' "$OUT/client.$1.log" 2> /dev/null && break
        grep -qE 'Connection closed to|disconnected' "$OUT/lac.$1.out" 2> /dev/null && break
        sleep 0.2
    done
    echo none
}
# lac_ctl N CMD: a command to caller N's LAC through its control pipe.
lac_ctl() { echo "$2" > "$XD/lac.$1.ctl"; }
# lns_mode N: how LNS N says it runs ("kernel", "user", or what it said).
lns_mode() {
    if grep -q 'Using l2tp kernel support' "$OUT/lns.$1.out"; then echo kernel
    elif grep -q 'Not looking for kernel support' "$OUT/lns.$1.out"; then echo user
    else echo "unknown: $(head -3 "$OUT/lns.$1.out" | tr '\n' ';')"
    fi
}

# how_ended PID: why server pppd PID ended, from its syslog lines.
how_ended() {
    slog "$1" | grep -aoE 'No response to [0-9]+ echo-requests|Hangup \(SIGHUP\)|Terminating on signal [0-9]+|LCP terminated by peer|Modem hangup' | head -1
}

# enotconn PID: 1 if server pppd PID found its L2TP socket already
# disconnected by the kernel when it set it up again as LCP went down
# (pppd 2.4.9's pppol2tp.so; pppd then exits with status 1), else 0.
enotconn() {
    slog "$1" | grep -ac 'setsockopt(PPPOL2TP_LNSMODE): Transport endpoint is not connected'
}

# l2tp_sessions POOL [-k]: one LNS (in kernel mode with -k) on a
# three-address pool: three callers get distinct addresses, a fourth is
# refused, a caller hangs up and its address comes back, a session's pppd
# is SIGKILLed and the watchdog frees its address, a caller's LAC closes
# its tunnel. Then, with two sessions up, the LNS is SIGKILLed and started
# again at once, and a new caller dials it; at each step no lease may be
# held by a dead process and no address be on two ppp interfaces.
l2tp_sessions() {
    pool=$1; shift
    l2tp_setup "$@"
    lns_options "$pool"
    lns_conf
    lns 1
    ev "pppd_version $("$PPPD" --version 2>&1 | awk '{ print $3 }')"
    ev "lns_pid $(lns_pid 1)"
    ev "lns_mode $(lns_mode 1)"
    ev "kernel $(uname -r)"
    for n in 1 2 3; do
        caller $n
        a=$(caller_addr $n 30) || fail "caller $n got no address: $(tail -3 "$OUT/lac.$n.out" | tr '\n' ';')"
        ev "addr$n $a"
        eval "A$n=$a"
        eval "S$n=$(lease_pid $a)"
        eval "ev \"spid$n \$S$n\""
    done
    snap three-up
    ev "peers_three $(peers)"
    ev "server_argv $(tr '\0' ' ' < /proc/$S1/cmdline)"
    ev "server_ppid $(cut -d' ' -f4 /proc/$S1/stat)"
    ev "server_version $(slog $S1 | grep -ao 'pppd [0-9.]* started' | head -1)"
    ev "server_ifs $(ip -4 -o addr show | awk '$2 ~ /^ppp/ { print $2 "=" $4 "=" $6 }' | sort | tr '\n' ' ')"

    # A fourth caller: the pool is exhausted, its pppd refuses it.
    caller 4
    ev "client4_status $(caller_ended 4 40)"
    ev "client4_addr $(caller_addr 4 1 | tail -1)"
    ev "exhausted $(sed 's/<[0-9]\{1,3\}>/\n/g' "$OUT/syslog" | grep -ac 'rasstatic: pool exhausted')"
    snap refused
    wait_server_pppds 3
    ev "servers_after_refusal $(server_pppds)"

    # Caller 2 hangs up (its pppd ends); its address comes back and goes
    # to the next caller.
    kill -TERM $(cpid 2)
    ev "client2_status $(caller_ended 2)"
    gone $S2
    ev "hangup_notified $(notified $S2)"
    ev "hangup_released $(released_by $S2)"
    snap after-hangup
    caller 5
    A5=$(caller_addr 5 30) || fail "caller 5 got no address"
    ev "addr5 $A5"
    S5=$(lease_pid $A5)
    ev "spid5 $S5"

    # The pppd serving caller 1 is SIGKILLed: the watchdog frees it.
    ev "kill1 $(kill_freed_us $S1 $A1)"
    gone $S1
    ev "kill_notified $(notified $S1)"
    ev "kill_reaped $(sed 's/<[0-9]\{1,3\}>/\n/g' "$OUT/syslog" | grep -a "reaped $A1 from pid $S1" | sed 's/^.*: reaped/reaped/' | head -1)"
    snap after-kill
    # What the LNS and the caller make of it.
    t0=$(date +%s%N)
    ev "client1_status $(caller_ended 1 20)"
    ev "client1_ms $(( ($(date +%s%N) - t0) / 1000000 ))"
    ev "lns_on_kill $(grep -ao 'pppd terminated for call [0-9]* by signal [0-9]*' "$OUT/lns.1.out" | head -1)"
    ev "peers_after_kill $(peers)"

    # Caller 3 hangs up through its LAC, which closes the tunnel: the LNS
    # ends the session's pppd.
    lac_ctl 3 "d c3"
    ev "client3_status $(caller_ended 3)"
    gone $S3
    ev "lac_hangup_notified $(notified $S3)"
    ev "lac_hangup_released $(released_by $S3)"
    ev "lac_hangup_enotconn $(enotconn $S3)"
    caller 6
    A6=$(caller_addr 6 30) || fail "caller 6 got no address"
    ev "addr6 $A6"
    S6=$(lease_pid $A6)
    ev "spid6 $S6"
    snap two-up

    # The LNS SIGKILLed with sessions 5 and 6 up, and started again at
    # once; a new caller dials it.
    kill -9 $(lns_pid 1)
    ev "lns1_status $(ended lns 1)"
    lns 2
    ev "lns2_mode $(lns_mode 2)"
    ev "restart_servers $(server_pppds)"
    caller 7
    A7=$(caller_addr 7 30) || A7=none
    ev "addr7 $A7"
    S7=$(lease_pid $A7)
    ev "spid7 $S7"
    snap restarted
    ev "restarted_dead $(dead_holders)"
    ev "restarted_peers $(peers)"
    # What becomes of sessions 5 and 6.
    for n in 5 6; do
        eval "s=\$S$n"
        gone $s 20
        ev "old_end$n $(how_ended $s)"
        ev "old_enotconn$n $(enotconn $s)"
        ev "old_notified$n $(notified $s)"
        ev "old_released$n $(released_by $s)"
        ev "old_client$n $(caller_ended $n 20)"
    done
    snap old-gone
    ev "old_gone_servers $(server_pppds)"
    ev "old_gone_dead $(dead_holders)"
    ev "old_gone_peers $(peers)"
    ev "lns2_terminating $(grep -ac 'Terminating pppd' "$OUT/lns.2.out")"
    # Do their LACs (redial is off) or the LNS start anything for them?
    sleep 2
    ev "old_lac_calls $(grep -ac 'local  IP address' "$OUT/client.5.log") $(grep -ac 'local  IP address' "$OUT/client.6.log")"

    # The last caller hangs up.
    kill -TERM $(cpid 7)
    ev "client7_status $(caller_ended 7)"
    wait_no_server_pppds
    ev "notified7 $(notified $S7)"
    snap end
    ev "peers_end $(peers)"
    ev "server_pppds_end $(server_pppds)"
    kill -TERM $(lns_pid 2)
    ev "lns2_status $(ended lns 2)"
}

# l2tp_try N LABEL [LNS LINES...]: check xl2tpd.conf (made with LINES),
# then one caller through a fresh LNS using it; the caller's address (or
# "none"), the session pppd's address pair, the ppp interfaces' peers.
l2tp_try() {
    n=$1; label=$2; shift 2
    lns_conf "$@"
    "$RASSTATIC" check "$OUT/xl2tpd.conf" > "$OUT/check.$label.out" 2>&1
    ev "check_$label $? $(tr '\n' ';' < "$OUT/check.$label.out")"
    lns $n
    caller $n
    ev "addr_$label $(caller_result $n)"
    p=$(server_pppds)
    ev "pair_$label $(for s in $p; do tr '\0' '\n' < /proc/$s/cmdline | grep -a '^[0-9.]*:[0-9.]*$'; done)"
    ev "peers_$label $(peers)"
}
# l2tp_untry N: caller N hangs up (if it is still on), the LNS stops.
l2tp_untry() {
    c=$(cpid $1)
    if [ -n "$c" ]; then kill -TERM $c; gone $c; fi
    wait_no_server_pppds
    kill -TERM $(lns_pid $1)
    ended lns $1 > /dev/null
}
