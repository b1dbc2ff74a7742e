#!/bin/sh
# Builds the Debian packages into target/debian/, two per pppd version
# (one source version, <version>+deb12 or <version>+deb13):
#   rasstatic_<version>+deb12_amd64.deb        plugin for pppd 2.4.9 (Debian 12)
#   rasstatic-agent_<version>+deb12_amd64.deb  cluster agent, for Debian 12
#   rasstatic_<version>+deb13_amd64.deb        plugin for pppd 2.5.2 (Debian 13)
#   rasstatic-agent_<version>+deb13_amd64.deb  cluster agent, for Debian 13
# on Debian 12, with debhelper (Debian's own packaging tool) and the
# ppp-dev of each pppd: this machine's for 2.4.9, the one
# scripts/fetch-pppd-2.5.sh unpacks for 2.5.2. cargo builds first: the
# plugins (scripts/build-plugins.sh), then the command and the agent
# (crate cluster/; it needs protoc), each once, as the agent does not
# depend on pppd. Each version's packages are then assembled in their own
# staging directory under target/debian/build/ from pkg/debian/, so
# nothing is written into the source tree.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
for t in dpkg-buildpackage dh; do
    command -v "$t" > /dev/null || {
        echo "build-debs: $t is missing: install Debian's debhelper (scripts/setup.sh does)" >&2
        exit 1
    }
done
command -v protoc > /dev/null || {
    echo "build-debs: protoc is missing (the agent's etcd client needs it): install Debian's protobuf-compiler (scripts/setup.sh does)" >&2
    exit 1
}
[ -f /usr/share/ppp-dev/substvars ] || {
    echo "build-debs: /usr/share/ppp-dev/substvars is missing: install Debian's ppp-dev" >&2
    exit 1
}
started=$(date +%s)
sh scripts/build-plugins.sh
cargo build --release --bin rasstatic
cargo build --release -p rasstatic-cluster --bin rasstatic-agent

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -1)
logged=$(sed -n '1s/^rasstatic (\([^)]*\)).*/\1/p' pkg/debian/changelog)
[ "$version" = "$logged" ] || {
    echo "build-debs: Cargo.toml says version $version, pkg/debian/changelog $logged" >&2
    exit 1
}
agent=$(sed -n 's/^version = "\(.*\)"$/\1/p' cluster/Cargo.toml | head -1)
[ "$version" = "$agent" ] || {
    echo "build-debs: Cargo.toml says version $version, cluster/Cargo.toml $agent" >&2
    exit 1
}

OUT=$ROOT/target/debian
mkdir -p "$OUT"
rm -f "$OUT"/rasstatic_*.deb "$OUT"/rasstatic-agent_*.deb

# package SUFFIX SUITE PLUGIN SUBSTVARS
package() {
    v=$version+$1
    B=$OUT/build/$1
    S=$B/rasstatic-$v
    rm -rf "$B"
    mkdir -p "$S/prebuilt" "$S/pppd-plugin" "$S/cluster"
    cp -r pkg/debian "$S/debian"
    cp pppd-plugin/rasstatic.8 pppd-plugin/options.ttyS0.example \
        "pppd-plugin/rasstatic-watchdog@.service" "$S/pppd-plugin/"
    cp cluster/rasstatic-agent.8 cluster/default.cluster \
        "cluster/rasstatic-agent@.service" "$S/cluster/"
    cp "$3" "$S/prebuilt/rasstatic.so"
    cp target/release/rasstatic "$S/prebuilt/rasstatic"
    cp target/release/rasstatic-agent "$S/prebuilt/rasstatic-agent"
    cp "$4" "$S/ppp-dev.substvars"
    # This build's version and suite in the first changelog entry.
    sed -i "1s/^rasstatic ([^)]*) [a-z]*;/rasstatic ($v) $2;/" "$S/debian/changelog"
    ( cd "$S" && dpkg-buildpackage -b -us -uc ) > "$B/build.log" 2>&1 || {
        cat "$B/build.log" >&2
        echo "build-debs: dpkg-buildpackage failed for $v (log: $B/build.log)" >&2
        exit 1
    }
    cp "$B/rasstatic_${v}_amd64.deb" "$B/rasstatic-agent_${v}_amd64.deb" "$OUT/"
}

v24=$(sed -n 's/^ppp:PluginDir=\/usr\/lib\/pppd\///p' /usr/share/ppp-dev/substvars)
v25=$(sed -n 's/^ppp:PluginDir=\/usr\/lib\/pppd\///p' target/pppd-2.5/root/usr/share/ppp-dev/substvars)
package deb12 bookworm "target/plugins/rasstatic-pppd-$v24.so" /usr/share/ppp-dev/substvars
package deb13 trixie "target/plugins/rasstatic-pppd-$v25.so" target/pppd-2.5/root/usr/share/ppp-dev/substvars
echo "build-debs: built in $(( $(date +%s) - started )) s:"
ls -l "$OUT"/rasstatic_*.deb "$OUT"/rasstatic-agent_*.deb
