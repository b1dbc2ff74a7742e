#!/bin/sh
# Run every fuzz target for a bounded time, one after the other, each in one
# process (libFuzzer's single job), and write the figures libFuzzer reports
# to results/run-DATE.md (and its full output to results/TARGET.log).
#
#   sh fuzz/run.sh [SECONDS-PER-TARGET] [TARGET...]
#
# Needs the nightly toolchain and cargo-fuzz (cargo install cargo-fuzz).
# New inputs go to results/corpus/TARGET; the checked-in corpus/TARGET is
# only read (minimize new finds into it with `cargo fuzz cmin`). A crash
# leaves its input under artifacts/TARGET and makes this script fail.
set -eu
secs=${1:-180}
[ $# -gt 0 ] && shift
cd "$(dirname "$0")"
targets=${*:-$(cargo +nightly fuzz list)}
mkdir -p results
cargo +nightly fuzz build -O >results/build.log 2>&1 || {
    cat results/build.log
    exit 1
}
out=results/run-$(date -u +%Y%m%dT%H%M%SZ).md
{
    echo "# Fuzzing figures"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores;"
    echo "\`sh fuzz/run.sh $secs${*:+ $*}\` ($(cargo +nightly --version), $(cargo fuzz --version))."
    echo
    echo "| target | seconds | total execs | execs/s | coverage (cov) | features (ft) | corpus | new units | peak RSS MB | result |"
    echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
} >"$out"
failed=0
for t in $targets; do
    mkdir -p "results/corpus/$t"
    max_len=4096
    [ "$t" = table ] && max_len=12288
    status=ok
    nice -n 10 cargo +nightly fuzz run -O "$t" "results/corpus/$t" "corpus/$t" -- \
        -max_total_time="$secs" -max_len="$max_len" -print_final_stats=1 \
        -timeout=30 -rss_limit_mb=2048 >"results/$t.log" 2>&1 || status=CRASH
    rm -rf /dev/shm/rasstatic-fuzz-"$t"-*
    last=$(grep -E '^#[0-9]+' "results/$t.log" | tail -1)
    stat() { sed -n "s/^stat::$1: *//p" "results/$t.log" | tail -1; }
    field() { echo "$last" | sed -n "s/.* $1: \([0-9a-zA-Z/]*\).*/\1/p"; }
    echo "| $t | $secs | $(stat number_of_executed_units) | $(stat average_exec_per_sec) | $(field cov) | $(field ft) | $(field corp) | $(stat new_units_added) | $(stat peak_rss_mb) | $status |" >>"$out"
    [ "$status" = ok ] || failed=1
done
cat "$out"
exit $failed
