#!/bin/sh
# The cluster mode's figures, one command (as root, Debian 12):
#
#     sh bench/cluster/run.sh
#
# Installs what it needs (scripts/setup.sh: etcd-server among others),
# then measures, on this machine, in this run:
# - the claim+release pair in cluster mode against single-machine mode
#   (`cargo bench --bench table` with RASSTATIC_BENCH_CLUSTER=1);
# - with three servers (real tables and agents) against a real 3-member
#   etcd on loopback (cluster/examples/cluster_bench.rs): etcd writes per
#   1,000 calls, refusals while another server had room, the addresses
#   stranded at exhaustion, the time to fetch a block, and the time for a
#   dead server's blocks to come back with the production timing, against
#   FreeRADIUS sqlippool's lease expiry.
# Writes bench/results/cluster-<date>.md (also printed). About 5 minutes.
# Not part of `cargo test` or CI.
set -eu
cd "$(dirname "$0")/../.."
sh scripts/setup.sh
cargo build --release -q -p rasstatic-cluster --example cluster_bench
mkdir -p bench/results
OUT=bench/results/cluster-$(date -u +%F).md
PAIRS=$(mktemp)
trap 'rm -f "$PAIRS"' EXIT
RASSTATIC_BENCH_CLUSTER=1 cargo bench -q --bench table > "$PAIRS"
BENCH=$(target/release/examples/cluster_bench)
{
echo "# Cluster mode, $(date -u '+%F %H:%M UTC')"
echo
echo "Machine: $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(free -g | awk '/Mem:/ {print $2}') GiB, Linux $(uname -r); clock source $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)."
echo "etcd $(etcd --version | sed -n 's/^etcd Version: //p'), 3 members on 127.0.0.1, data on /dev/shm."
echo "Command: \`sh bench/cluster/run.sh\`."
echo
echo "## The claim+release pair, single-machine mode against cluster mode"
echo
echo "Five rounds of 200,000 pairs each, alternating, on a 65,536-address table on /dev/shm; each pair timed on its own (the timing is in the figures). The median of the rounds' figures."
echo
sed -n '/^one clock_gettime/,$p' "$PAIRS"
echo
echo "$BENCH"
} > "$OUT"
cat "$OUT"
