#!/bin/sh
# The native tests that need no User-Mode Linux, built with AddressSanitizer
# (nightly), the rasstatic command they run included. Then the plugin itself
# under AddressSanitizer: the soak's pppd-ABI host and librasstatic.so, both
# instrumented, for 100,000 calls.
#
# Skipped: admin_output's show_streams_a_large_table_in_bounded_memory,
# which runs `rasstatic show` under an address-space limit that leaves
# AddressSanitizer no room for its shadow memory. tests/watchdog.rs's
# latency bounds (100 ms median) are for optimized builds; an instrumented
# build under load may miss them, which says nothing of memory safety.
set -eu
cd "$(dirname "$0")/.."
t=x86_64-unknown-linux-gnu
export RUSTFLAGS=-Zsanitizer=address
cargo +nightly test --no-fail-fast --target $t --target-dir target/asan \
    --lib --test table_files --test torture --test admin --test admin_output \
    --test admin_check --test fuzz_corpus --test watchdog --test watchdog_cli \
    -- --skip show_streams_a_large_table_in_bounded_memory
cargo +nightly build --release --lib --target $t --target-dir target/asan
(cd bench/soak && cargo +nightly build --release --target $t --target-dir target/asan)
bench/soak/target/asan/$t/release/rasstatic-soak --cycles 100000 \
    --so "$PWD/target/asan/$t/release/librasstatic.so"
