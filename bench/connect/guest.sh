# Connection setup time inside the guest (run by guest-init.sh as its DEMO
# hook): the dial-in pppd's time from LCP up to IPCP up, PAP on both
# sides, with `plugin rasstatic.so` and with `plugin radius.so` against
# FreeRADIUS (rlm_sqlippool on SQLite) on loopback; the same link settings
# otherwise. Writes $OUT/connect.md.
. "$LIB"
CALLS=${CALLS:-15}
mkdir -p /run/freeradius /etc/ppp/radius
chown freerad:freerad /run/freeradius
# The database on the guest's tmpfs, as the table is (and off hostfs).
cp -a "$BENCHDIR/db" /run/rbench-db
mount -t tmpfs tmpfs "$BENCHDIR/db"
cp -a /run/rbench-db/. "$BENCHDIR/db/"
chown -R freerad:freerad "$BENCHDIR/db"
# The configuration too, without the PostgreSQL back end (no PostgreSQL
# server runs in the guest; the setup measured here is SQLite's).
RADDB=/run/rbench-raddb
cp -a "$BENCHDIR/raddb" $RADDB
rm -f $RADDB/mods-enabled/sql_pg $RADDB/mods-enabled/sqlippool_pg $RADDB/sites-enabled/bench_pg
sed -i "s|^raddbdir = .*|raddbdir = $RADDB|" $RADDB/radiusd.conf
freeradius -d $RADDB -f -l stdout > "$OUT/radius.log" 2>&1 &
wait_for "$OUT/radius.log" "Ready to process requests" 30
R=/etc/ppp/radius
# radiusclient takes the NAS address from the host name; the guest has
# none until given one that resolves (to 127.0.0.1, via /etc/hosts).
hostname localhost
cp "$BENCH_SRC/dictionary" $R/dictionary
echo "127.0.0.1 testing123" > $R/servers
chmod 600 $R/servers
cat > $R/radiusclient.conf <<CONF
auth_order	radius
login_tries	4
login_timeout	60
nologin	/etc/nologin
issue	$R/issue
authserver	127.0.0.1:18120
acctserver	127.0.0.1:18121
servers	$R/servers
dictionary	$R/dictionary
login_radius	/usr/sbin/login.radius
seqfile	/run/radius.seq
mapfile	$R/port-id-map
default_realm
bindaddr	127.0.0.1
radius_timeout	10
radius_retries	3
login_local	/bin/login
CONF
: > $R/issue; : > $R/port-id-map
printf 'u1 * x *\n' > /etc/ppp/pap-secrets; chmod 600 /etc/ppp/pap-secrets
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
