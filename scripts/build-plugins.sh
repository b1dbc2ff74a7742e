#!/bin/sh
# Builds the plugin for both pppd generations from this one source tree:
#   target/plugins/rasstatic-pppd-2.4.9.so  (Debian 12's installed ppp-dev)
#   target/plugins/rasstatic-pppd-2.5.2.so  (Debian 13's ppp-dev, fetched)
# Install the one matching `pppd --version` as
# /usr/lib/pppd/<version>/rasstatic.so.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
sh scripts/fetch-pppd-2.5.sh
mkdir -p target/plugins
cargo build --release --lib
v24=$(sed -n 's/^#define VERSION[[:space:]]*"\(.*\)"/\1/p' /usr/include/pppd/patchlevel.h)
cp target/release/librasstatic.so "target/plugins/rasstatic-pppd-$v24.so"
PPPD_INCLUDE_DIR=$ROOT/target/pppd-2.5/root/usr/include/pppd \
    cargo build --release --lib --target-dir target/pppd-2.5/build
v25=$(sed -n 's/^#define PPPD_VERSION[[:space:]]*"\(.*\)"/\1/p' target/pppd-2.5/root/usr/include/pppd/pppdconf.h)
cp target/pppd-2.5/build/release/librasstatic.so "target/plugins/rasstatic-pppd-$v25.so"
ls -l target/plugins/
