#!/bin/sh
# The login storm benchmark, one command (as root, Debian 12):
#
#     sh bench/storm/run.sh [SESSIONS] [SIDES]
#
# SESSIONS (default 200) PPPoE callers, each a real pppd with rp-pppoe.so in
# their own network namespace, dial one kernel-mode pppoe-server at once;
# then every caller is SIGKILLed and the namespace deleted. Run twice in one
# User-Mode Linux boot: the dial-in pppds with `plugin rasstatic.so`, then
# with `plugin radius.so` and FreeRADIUS 3.2's rlm_sqlippool on SQLite.
# SIDES: "rasstatic radius" (default), or one of them (more than 254
# sessions: rasstatic alone, sqlippool's pool here has 254 addresses).
# Installs what it needs, builds the release, writes
# bench/results/storm-<date>.md (also printed). Exits 1 if any session did
# not come up, an address went out twice, or anything was left behind.
# Not part of `cargo test` or CI (the 30-session scenarios 34 and 35 are).
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
SESSIONS=${1:-200}
SIDES=${2:-rasstatic radius}
RUN=$ROOT/target/bench-storm
# Memory for the guest: both ends of every session run in it.
MEM=$(( 1024 + SESSIONS * 12 ))M
# STORM_REPORT_ONLY=1: only write the report again from the last run's
# $RUN/storm.raw.
if [ -z "${STORM_REPORT_ONLY:-}" ]; then
export DEBIAN_FRONTEND=noninteractive
apt-get update -q > /dev/null
apt-get install -y -q freeradius freeradius-utils sqlite3 perl > /dev/null
sh scripts/setup.sh
sh scripts/fetch-pppoe-4.sh
cargo build --release -q
B=/var/lib/rasstatic-bench
WITH_PG=0 sh bench/freeradius/setup.sh "$B" > /dev/null
. "$ROOT/tests/pppd/release-env.sh"
release_env "$RUN" "$ROOT/bench/storm/guest.sh"
cat >> "$RUN/env" <<E
BENCHDIR=$B
BENCH_SRC=$ROOT/bench/storm
SESSIONS=$SESSIONS
SIDES="$SIDES"
export BENCHDIR BENCH_SRC SESSIONS SIDES
E
sh "$ROOT/tests/pppd/boot.sh" "$RUN" 3600 "$MEM" > "$RUN/console.log" 2>&1 || true
fi
[ -f "$RUN/storm.done" ] || { echo "storm run failed; see $RUN/boot.log, $RUN/console.log, $RUN/guest.log and $RUN/storm.raw" >&2; exit 1; }
mkdir -p bench/results
OUT=bench/results/storm-$(date +%F).md
kernel=$(sed -n 's/^mode uml, kernel //p' "$RUN/guest.log")
{
echo "# Login storm, $(date -u -d @"$(stat -c %Y "$RUN/storm.done")" "+%F %H:%M UTC") (the end of the run)"
echo
echo "Machine: $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(free -g | awk '/Mem:/ {print $2}') GiB, Linux $(uname -r); the storm runs in one User-Mode Linux guest (kernel ${kernel:-?}, one virtual CPU, mem=$MEM) holding both ends of every session."
echo "Dial-in: Debian 13's pppoe-server (rp-pppoe 4.0) in kernel mode, Debian 12's pppd $(pppd --version 2>&1 | awk '{print $3}'), PAP. Peer: $(freeradius -v | sed -n 1p | sed 's/^radiusd: //'), rlm_sqlippool on SQLite."
echo "Command: \`sh bench/storm/run.sh $SESSIONS${2:+ \"$SIDES\"}\` ($(stat -c %Y "$RUN/storm.done" | awk -v s="$(stat -c %Y "$RUN/env")" '{ print $1 - s }') s from start to end of the storms)."
echo
echo "| dial-in pppd with | callers | up at once | not up | server sessions created (with redials) | distinct addresses | first caller started to last IPCP up | sessions/s over that time | all addresses back after the mass hang-up | leased 120 s after it | last server pppd gone | server pppd PSS per session | pppoe-server PSS | pool store |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
awk '
    { delete f; for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
    {
        name = $1 == "rasstatic" ? "rasstatic.so" : "radius.so + sqlippool"
        store = $1 == "rasstatic" ? sprintf("table file %d B", f["store_bytes"]) : sprintf("FreeRADIUS PSS %.1f MiB; SQLite file %d B (holds the bench'"'"'s three pools, 65,791 addresses)", f["store_pss_kb"] / 1024, f["store_bytes"])
        refused = f["refused"] + 0
        if (refused && f["db_locked"] + 0) refused = refused sprintf(" (%d \"database is locked\" in FreeRADIUS'"'"'s log)", f["db_locked"])
        printf "| %s | %d | %d | %s | %d | %d | %.1f s | %.2f | %s | %d | %s | %.0f KiB | %.0f KiB | %s |\n", name, f["sessions"], f["up"], refused, f["created"], f["distinct"],
            f["last_up_ms"] / 1000, (f["last_up_ms"] > 0 ? f["up"] / (f["last_up_ms"] / 1000) : 0),
            f["back_ms"] == "never" ? "never (within 120 s)" : sprintf("%.2f s", f["back_ms"] / 1000),
            f["left_leased"],
            f["no_pppd_ms"] == "never" ? "never" : sprintf("%.2f s", f["no_pppd_ms"] / 1000),
            f["up"] ? f["server_pss_kb"] / f["up"] : 0, f["pppoes_pss_kb"], store
    }' "$RUN/storm.raw"
echo
echo "The clock starts just before one shell in the callers' namespace starts every caller's pppd (each sends its first PADI once it has loaded rp-pppoe.so), and stops at the ip-up script of the last of the sessions up at the end. Callers dial again 2 s after a failed or ended call (pppd options persist, maxfail 0, holdoff 2), as subscribers' routers do; a caller counts once, by the session it has at the end. Both ends of every session share the guest's one CPU, so the times are mostly pppd starting up under User-Mode Linux; the two sides are timed alike. \"All addresses back\": until the pool has nothing leased, stale or draining (rasstatic) or no unexpired lease (sqlippool)."
echo
echo "Raw facts per side (from $RUN/storm.raw):"
echo
sed 's/^/    /' "$RUN/storm.raw"
} | tee "$OUT"
echo "Written to $OUT"
# What must hold on each side: each session up with its own address, and
# the dial-in interfaces carrying exactly those; and with rasstatic, every
# session up, all addresses back afterwards and nothing left. The peer's
# refusals and the leases it keeps are its result, reported above.
awk '
    { delete f; for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] } }
    f["distinct"] != f["up"] || f["dups"] != 0 || f["outside"] != 0 || f["peers_match"] != "yes" ||
    ($1 == "rasstatic" && (f["up"] != f["sessions"] || f["back_ms"] == "never" || f["no_pppd_ms"] == "never" ||
        f["left_leased"] != 0 || f["left_pppds"] != 0 || (f["dead"] != "" && f["dead"] != 0))) {
        print "FAILED: " $0 > "/dev/stderr"; bad = 1
    }
    END { exit bad }' "$RUN/storm.raw"
