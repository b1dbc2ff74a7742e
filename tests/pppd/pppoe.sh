# Helpers for the PPPoE scenarios, sourced after lib.sh: rp-pppoe's
# pppoe-server on one end of a veth pair (v0, in the guest's own network
# namespace) spawning the pppd under test with the plugin, and the callers
# (pppd with its own rp-pppoe.so) in the network namespace "cli" on the
# other end (v1). A missing piece fails the scenario, naming it.
#
# User-space mode runs Debian 12's pppoe-server (rp-pppoe 3.15, package
# pppoe), built without kernel mode; kernel mode (-k) runs Debian 13's
# (rp-pppoe 4.0, fetched by scripts/fetch-pppoe-4.sh).
PPPOE_SERVER=/usr/sbin/pppoe-server
PPPOE_SERVER_K=$(cd "$(dirname "$LIB")/../.." && pwd)/target/pppoe-4/root/usr/sbin/pppoe-server
# The PPPoE plugin of the pppd under test, from that pppd's own tree (a
# pppd run by its path finds no plugin by a bare name).
PPPD_ROOT=${PPPD%/usr/sbin/pppd}
RP_PPPOE=$(ls "$PPPD_ROOT"/usr/lib/pppd/*/rp-pppoe.so 2> /dev/null | head -1)
# The callers: Debian 12's pppd and its rp-pppoe.so, whichever pppd serves.
CALLER_PPPD=/usr/sbin/pppd
CALLER_PPPOE=$(ls /usr/lib/pppd/*/rp-pppoe.so 2> /dev/null | head -1)

fail() { log "FAIL: $*"; ev "fail $*"; exit 1; }

# pppoe_setup [-k]: check what the scenario needs (kernel mode with -k)
# and make the veth pair.
pppoe_setup() {
    if [ "${1:-}" = -k ]; then
        PPPOE_SERVER=$PPPOE_SERVER_K
        [ -x "$PPPOE_SERVER" ] || fail "$PPPOE_SERVER not found: run scripts/fetch-pppoe-4.sh"
        # pppoe-server ignores an option it does not know: -k must be listed.
        "$PPPOE_SERVER" -h 2>&1 | grep -q -- ' -k ' || fail "$PPPOE_SERVER has no kernel mode (-k)"
        # Each session's pppd loads the PPPoE plugin.
        [ -n "$RP_PPPOE" ] || fail "no rp-pppoe.so under $PPPD_ROOT/usr/lib/pppd"
        out=$("$PPPD" plugin "$RP_PPPOE" nic-lo dryrun 2>&1)
        case $out in
            *"Couldn't load plugin"*) fail "$PPPD cannot load $RP_PPPOE: $(echo "$out" | head -1)" ;;
        esac
    fi
    [ -x "$PPPOE_SERVER" ] || fail "$PPPOE_SERVER not found: install Debian's pppoe package"
    [ -x /usr/sbin/pppoe ] || fail "/usr/sbin/pppoe not found: install Debian's pppoe package"
    [ -n "$CALLER_PPPOE" ] || fail "no rp-pppoe.so under /usr/lib/pppd"
    # Kernel PPPoE: the callers always use it (rp-pppoe.so), the server
    # with -k. /proc/net/pppoe exists once pppoe.ko is loaded.
    [ -e /proc/net/pppoe ] || fail "no kernel PPPoE (/proc/net/pppoe): pppoe.ko not loaded"
    ip netns add cli || fail "ip netns add cli failed"
    ip link add v0 type veth peer name v1 netns cli || fail "no veth pair (veth.ko not loaded?)"
    ip link set v0 up
    ip -n cli link set lo up
    ip -n cli link set v1 up
    trap pppoe_teardown EXIT
}

# pppoe_teardown: nothing of the scenario left (the runner only kills
# pppd, socat and the watchdog).
pppoe_teardown() {
    pkill -9 -x pppoe-server
    pkill -9 -x pppoe
    pkill -9 -x pppd
    ip netns del cli 2> /dev/null
    ip link del v0 2> /dev/null
    return 0
}

# plugin_as_installed: the plugin under the name it is installed as
# (rasstatic.so, which `rasstatic check` looks for), a link to the build.
plugin_as_installed() {
    ln -sf "$PLUGIN" "$OUT/rasstatic.so"
    echo "$OUT/rasstatic.so"
}

# pppoe_options POOL [OPTIONS...]: the options pppoe-server makes each
# session's pppd read (its -O file), one per line.
pppoe_options() {
    pool=$1; shift
    {
        echo "plugin $(plugin_as_installed)"
        echo "rasstatic-dir $TDIR"
        echo "rasstatic-pool $pool"
        for o in noauth noipv6 debug nodefaultroute "lcp-restart 1" "ipcp-restart 1" \
                 "lcp-echo-interval 1" "lcp-echo-failure 3" "$@"; do
            echo "$o"
        done
    } > "$OUT/pppoe-server-options"
}

# pppoe_server N ARGS...: pppoe-server in the foreground (role pppoes) on
# v0, running the pppd under test with $OUT/pppoe-server-options.
pppoe_server() {
    n=$1; shift
    launch pppoes $n "$PPPOE_SERVER" -F -I v0 -q "$PPPD" -O "$OUT/pppoe-server-options" "$@"
}
pppoes_pid() { cat "$OUT/pppoes.$1.pid"; }

# The callers' options: lib.sh's CLI without `local`, a tty option pppd
# refuses on a PPPoE link.
PPPOE_CLI="nodetach noauth noipv6 noipdefault lcp-restart 1 ipcp-restart 1 nodefaultroute"
# caller N [OPTIONS...]: a PPPoE caller in namespace cli, on v1 (or on
# $NIC).
caller() {
    n=$1; shift
    keep client $n
    launch client $n ip netns exec cli "$CALLER_PPPD" plugin "$CALLER_PPPOE" "nic-${NIC:-v1}" $PPPOE_CLI \
        logfile "$OUT/client.$n.log" "$@"
}

# slog PID: process PID's lines in the scenario's syslog, one a line.
slog() {
    sed 's/<[0-9]\{1,3\}>/\n/g' "$OUT/syslog" | grep -a "\[$1\]: "
}
# notified PID: the notifiers pppd PID reported (the plugin logs them with
# `debug`), comma-separated, in order.
notified() {
    slog "$1" | sed -n 's/.*rasstatic: notified: //p' | tr '\n' ',' | sed 's/,$//'
}
# released PID: how pppd PID released its address ("ADDR (PATH...)").
released_by() {
    slog "$1" | sed -n 's/.*rasstatic: released //p' | head -1
}
# lease_pid ADDR: the PID holding ADDR's lease, or "none".
lease_pid() {
    "$RASSTATIC" show --json --dir "$TDIR" | tr '{' '\n' | grep -a "\"address\":\"$1\"" |
        grep -o '"pid":[0-9]*' | cut -d: -f2 | grep . || echo none
}
# server_pppds: the PIDs of the pppds pppoe-server spawned (every pppd
# outside namespace cli), sorted.
server_pppds() {
    for p in $(pgrep -x pppd); do
        [ "$(cut -d' ' -f3 /proc/$p/stat 2> /dev/null)" != Z ] &&
            [ "$(readlink /proc/$p/ns/net)" = "$(readlink /proc/self/ns/net)" ] && echo $p
    done | sort -n | tr '\n' ' '
}

# wait_server_pppds N [SECONDS]: until N server pppds are left.
wait_server_pppds() {
    for _ in $(seq $((${2:-15} * 10))); do
        [ "$(server_pppds | wc -w)" = "$1" ] && return 0
        sleep 0.1
    done
    log "server pppds running: $(server_pppds)"; return 1
}
# wait_no_server_pppds [SECONDS]: until no server pppd is left.
wait_no_server_pppds() { wait_server_pppds 0 "${1:-15}"; }

# pppoe_sessions POOL [-k]: one pppoe-server (in kernel mode with -k) on a
# three-address pool: three callers get distinct addresses, a fourth is
# refused, a caller hangs up and its address comes back, a session's pppd
# is SIGKILLed and the watchdog frees its address, then everyone hangs up.
pppoe_sessions() {
    pool=$1; shift
    pppoe_setup "$@"
    pppoe_options "$pool"
    # -L/-R as an operator would leave them: pppoe-server passes
    # 10.0.0.1:<its own next address> to each pppd; the plugin overrides
    # the remote part. In kernel mode, -g names the PPPoE plugin of the
    # pppd under test (the default is /etc/ppp/plugins/rp-pppoe.so).
    pppoe_server 1 -L 10.0.0.1 -R 10.67.15.1 -N 8 ${1:+-k -g "$RP_PPPOE"}
    sleep 0.3
    ev "pppoes_pid $(pppoes_pid 1)"
    for n in 1 2 3; do
        caller $n
        a=$(caller_addr $n 30) || fail "caller $n got no address"
        ev "addr$n $a"
        eval "A$n=$a"
        eval "S$n=$(lease_pid $a)"
        eval "ev \"spid$n \$S$n\""
    done
    snap three-up
    ev "peers_three $(peers)"
    ev "server_argv $(tr '\0' ' ' < /proc/$S1/cmdline)"
    ev "server_ppid $(cut -d' ' -f4 /proc/$S1/stat)"
    ev "server_ifs $(ip -4 -o addr show | awk '$2 ~ /^ppp/ { print $2 "=" $4 "=" $6 }' | sort | tr '\n' ' ')"

    # A fourth caller: the pool is exhausted, its pppd refuses it.
    caller 4
    ev "client4_status $(ended client 4 40)"
    ev "exhausted $(sed 's/<[0-9]\{1,3\}>/\n/g' "$OUT/syslog" | grep -ac 'rasstatic: pool exhausted')"
    snap refused
    # The refused pppd ends after its caller has gone (it waits for the
    # LCP Terminate-Ack).
    wait_server_pppds 3
    ev "servers_after_refusal $(server_pppds)"

    # Caller 2 hangs up; its address comes back and goes to the next one.
    kill -TERM $(cpid 2)
    ev "client2_status $(ended client 2)"
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
    # What the caller sees of it (pppoe-server sends a PADT when the pppd
    # it spawned dies; the LCP echoes stop anyway).
    t0=$(date +%s%N)
    ev "client1_status $(ended client 1 20)"
    ev "client1_ms $(( ($(date +%s%N) - t0) / 1000000 ))"
    ev "client1_end $(grep -aE 'PADT|LCP echo|Modem hangup|Connection terminated' "$OUT/client.1.log" | tr '\n' ';')"
    ev "peers_after_kill $(peers)"

    # Everyone hangs up.
    for n in 3 5; do kill -TERM $(cpid $n); done
    for n in 3 5; do ended client $n > /dev/null; done
    wait_no_server_pppds
    ev "notified3 $(notified $S3)"
    snap end
    ev "peers_end $(peers)"
    ev "server_pppds_end $(server_pppds)"
    kill -TERM $(pppoes_pid 1)
    ev "pppoes_status $(ended pppoes 1)"
}

# dead_holders: leases held by no running process ("ADDR:PID"; a lease
# `show` calls stale, its holder dead and not yet reaped, as
# "ADDR:PID(stale)"), space-separated; empty when every lease is held by a
# live pppd (or by the interface of a session whose pid file is gone,
# which lives while the interface does).
dead_holders() {
    "$RASSTATIC" show --json --dir "$TDIR" | tr '{' '\n' | grep -a '"state":"\(leased\|stale\)"' |
        sed 's/.*"address":"\([0-9.]*\)","state":"\([a-z]*\)","pid":\([0-9a-z]*\).*/\1 \2 \3/' |
        while read -r a s p; do
            if [ "$s" = stale ]; then printf '%s:%s(stale) ' "$a" "$p"; continue; fi
            [ "$p" = null ] && continue
            st=$(cut -d' ' -f3 /proc/$p/stat 2> /dev/null)
            [ -n "$st" ] && [ "$st" != Z ] || printf '%s:%s ' "$a" "$p"
        done
}
# running ROLE N: "yes" while a launched process runs, else its status.
running() {
    if [ -s "$OUT/$1.$2.status" ]; then cat "$OUT/$1.$2.status"; else echo yes; fi
}

# pppoe_server_killed POOL [-k]: pppoe-server SIGKILLed with two sessions
# up and started again; a caller with another MAC address and one with the
# first callers' address dial the new one; then everyone hangs up. At each
# step no lease may be held by a dead process and no address be on two
# ppp interfaces.
pppoe_server_killed() {
    pool=$1; shift
    pppoe_setup "$@"
    # A second link into the callers' namespace: another MAC address.
    ip link add v2 type veth peer name v3 netns cli || fail "no second veth pair"
    ip link set v2 up
    ip -n cli link set v3 up
    pppoe_options "$pool"
    set -- -I v2 -L 10.0.0.1 -R 10.67.15.1 -N 8 ${1:+-k -g "$RP_PPPOE"}
    pppoe_server 1 "$@"
    sleep 0.3
    for n in 1 2; do
        caller $n
        a=$(caller_addr $n 30) || fail "caller $n got no address"
        ev "addr$n $a"
        eval "A$n=$a"
        eval "S$n=$(lease_pid $a)"
        eval "ev \"spid$n \$S$n\""
    done
    snap two-up

    # pppoe-server SIGKILLed: its sessions' pppds are not its to end.
    kill -9 $(pppoes_pid 1)
    ev "pppoes1_status $(ended pppoes 1)"
    # Longer than the LCP echo failure time (3 x 1 s).
    sleep 5
    ev "after_kill_servers $(server_pppds)"
    ev "after_kill_callers $(running client 1) $(running client 2)"
    ev "after_kill_ppid $(cut -d' ' -f4 /proc/$S1/stat 2> /dev/null || echo gone)"
    snap after-kill
    ev "after_kill_dead $(dead_holders)"
    ev "after_kill_peers $(peers)"

    # Started again: it knows none of the sessions and numbers from 1 again.
    pppoe_server 2 "$@"
    sleep 0.3
    NIC=v3 caller 3
    A3=$(caller_addr 3 30) || A3=none
    ev "addr3 $A3"
    ev "spid3 $(lease_pid $A3)"
    # From the first callers' MAC address: its session number is one a
    # surviving session of that address still uses.
    caller 4
    ev "client4_status $(ended client 4 40)"
    ev "client4_log $(grep -aiE 'busy|already|fail|timeout|error' "$OUT/client.4.log" | head -3 | tr '\n' ';')"
    # pppoe-server's own account (logged by its session children).
    ev "sessions $(sed 's/<[0-9]\{1,3\}>/\n/g' "$OUT/syslog" | grep -ao 'Session [0-9]* created for client [0-9a-f:]* ([0-9.]*)' | tr '\n' ';')"
    snap restarted
    ev "restarted_dead $(dead_holders)"
    ev "restarted_peers $(peers)"
    ev "restarted_callers $(running client 1) $(running client 2) $(running client 3)"

    # Everyone still connected hangs up.
    for n in 1 2 3; do
        [ "$(running client $n)" = yes ] && kill -TERM $(cpid $n)
    done
    for n in 1 2 3; do ended client $n > /dev/null; done
    wait_no_server_pppds 20
    ev "end_servers $(server_pppds)"
    for n in 1 2; do
        eval "ev \"released$n \$(released_by \$S$n)\""
        eval "ev \"notified$n \$(notified \$S$n)\""
    done
    snap end
    ev "end_peers $(peers)"
    kill -TERM $(pppoes_pid 2)
    ended pppoes 2 > /dev/null
}
