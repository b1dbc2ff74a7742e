#!/bin/sh
# The test command: sets up a fresh Debian 12 machine (as root), then checks
# formatting and lints, and runs every test, including the real-pppd
# scenarios (inside User-Mode Linux when this kernel has no PPP).
set -eu
cd "$(dirname "$0")"
sh scripts/setup.sh
# Debian 13's pppd 2.5.2 and headers, for the second matrix.
sh scripts/fetch-pppd-2.5.sh
# Debian 13's pppoe-server, for kernel-mode PPPoE (Debian 12's has none).
sh scripts/fetch-pppoe-4.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# The workspace: the plugin and admin command, and cluster/ (the cluster
# mode's etcd side, tested against a real 3-member etcd on loopback).
cargo test --workspace
