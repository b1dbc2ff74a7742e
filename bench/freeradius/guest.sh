# Sourced by the benchmarks' guests (bench/connect, bench/storm) after
# lib.sh, with BENCHDIR (from bench/freeradius/setup.sh) and BENCH_SRC set:
# starts FreeRADIUS (rlm_sqlippool on SQLite, on the guest's tmpfs) on
# 127.0.0.1:18120/18121, writes pppd's radius.so configuration to
# $R/radiusclient.conf and one PAP user, u1 with password x, to
# /etc/ppp/pap-secrets (for the side without RADIUS). Sets R, RADDB and
# RADIUS_PID.
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
RADIUS_PID=$!
wait_for "$OUT/radius.log" "Ready to process requests" 30
R=/etc/ppp/radius
# radiusclient takes the NAS address from the host name; the guest has
# none until given one that resolves (to 127.0.0.1, via /etc/hosts).
hostname localhost
cp "$BENCH_SRC/../freeradius/dictionary" $R/dictionary
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
