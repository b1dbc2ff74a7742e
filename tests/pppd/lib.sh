# Helpers for the real-pppd scenarios, sourced by each one.
# Set by the runner: OUT (this scenario's output directory), NAME, and from
# env: PLUGIN, RASSTATIC, PPPD, PPPEER, FDHOLD, KILLWAIT.
set -u
L=$OUT/lines
mkdir -p "$L"
TDIR=/run/rasstatic-test/$NAME
SRV="nodetach noauth local noipv6 silent lcp-restart 1 ipcp-restart 1 nodefaultroute debug"
CLI="nodetach noauth local noipv6 noipdefault lcp-restart 1 ipcp-restart 1 nodefaultroute"

log() { echo "[$(date +%T.%N | cut -c1-12)] $*"; }
# Record a fact for the Rust side: "KEY VALUE".
ev() { log "event: $*"; echo "$*" >> "$OUT/events"; }

# line N: a pty pair $L/sN (dial-in side) <-> $L/cN (caller).
line() {
    rm -f "$L/s$1" "$L/c$1"
    socat PTY,link="$L/s$1",raw,echo=0 PTY,link="$L/c$1",raw,echo=0 &
    echo $! > "$OUT/socat.$1.pid"
    for _ in $(seq 100); do [ -e "$L/s$1" ] && [ -e "$L/c$1" ] && return 0; sleep 0.05; done
    log "line $1 did not appear"; return 1
}
# launch ROLE N CMD...: run CMD in the background; its PID goes to
# $OUT/ROLE.N.pid and, when it ends, its exit status to $OUT/ROLE.N.status.
launch() {
    role=$1; n=$2; shift 2
    rm -f "$OUT/$role.$n.pid" "$OUT/$role.$n.status"
    ( "$@" >> "$OUT/$role.$n.out" 2>&1 &
      echo $! > "$OUT/$role.$n.pid.tmp"; mv "$OUT/$role.$n.pid.tmp" "$OUT/$role.$n.pid"
      wait $!; echo $? > "$OUT/$role.$n.status" ) 2>> "$OUT/$role.$n.out" &
    for _ in $(seq 100); do [ -s "$OUT/$role.$n.pid" ] && return 0; sleep 0.02; done
    log "$role $n did not start"
}
# keep ROLE N: move an earlier log of this role and line to ROLE.N.history.
keep() {
    [ -f "$OUT/$1.$2.log" ] && cat "$OUT/$1.$2.log" >> "$OUT/$1.$2.history"
    : > "$OUT/$1.$2.log"
}
# server N ARGS...: the dial-in pppd with the plugin.
server() {
    n=$1; shift
    keep server $n
    launch server $n $PPPD "$L/s$n" $SRV plugin "$PLUGIN" rasstatic-dir "$TDIR" logfile "$OUT/server.$n.log" "$@"
}
# client N ARGS...: the caller's pppd.
client() {
    n=$1; shift
    keep client $n
    launch client $n $PPPD "$L/c$n" $CLI logfile "$OUT/client.$n.log" "$@"
}
spid() { cat "$OUT/server.$1.pid"; }
cpid() { cat "$OUT/client.$1.pid"; }
# wait_for FILE PATTERN [SECONDS]: until grep finds it.
wait_for() {
    for _ in $(seq $((${3:-15} * 10))); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    log "timed out waiting for '$2' in $1"; return 1
}
# The address the caller N got (waits for IPCP up).
caller_addr() {
    wait_for "$OUT/client.$1.log" "local  IP address" "${2:-15}" || { echo none; return 1; }
    sed -n 's/^local  IP address //p' "$OUT/client.$1.log" | tail -1
}
# ended ROLE N [SECONDS]: wait until a launched process exits; print its
# exit status ("running" if it does not end in time).
ended() {
    for _ in $(seq $((${3:-15} * 10))); do
        [ -s "$OUT/$1.$2.status" ] && { cat "$OUT/$1.$2.status"; return 0; }
        sleep 0.1
    done
    log "$1 $2 still running"; echo running; return 1
}
# gone PID [SECONDS]: wait until a process that is not ours has exited.
gone() {
    for _ in $(seq $((${2:-15} * 10))); do
        kill -0 "$1" 2>/dev/null || return 0
        [ "$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null)" = Z ] && return 0
        sleep 0.1
    done
    log "pid $1 still running"; return 1
}
# snap LABEL: the lease table as `rasstatic show --json` sees it.
snap() {
    "$RASSTATIC" show --json --dir "$TDIR" --name "${2:-default}" > "$OUT/snap.$1.json" 2> "$OUT/snap.$1.err"
    log "snapshot $1: $(grep -o '"leased":[0-9]*' "$OUT/snap.$1.json") $(grep -o '"stale":[0-9]*' "$OUT/snap.$1.json")"
}
# state ADDR [NAME]: the lease's state as `rasstatic show` prints it.
state() {
    "$RASSTATIC" show --dir "$TDIR" --name "${2:-default}" | awk -v a="$1" '$1 == a { print $2 }'
}
# kill_freed_us PID ADDR [NAME]: SIGKILL PID and print the microseconds
# until ADDR's lease is free (polled in-process by killwait), or "never".
kill_freed_us() {
    "$KILLWAIT" "$1" "$TDIR" "${3:-default}" "$2" 5000
}
# wd_pid [NAME]: the PID of the table's running watchdog, or "null".
wd_pid() {
    "$RASSTATIC" show --json --dir "$TDIR" --name "${1:-default}" | grep -o '"watchdog":[0-9a-z]*' | cut -d: -f2
}
# The peer addresses on the dial-in side's ppp interfaces (local address
# 10.0.0.1; the callers' interfaces are in the same guest), sorted,
# space-separated: an address on two interfaces appears twice.
peers() {
    ip -4 -o addr show 2>/dev/null | awk '$2 ~ /^ppp/ && $4 == "10.0.0.1" && $5 == "peer" { print $6 }' | cut -d/ -f1 | sort | tr '\n' ' '
}
# leased_ms ADDRS...: milliseconds until `rasstatic show` lists every one
# of ADDRS as leased (up to 10 s), or "never".
leased_ms() {
    t0=$(date +%s%N)
    for _ in $(seq 200); do
        out=$("$RASSTATIC" show --dir "$TDIR" 2>/dev/null)
        ok=1
        for a in "$@"; do
            echo "$out" | awk -v a="$a" '$1 == a && $2 == "leased" { f = 1 } END { exit !f }' || ok=0
        done
        [ $ok = 1 ] && { echo $(( ($(date +%s%N) - t0) / 1000000 )); return 0; }
        sleep 0.05
    done
    echo never
}
# etcd_up NAME: a one-member etcd (member NAME) on the guest's loopback,
# client URL $EP, its data on a tmpfs of its own (it preallocates 64 MB of
# log); event etcd_health (0: healthy); EPID its PID. etcd_down stops it.
etcd_up() {
    mkdir -p /run/etcd && mount -t tmpfs -o size=200m tmpfs /run/etcd
    launch etcd 1 etcd --name "$1" --data-dir /run/etcd/data \
        --listen-client-urls $EP --advertise-client-urls $EP \
        --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
        --initial-cluster "$1=http://127.0.0.1:23800" --heartbeat-interval 100 --election-timeout 1000
    for _ in $(seq 100); do
        ETCDCTL_API=3 etcdctl --endpoints $EP endpoint health > /dev/null 2>&1 && break
        sleep 0.3
    done
    ETCDCTL_API=3 etcdctl --endpoints $EP endpoint health > "$OUT/etcd.health" 2>&1
    ev "etcd_health $?"
    EPID=$(cat "$OUT/etcd.1.pid")
}
etcd_down() {
    kill -TERM $EPID; ended etcd 1 > /dev/null
    umount /run/etcd
}
