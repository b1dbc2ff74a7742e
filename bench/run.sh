#!/bin/sh
# The side-by-side benchmark, one command (as root, Debian 12):
#
#     sh bench/run.sh [SECONDS]
#
# rasstatic against pppd's radius.so + FreeRADIUS 3.2 rlm_sqlippool on
# SQLite and on PostgreSQL, on this machine, in this run. Installs what it needs, builds
# both sides' parts, starts a private FreeRADIUS on 127.0.0.1:18120/18121,
# and writes bench/results/<date>.md (also printed). SECONDS (default 10)
# is the length of each allocation run. Not part of `cargo test` or CI.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECS=${1:-10}
export DEBIAN_FRONTEND=noninteractive
apt-get update -q > /dev/null
apt-get install -y -q freeradius freeradius-utils freeradius-postgresql sqlite3 postgresql perl > /dev/null
# PostgreSQL's Debian cluster (started by the package where systemd runs).
pg_ctlcluster 15 main start 2>/dev/null || true
pg_lsclusters | grep -q online
sh scripts/setup.sh
cargo build --release -q
cargo build --release -q --manifest-path bench/sidebyside/Cargo.toml
SBS=$ROOT/bench/sidebyside/target/release/rasstatic-sidebyside
B=/var/lib/rasstatic-bench
# Debian's package may have started its own server; ours uses other ports.
sh bench/freeradius/setup.sh "$B"
freeradius -d "$B/raddb" -f -l stdout > "$B/radius.log" 2>&1 &
RADIUSD=$!
trap 'kill $RADIUSD 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q "Ready to process requests" "$B/radius.log" && break; sleep 0.1; done
grep -q "Ready to process requests" "$B/radius.log" || { cat "$B/radius.log"; exit 1; }
mkdir -p bench/results
OUT=bench/results/$(date +%F).md
{
echo "# Side-by-side run, $(date -u '+%F %H:%M UTC')"
echo
echo "Machine: $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(free -g | awk '/Mem:/ {print $2}') GiB, Linux $(uname -r)."
echo "Peer: $(freeradius -v | sed -n 1p | sed 's/^radiusd: //'), rlm_sqlippool on $(sqlite3 --version | cut -d' ' -f1-2 | sed 's/^/SQLite /') and on PostgreSQL $(su postgres -c 'psql -tAc "show server_version"' | cut -d' ' -f1); pppd $(pppd --version 2>&1 | awk '{print $3}')."
echo "Command: \`sh bench/run.sh $SECS\`."
echo
echo "## 1. Allocation and release ($SECS s per row)"
echo
echo "| system | pool | concurrency | pairs | pairs/s | median | p99 | refused | errors |"
echo "|---|---|---|---|---|---|---|---|---|"
for pool in small large; do
    for c in 1 8 64; do
        "$SBS" alloc rasstatic $pool $c "$SECS"
        "$SBS" alloc sqlippool $pool $c "$SECS"
        "$SBS" alloc sqlippool-pg $pool $c "$SECS"
    done
done
echo
echo "## 3. Reclaim after SIGKILL of the dial-in pppd"
echo
echo "| system | reclaimed after | callers refused meanwhile |"
echo "|---|---|---|"
"$SBS" reclaim-rasstatic "$ROOT/target/release/rasstatic"
"$SBS" reclaim-sqlippool
echo "| sqlippool, default lease_duration 3600 s | 3600 s (not run: nothing reclaims the lease before it expires) | every request for the address until then |"
echo
echo "## 4. Memory per pool address"
echo
echo "| pool | rasstatic table | sqlippool SQLite database | ratio |"
echo "|---|---|---|---|"
"$SBS" memory "$B/db/small.db" "$B/db/large.db"
echo
echo "| pool | sqlippool PostgreSQL table with its indexes (pg_total_relation_size) |"
echo "|---|---|"
for pool in small large; do
    n=$([ $pool = small ] && echo 254 || echo 65536)
    bytes=$(PGPASSWORD=bench psql -tA -h 127.0.0.1 -U radius_bench mem_$pool -c "SELECT pg_total_relation_size('radippool')")
    echo "| $pool ($n addresses) | $bytes B ($(awk -v b=$bytes -v n=$n 'BEGIN { printf "%.1f", b / n }') B/address) |"
done
echo
echo "## 5. The floor"
echo
echo "| operation | time |"
echo "|---|---|"
"$SBS" floor
} | tee "$OUT"
kill $RADIUSD 2>/dev/null || true
trap - EXIT
# 2. Connection setup under User-Mode Linux (boots its own FreeRADIUS).
echo
echo "## 2. Connection setup (LCP up to IPCP up, dial-in pppd, PAP)" | tee -a "$OUT"
RAW=$(sh bench/connect/run.sh "$B" "$ROOT/target/bench-connect")
echo "$RAW" | awk '
    function sort(a, m,   i, j, t) { for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t } }
    { tot[$1] = tot[$1] " " $2; au[$1] = au[$1] " " $3 }
    END {
        print ""
        print "| plugin | calls | LCP up to IPCP up: median | min | max | of which PAP request to answer: median | max |"
        print "|---|---|---|---|---|---|---|"
        for (k in tot) {
            m = split(substr(tot[k], 2), a, " "); sort(a, m)
            split(substr(au[k], 2), b, " "); sort(b, m)
            printf "| %s | %d | %.1f ms | %.1f ms | %.1f ms | %.2f ms | %.2f ms |\n", k, m, a[int((m + 1) / 2)], a[1], a[m], b[int((m + 1) / 2)], b[m]
        }
    }' | tee -a "$OUT"
echo
echo "Written to $OUT"
