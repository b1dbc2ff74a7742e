#!/bin/sh
# The demo: a dial-in server with real pppd, four lines and a three-address
# pool, showing addresses going out and coming back through hang-ups,
# carrier loss and a kill -9. Sets up a fresh Debian 12 machine (as root).
set -eu
cd "$(dirname "$0")"
sh scripts/setup.sh
cargo build --release
exec sh tests/pppd/run-demo.sh
