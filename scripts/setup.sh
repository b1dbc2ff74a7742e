#!/bin/sh
# Installs what rasstatic's build, tests and demo need on Debian 12, as root.
# Safe to run again: apt-get skips what is already there.
set -eu
PKGS="ppp ppp-dev pppoe xl2tpd pptpd pptp-linux socat user-mode-linux kmod patchelf libclang-dev iproute2 procps gawk debhelper lintian mmdebstrap etcd-server etcd-client protobuf-compiler nftables binutils"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "setup: these Debian packages are missing:$missing; run as root to install them" >&2
        exit 1
    fi
    echo "setup: installing$missing"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi
if ! command -v cargo >/dev/null 2>&1; then
    echo "setup: cargo not found: install a Rust toolchain, 1.82 or newer (rustup)" >&2
    exit 1
fi
for c in fmt clippy; do
    cargo $c --version >/dev/null 2>&1 || rustup component add "$( [ $c = fmt ] && echo rustfmt || echo clippy )"
done
