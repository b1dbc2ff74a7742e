#!/bin/sh
# Connection setup under User-Mode Linux (or the host kernel, if it has
# PPP; tests/pppd/boot.sh decides): see guest.sh. Usage: run.sh BENCHDIR RUNDIR (BENCHDIR from
# bench/freeradius/setup.sh). Prints the raw per-call figures.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=$1
RUN=$2
. "$ROOT/tests/pppd/release-env.sh"
release_env "$RUN" "$ROOT/bench/connect/guest.sh"
cat >> "$RUN/env" <<E
BENCHDIR=$B
BENCH_SRC=$ROOT/bench/connect
CALLS=${CALLS:-15}
export BENCHDIR BENCH_SRC CALLS
E
sh "$ROOT/tests/pppd/boot.sh" "$RUN" 900 768M > "$RUN/console.log" 2>&1 || true
[ -f "$RUN/connect.raw" ] || { echo "connection-setup run failed; see $RUN/boot.log, $RUN/console.log and $RUN/guest.log" >&2; exit 1; }
cat "$RUN/connect.raw"
