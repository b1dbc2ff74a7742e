#!/bin/sh
# The soak: the release plugin loaded by a pppd-ABI host, a million calls
# with random SIGKILLs of holders and of the watchdog, the torture test's
# duplicate checker throughout and a leak check at the end.
#
#   sh bench/soak/run.sh [soak options]   (e.g. --cycles 1000000 --holders 32)
#
# Builds target/release/librasstatic.so against the installed pppd
# headers, then runs the soak at low priority. Not part of cargo test.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cargo build --release --lib
cd bench/soak
cargo build --release
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
exec nice -n 10 ./target/release/rasstatic-soak --so "$root/target/release/librasstatic.so" "$@"
