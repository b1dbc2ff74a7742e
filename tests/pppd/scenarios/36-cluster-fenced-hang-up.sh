# Cluster mode: a dial-in server of a cluster (a one-member etcd on the
# guest's loopback, rasstatic-agent, pppd with rasstatic-cluster) is cut
# off from etcd: etcd is frozen with SIGSTOP, so no renewal is verified.
# Claims stop at the claim deadline (a new caller is refused), and the
# session that is up is hung up by its own pppd at the hang deadline,
# before a reclaim could let another server reuse its address. Once etcd
# is back, the agent renews or registers again and a caller gets an
# address again.
. "$LIB"
POOL=10.9.36.0/27
EP=http://127.0.0.1:23790
# The agent's timing: TTL 4 s, grace 6 s. Claims stop 3 s after the last
# renewal sent, sessions are down 7 s after it, a reclaim elsewhere could
# succeed 10 s after it.
HANG_MARGIN_MS=3000
prom() { "$RASSTATIC" stats --prometheus --dir "$TDIR" | awk -v m="rasstatic_cluster_$1_deadline_seconds" 'index($1, m) == 1 { print $2 }'; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

etcd_up s36

launch agent 1 "$AGENT" --endpoints $EP --server-id bras-1 --pool $POOL --block 8 \
    --dir "$TDIR" --ttl 4 --grace 6 --claim-margin-ms 1000 --hang-margin-ms $HANG_MARGIN_MS --renew-ms 1000
wait_for "$OUT/agent.1.out" "joined pool" 30
ev "agent_joined $?"

# A caller comes up, in a block the agent holds.
line 1
server 1 10.0.0.1: rasstatic-pool $POOL rasstatic-cluster
client 1
ev "addr1 $(caller_addr 1 30)"
snap up
"$RASSTATIC" stats --dir "$TDIR" > "$OUT/stats.up" 2>&1

# Cut off: etcd frozen. Whatever renewal was in flight cannot complete, so
# the deadlines in the table stay where the last verified renewal left
# them.
kill -STOP $EPID
ev "cut_at_ms $(now_ms)"
sleep 1.5
T1=$(now_ms)
HANG_S=$(prom hang)
ev "hang_deadline_from_t1_ms $(awk -v h="$HANG_S" 'BEGIN { printf "%d", h * 1000 }')"
"$RASSTATIC" stats --dir "$TDIR" > "$OUT/stats.cut" 2>&1

# Once the claim deadline has passed, a new caller is refused.
for _ in $(seq 100); do
    c=$(prom claim)
    awk -v c="$c" 'BEGIN { exit !(c < 0) }' && break
    sleep 0.1
done
ev "claim_deadline_passed_s $(prom claim)"
line 2
server 2 10.0.0.1: rasstatic-pool $POOL rasstatic-cluster
client 2
ev "server2_exit $(ended server 2 30)"
kill -TERM $(cpid 2) 2>/dev/null; ended client 2 > /dev/null
grep -q "local  IP address" "$OUT/client.2.log" && ev "client2_got_address yes"

# The session that is up: hung up by its pppd at the hang deadline.
ev "server1_exit $(ended server 1 30)"
ev "server1_ended_from_t1_ms $(( $(now_ms) - T1 ))"
ev "client1_exit $(ended client 1 20)"
ev "hang_margin_ms $HANG_MARGIN_MS"
snap fenced
"$RASSTATIC" stats --dir "$TDIR" > "$OUT/stats.fenced" 2>&1
"$RASSTATIC" stats --prometheus --dir "$TDIR" > "$OUT/stats.fenced.prom" 2>&1

# etcd back: the agent renews (or registers again), claims resume.
kill -CONT $EPID
for _ in $(seq 300); do
    c=$(prom claim)
    awk -v c="$c" 'BEGIN { exit !(c > 0.5) }' && break
    sleep 0.1
done
ev "claims_resumed_s $(prom claim)"
line 3
server 3 10.0.0.1: rasstatic-pool $POOL rasstatic-cluster
client 3
ev "addr3 $(caller_addr 3 30)"
snap rejoined
kill -TERM $(cpid 3)
ev "server3_exit $(ended server 3)"
snap end
kill -TERM $(cat "$OUT/agent.1.pid")
ended agent 1 > /dev/null
etcd_down
