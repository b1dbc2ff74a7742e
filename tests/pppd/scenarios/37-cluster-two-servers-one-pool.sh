# Cluster mode: two dial-in servers of one cluster in one guest (a
# one-member etcd on the guest's loopback; each server its own lease
# table, rasstatic-agent and pppds) share one pool of 9 addresses in blocks
# of 8: block 0 is 10.9.37.1-8, block 1 is 10.9.37.9 alone. Server B
# (bras-b, whose candidates start at block 0) joins first and takes block
# 0; server A (bras-a) joins next and gets block 1, the only one left.
# A's second caller finds no free address and etcd no free block: it is
# refused, with the reason. Then the whole of server B dies (SIGKILL to
# its agent, its watchdog and its pppd): its block comes back to A only
# after B's lease TTL plus the grace period, and a new caller on A gets an
# address from it. No address is ever on two ppp links.
. "$LIB"
POOL=10.9.37.1-10.9.37.9
EP=http://127.0.0.1:23790
TDIR_B=$TDIR-b
TTL=4
GRACE=3
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# agent N SID DIR: server N's agent (same timing on both).
agent() {
    launch agent "$1" "$AGENT" --endpoints $EP --server-id "$2" --pool $POOL --block 8 \
        --dir "$3" --ttl $TTL --grace $GRACE --claim-margin-ms 1000 --hang-margin-ms 3000 --renew-ms 1000
    wait_for "$OUT/agent.$1.out" "joined pool" 30
    ev "agent$1_joined $?"
}
# blocks DIR: the blocks the table in DIR says its agent holds, as
# FIRST-LAST, space-separated.
blocks() {
    "$RASSTATIC" show --json --dir "$1" | tr -d ' \n' \
        | grep -o '"blocks":\[[^]]*\]' | grep -o '"first":"[0-9.]*","last":"[0-9.]*"' \
        | sed 's/"first":"\([0-9.]*\)","last":"\([0-9.]*\)"/\1-\2/' | tr '\n' ' '
}

etcd_up s37

mkdir -p "$TDIR_B"
agent 2 bras-b "$TDIR_B"
agent 1 bras-a "$TDIR"
# "joined pool" is printed just before the state file is written.
for _ in $(seq 50); do [ -n "$(blocks "$TDIR")" ] && [ -n "$(blocks "$TDIR_B")" ] && break; sleep 0.1; done
ev "blocks_a $(blocks "$TDIR")"
ev "blocks_b $(blocks "$TDIR_B")"

# A caller on B (line 1), one on A (line 2).
line 1
server 1 10.0.0.1: rasstatic-pool $POOL rasstatic-cluster rasstatic-dir "$TDIR_B"
client 1
ev "addr1 $(caller_addr 1 30)"
line 2
server 2 10.0.0.1: rasstatic-pool $POOL rasstatic-cluster
client 2
ev "addr2 $(caller_addr 2 30)"
ev "peers_up $(peers)"
snap a-up
( TDIR=$TDIR_B; snap b-up )

# A second caller on A: nothing free in A's block, no free block in etcd.
line 3
server 3 10.0.0.1: rasstatic-pool $POOL rasstatic-cluster
client 3
ev "server3_exit $(ended server 3 30)"
kill -TERM $(cpid 3) 2>/dev/null; ended client 3 > /dev/null
grep -q "local  IP address" "$OUT/client.3.log" && ev "client3_got_address yes"

# The whole of server B dies. When B's last verified renewal was sent, as
# B's table says: its lease cannot end before that plus the TTL.
T0=$(now_ms)
ev "b_renewed_ms_ago $("$RASSTATIC" show --json --dir "$TDIR_B" | tr -d ' \n' | grep -o '"renewed_seconds_ago":[0-9.]*' | cut -d: -f2 | awk '{ printf "%d", $1 * 1000 }')"
WD_B=$("$RASSTATIC" show --json --dir "$TDIR_B" | tr -d ' \n' | grep -o '"watchdog":[0-9]*' | cut -d: -f2)
# (0: the watchdog's lock is held but its PID not written yet.)
[ "${WD_B:-0}" -gt 0 ] 2>/dev/null || WD_B=
kill -9 "$(cat "$OUT/agent.2.pid")" "$(spid 1)" ${WD_B:+"$WD_B"}
ev "b_killed_from_t0_ms $(( $(now_ms) - T0 ))"
ev "b_watchdog_was ${WD_B:-none}"
ended agent 2 > /dev/null; ended server 1 > /dev/null
kill -TERM "$(cpid 1)"; ended client 1 > /dev/null
kill "$(cat "$OUT/socat.1.pid")"
# A takes block 0 back, after the TTL and the grace period.
back=never
for _ in $(seq 300); do
    case " $(blocks "$TDIR") " in
        *" 10.9.37.1-10.9.37.8 "*) back=$(( $(now_ms) - T0 )); break ;;
    esac
    sleep 0.05
done
ev "block0_to_a_from_t0_ms $back"
ev "blocks_a_after $(blocks "$TDIR")"
ev "ttl_grace_ms $(( (TTL + GRACE) * 1000 ))"

# A new caller on A gets an address from the dead server's block.
line 4
server 4 10.0.0.1: rasstatic-pool $POOL rasstatic-cluster
client 4
ev "addr4 $(caller_addr 4 30)"
ev "peers_after $(peers)"
snap a-after

kill -TERM $(cpid 2) $(cpid 4)
ev "server2_exit $(ended server 2)"
ev "server4_exit $(ended server 4)"
snap end
ev "peers_end $(peers)"
kill -TERM $(cat "$OUT/agent.1.pid")
ended agent 1 > /dev/null
etcd_down
