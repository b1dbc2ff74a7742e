# Connection setup time inside the guest (run by guest-init.sh as its DEMO
# hook): the dial-in pppd's time from LCP up to IPCP up, PAP on both
# sides, with `plugin rasstatic.so` and with `plugin radius.so` against
# FreeRADIUS (rlm_sqlippool on SQLite) on loopback; the same link settings
# otherwise. Writes $OUT/connect.md.
. "$LIB"
CALLS=${CALLS:-15}
. "$BENCH_SRC/../freeradius/guest.sh"
LINK="nodetach lcp-restart 1 ipcp-restart 1 noipv6 local nodefaultroute debug"
stamp() { perl -MTime::HiRes=time -ne '$|=1; printf "%.6f %s", time, $_'; }
# call KIND N PLUGIN-ARGS...: one call; prints the ms from LCP up to IPCP
# up, and from the PAP request to its answer.
call() {
    kind=$1; n=$2; shift 2
    line $n
    log=$OUT/srv.$kind.$n.log
    ( $PPPD "$L/s$n" $LINK require-pap 10.0.0.1: "$@" 2>&1 | stamp > "$log" ) &
    sleep 0.2
    client $n user u1 password x
    wait_for "$log" "local  IP address" 20 || { echo never; return; }
    kill -TERM $(cpid $n); ended client $n > /dev/null
    for _ in $(seq 100); do grep -q "Exit\." "$log" && break; sleep 0.1; done
    kill $(cat "$OUT/socat.$n.pid") 2>/dev/null
    # LCP up: the later of the two Configure-Acks. Authentication: PAP
    # request to answer (for radius.so, the RADIUS round trip with the
    # sqlippool allocation is inside it).
    awk '/LCP ConfAck/ { lcp = $1 } /rcvd \[PAP AuthReq/ { rq = $1 } /sent \[PAP Auth(Ack|Nak)/ { ra = $1 }
         /local  IP address/ { ip = $1; exit }
         END { printf "%.3f %.3f\n", (ip - lcp) * 1000, (ra - rq) * 1000 }' "$log"
}
n=0
for i in $(seq $CALLS); do
    n=$((n + 1)); echo "rasstatic $(call rasstatic $n plugin "$PLUGIN" rasstatic-dir /run/rasstatic rasstatic-pool 10.61.0.1-10.61.0.254)" >> "$OUT/raw"
    n=$((n + 1)); echo "radius $(call radius $n plugin radius.so radius-config-file $R/radiusclient.conf)" >> "$OUT/raw"
done
cp "$OUT/raw" "$OUT/connect.raw"
