#!/bin/sh
# Installs the packages of one Debian release from target/debian/ (built
# by scripts/build-debs.sh: rasstatic and rasstatic-agent) into a clean
# Debian root and tests them the way an administrator uses them:
#
# 1. A minimal Debian root of the packages' release (mmdebstrap, variant
#    apt, plus systemd, man-db and the tools the call needs: socat, kmod,
#    iproute2, procps), cached as target/pkgtest/<suite>-base.tar and
#    unpacked afresh for each run.
# 2. In a chroot: `apt-get install ./rasstatic_*.deb ./rasstatic-agent_*.deb`
#    (apt fetches the ppp rasstatic depends on from Debian), then for
#    rasstatic dpkg -L, man -w, systemd-analyze verify, rasstatic check on
#    the example options, and apt refusing the package built for the other
#    pppd; for rasstatic-agent dpkg -L, no conffile, man -w,
#    systemd-analyze verify of an instance of its unit, the agent run in
#    the root (--version; a bad setting: exit 2 naming FILE:LINE; the
#    example settings with no etcd to reach: exit 1), an instance enabled;
#    then apt-get purge rasstatic-agent: none of its files, nor the
#    enabled instance's link, nor a path naming it is left, nothing new,
#    and nothing of rasstatic is touched.
# 3. User-Mode Linux booted on that root (the kernel scripts/uml-kernel.sh
#    chooses), running scripts/package-test-guest.sh as PID 1: a real call
#    through the installed pppd with `plugin rasstatic.so` from
#    /usr/lib/pppd/<version>/, a reinstall and a removal while calls are up.
# 4. In the chroot again: apt-get purge, then no file of the package, no
#    path naming it, and nothing new since the install but apt and dpkg records.
#
# rasstatic-agent depends on this very rasstatic, so it is purged before
# the boot, which removes rasstatic with calls up.
#
# Usage: test-package.sh deb12|deb13
# Prints one "ok CHECK" or "FAIL CHECK: why" line per check, then
# "package-test: N passed, N failed" and the times; exits 1 if any failed.
# Needs root, mmdebstrap, and network access to Debian's archive.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
V=${1:-}
case $V in
    deb12) SUITE=bookworm ;;
    deb13) SUITE=trixie ;;
    *) echo "usage: test-package.sh deb12|deb13" >&2; exit 2 ;;
esac
for t in mmdebstrap unshare chroot tar; do
    command -v "$t" > /dev/null || {
        echo "test-package: $t is missing: install Debian's $t (scripts/setup.sh does)" >&2
        exit 1
    }
done
[ "$(id -u)" = 0 ] || { echo "test-package: must run as root (chroot, mounts)" >&2; exit 1; }
DEB=$(ls "$ROOT"/target/debian/rasstatic_*+"${V}"_amd64.deb 2>/dev/null | head -1)
[ -n "$DEB" ] || { echo "test-package: no target/debian/rasstatic_*+${V}_amd64.deb: run scripts/build-debs.sh" >&2; exit 1; }
AGENT_DEB=$(ls "$ROOT"/target/debian/rasstatic-agent_*+"${V}"_amd64.deb 2>/dev/null | head -1)
[ -n "$AGENT_DEB" ] || { echo "test-package: no target/debian/rasstatic-agent_*+${V}_amd64.deb: run scripts/build-debs.sh" >&2; exit 1; }

T=$ROOT/target/pkgtest
W=$T/$V
R=$W/root
P=$R/var/tmp/pkgtest
BASE=$T/$SUITE-base.tar
mkdir -p "$T"
started=$(date +%s)

# 1. The clean root.
cached=yes
if [ ! -f "$BASE" ]; then
    cached=no
    echo "test-package: building a clean $SUITE root with mmdebstrap (cached as $BASE)"
    mmdebstrap --variant=apt --format=tar \
        --include=systemd,systemd-sysv,man-db,socat,kmod,iproute2,procps \
        "$SUITE" "$BASE.tmp" http://deb.debian.org/debian > "$T/$SUITE-mmdebstrap.log" 2>&1 || {
        tail -30 "$T/$SUITE-mmdebstrap.log" >&2
        echo "test-package: mmdebstrap failed (log: $T/$SUITE-mmdebstrap.log)" >&2
        exit 1
    }
    mv "$BASE.tmp" "$BASE"
fi
rm -rf "$W"
mkdir -p "$R"
tar -C "$R" -xf "$BASE"
cp /etc/resolv.conf "$R/etc/resolv.conf"
root_ready=$(date +%s)

RESULTS=$W/results
: > "$RESULTS"
ok() { echo "ok $1" >> "$RESULTS"; }
fail() { echo "FAIL $1: $2" >> "$RESULTS"; }
# gone_after_purge NAME LIST: ok if no path of LIST (a package's `dpkg -L`,
# saved at install) is left in the root, but directories something else
# still uses.
gone_after_purge() {
    left=""
    while read -r f; do
        [ "$f" = /. ] && continue
        [ -e "$R$f" ] || [ -L "$R$f" ] || continue
        [ -d "$R$f" ] && [ -n "$(ls -A "$R$f")" ] && continue
        left="$left $f"
    done < "$2"
    if [ -z "$left" ]; then ok "$1"; else fail "$1" "$left"; fi
}
check() { # check NAME COMMAND...: ok if the command succeeds
    n=$1; shift
    if out=$("$@" 2>&1); then ok "$n"; else fail "$n" "$(echo "$out" | tail -3 | tr '\n' ' ')"; fi
}
# inroot COMMAND...: run in the root, with /proc and /dev, in a private
# mount namespace (the mounts go with it).
inroot() {
    unshare -m sh -c 'mount --make-rprivate / && mount -t proc proc "$0/proc" &&
        mount --rbind /dev "$0/dev" && exec chroot "$0" "$@"' "$R" "$@"
}
# files: every path in the root but the virtual and test directories.
files() {
    ( cd "$R" && find . -xdev \( -path ./proc -o -path ./dev -o -path ./sys -o -path ./var/tmp/pkgtest \) -prune \
        -o -print | sed 's|^\.||' | sort )
}

# 2. Install as an administrator would.
mkdir -p "$P"
cp "$DEB" "$P/rasstatic.deb"
cp "$AGENT_DEB" "$P/rasstatic-agent.deb"
files > "$W/files.before"
if inroot sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q ./var/tmp/pkgtest/rasstatic.deb ./var/tmp/pkgtest/rasstatic-agent.deb' \
        > "$W/install.log" 2>&1; then
    ok install
else
    fail install "apt-get install failed: $(tail -3 "$W/install.log" | tr '\n' ' ')"
fi
# The package built for the other pppd is refused next to this one.
case $V in deb12) OTHER=deb13 ;; *) OTHER=deb12 ;; esac
OTHER_DEB=$(ls "$ROOT"/target/debian/rasstatic_*+"${OTHER}"_amd64.deb 2>/dev/null | head -1)
if [ -z "$OTHER_DEB" ]; then
    fail other-pppd-refused "no target/debian/rasstatic_*+${OTHER}_amd64.deb"
else
    cp "$OTHER_DEB" "$P/other.deb"
    if inroot apt-get install --simulate -q ./var/tmp/pkgtest/other.deb > "$W/other.log" 2>&1; then
        fail other-pppd-refused "apt would install the $OTHER package: $(tail -3 "$W/other.log" | tr '\n' ' ')"
    elif grep -q 'Depends: ppp (' "$W/other.log"; then
        ok other-pppd-refused
    else
        fail other-pppd-refused "apt failed for another reason: $(tail -3 "$W/other.log" | tr '\n' ' ')"
    fi
    rm -f "$P/other.deb"
fi
PPPV=$(inroot dpkg-query -W -f='${Version}' ppp 2>/dev/null || true)
inroot dpkg -L rasstatic > "$W/dpkg-L" 2>&1 || true
PLUGIN=$(grep '^/usr/lib/pppd/[0-9.]*/rasstatic\.so$' "$W/dpkg-L" || true)
PPPD_DIR=$(inroot pppd --version 2>&1 | sed -n 's/^pppd version \([0-9.]*\).*/\/usr\/lib\/pppd\/\1/p')
if [ -n "$PLUGIN" ] && [ "$PLUGIN" = "$PPPD_DIR/rasstatic.so" ]; then
    ok "dpkg-L-plugin-in-pppd-dir $PLUGIN"
else
    fail dpkg-L-plugin-in-pppd-dir "plugin \"$PLUGIN\", pppd's directory \"$PPPD_DIR\""
fi
for f in /usr/sbin/rasstatic /lib/systemd/system/rasstatic-watchdog@.service \
         /usr/lib/tmpfiles.d/rasstatic.conf /usr/share/doc/rasstatic/copyright \
         /usr/share/doc/rasstatic/changelog.gz /usr/share/doc/rasstatic/examples/options.ttyS0.example \
         /usr/share/man/man8/rasstatic.8.gz /usr/share/man/man8/pppd-rasstatic.8.gz; do
    if grep -qx "$f" "$W/dpkg-L"; then ok "dpkg-L $f"; else fail "dpkg-L $f" "not listed"; fi
done
for page in rasstatic pppd-rasstatic rasstatic.so; do
    check "man-w $page" inroot man -w "$page"
done
check man-renders inroot sh -c 'man -P cat rasstatic 2>&1 | grep -q rasstatic-pool'
check systemd-analyze-verify inroot sh -c \
    'systemd-analyze verify /lib/systemd/system/rasstatic-watchdog@.service 2>&1 | tee /dev/stderr | (! grep -q .)'
check check-example inroot rasstatic check /usr/share/doc/rasstatic/examples/options.ttyS0.example
check run-dir-after-install inroot sh -c '[ "$(stat -c "%a %U" /run/rasstatic)" = "700 root" ]'

# The agent's package.
inroot dpkg -L rasstatic-agent > "$W/dpkg-L-agent" 2>&1 || true
for f in /usr/sbin/rasstatic-agent /lib/systemd/system/rasstatic-agent@.service \
         /usr/share/doc/rasstatic-agent/copyright /usr/share/doc/rasstatic-agent/changelog.gz \
         /usr/share/doc/rasstatic-agent/examples/default.cluster \
         /usr/share/man/man8/rasstatic-agent.8.gz; do
    if grep -qx "$f" "$W/dpkg-L-agent"; then ok "dpkg-L $f"; else fail "dpkg-L $f" "not listed"; fi
done
# The settings are the administrator's to write: no file in /etc, no
# conffile.
check agent-no-conffile inroot sh -c '! dpkg -L rasstatic-agent | grep -q "^/etc/" &&
    [ -z "$(dpkg-query -W -f="\${Conffiles}" rasstatic-agent)" ]'
check "man-w rasstatic-agent" inroot man -w rasstatic-agent
check agent-man-renders inroot sh -c 'man -P cat rasstatic-agent 2>&1 | grep -q -- "--server-id"'
# An instance, as systemctl enable makes one.
check systemd-analyze-verify-agent inroot sh -c \
    'systemd-analyze verify rasstatic-agent@default.service 2>&1 | tee /dev/stderr | (! grep -q .)'
# The agent runs in this root (its shared libraries are there) and is the
# packaged version.
UPSTREAM=$(dpkg-deb -f "$AGENT_DEB" Version | sed 's/+deb[0-9]*$//')
check agent-version inroot sh -c "[ \"\$(rasstatic-agent --version)\" = 'rasstatic-agent $UPSTREAM' ]"
# A setting that is not one: exit status 2, the message names FILE:LINE.
printf '# bras-1\nendpoints http://127.0.0.1:1\nendpoint http://127.0.0.1:2\n' > "$P/bad.cluster"
code=0
inroot rasstatic-agent --config /var/tmp/pkgtest/bad.cluster > "$W/agent-bad.log" 2>&1 || code=$?
if [ "$code" = 2 ] && grep -q '^rasstatic-agent: /var/tmp/pkgtest/bad.cluster:3: "endpoint" is not a setting' "$W/agent-bad.log"; then
    ok agent-bad-setting-exit-2
else
    fail agent-bad-setting-exit-2 "exit status $code: $(head -3 "$W/agent-bad.log" | tr '\n' ' ')"
fi
# The example settings are whole: with no etcd to reach (port 1 on
# loopback), the agent makes its table, fenced, then exits 1.
code=0
inroot rasstatic-agent --config /usr/share/doc/rasstatic-agent/examples/default.cluster \
    --endpoints http://127.0.0.1:1 --dir /var/tmp/pkgtest/agent-run > "$W/agent-join.log" 2>&1 || code=$?
if [ "$code" = 1 ] && grep -q '^rasstatic-agent: etcd at http://127.0.0.1:1' "$W/agent-join.log" &&
        [ -f "$P/agent-run/default.table" ]; then
    ok agent-example-cannot-join-exit-1
else
    fail agent-example-cannot-join-exit-1 "exit status $code: $(tail -3 "$W/agent-join.log" | tr '\n' ' ')"
fi
# An instance enabled, as an administrator does: its link dangles once
# the package is removed, and the purge removes it.
WANTS=/etc/systemd/system/multi-user.target.wants/rasstatic-agent@default.service
check agent-enable-instance inroot sh -c "systemctl enable rasstatic-agent@default.service && [ -L $WANTS ]"
files > "$W/files.agent-installed"

# The agent's purge: rasstatic stays, untouched.
if inroot sh -c 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q rasstatic-agent' > "$W/purge-agent.log" 2>&1; then
    ok purge-agent
else
    fail purge-agent "$(tail -3 "$W/purge-agent.log" | tr '\n' ' ')"
fi
gone_after_purge purge-agent-removes-its-files "$W/dpkg-L-agent"
check purge-agent-removes-enabled-link sh -c "! [ -e '$R$WANTS' ] && ! [ -L '$R$WANTS' ]"
named=$(files | grep -i rasstatic-agent | grep -v -e '^/var/log/' -e '^/var/cache/man/' || true)
if [ -z "$named" ]; then ok purge-agent-no-agent-path; else fail purge-agent-no-agent-path "$(echo $named)"; fi
files > "$W/files.agent-purged"
comm -13 "$W/files.agent-installed" "$W/files.agent-purged" \
    | grep -v -e '^/var/lib/apt/' -e '^/var/cache/' -e '^/var/log/' -e '^/var/lib/dpkg/' \
    > "$W/files.agent-new" || true
if [ -s "$W/files.agent-new" ]; then
    fail purge-agent-leaves-nothing-new "$(head -20 "$W/files.agent-new" | tr '\n' ' ')"
else
    ok purge-agent-leaves-nothing-new
fi
# Only the agent's own paths went (and apt's and dpkg's records changed).
# Its paths as dpkg lists them, and under /usr too: /lib is a link to
# usr/lib in a merged-/usr root.
{ cat "$W/dpkg-L-agent"; sed -n 's#^/\(lib\|bin\|sbin\)/#/usr/\1/#p' "$W/dpkg-L-agent"; } > "$W/agent-paths"
comm -23 "$W/files.agent-installed" "$W/files.agent-purged" \
    | grep -v -e '^/var/lib/apt/' -e '^/var/cache/' -e '^/var/log/' -e '^/var/lib/dpkg/' -e "^$WANTS\$" \
    | grep -vxF -f "$W/agent-paths" > "$W/files.agent-gone" || true
if [ -s "$W/files.agent-gone" ]; then
    fail purge-agent-keeps-rasstatic "not the agent's: $(head -20 "$W/files.agent-gone" | tr '\n' ' ')"
elif [ "$(inroot dpkg-query -W -f='${Status}' rasstatic 2>&1)" != "install ok installed" ]; then
    fail purge-agent-keeps-rasstatic "rasstatic is no longer installed"
else
    ok purge-agent-keeps-rasstatic
fi
files > "$W/files.installed"
installed=$(date +%s)

# 3. Boot the root and call.
K=$(sh "$ROOT/scripts/uml-kernel.sh" 2> "$W/uml-kernel.log") || {
    cat "$W/uml-kernel.log" >&2
    echo "test-package: no User-Mode Linux kernel boots here" >&2
    exit 1
}
eval "$K"
cp -al "$UML_MODULES" "$P/modules" 2> /dev/null || cp -a "$UML_MODULES" "$P/modules"
cp "$ROOT/scripts/package-test-guest.sh" "$P/guest.sh"
cp "$ROOT/tests/pppd/modules.sh" "$P/modules.sh"
chmod 755 "$P/guest.sh"
timeout -k 10 300 "$UML_KERNEL" mem=512M root=/dev/root rootfstype=hostfs rootflags="$R" rw quiet \
    init=/var/tmp/pkgtest/guest.sh con=null con0=fd:0,fd:1 < /dev/null > "$W/console.log" 2>&1 || true
if [ -f "$P/finished" ]; then
    cat "$P/results" >> "$RESULTS"
else
    fail guest-finished "the guest did not finish (console: $W/console.log, log: $P/guest.log)"
    [ -f "$P/results" ] && cat "$P/results" >> "$RESULTS"
fi
booted=$(date +%s)

# 4. Purge, and nothing is left.
if inroot sh -c 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -q rasstatic' > "$W/purge.log" 2>&1; then
    ok purge
else
    fail purge "$(tail -3 "$W/purge.log" | tr '\n' ' ')"
fi
# Every file of the package is gone, and every directory of it that
# nothing else uses.
gone_after_purge purge-removes-package-files "$W/dpkg-L"
# No path names it (formatted pages man-db caches when `man` is run are
# man-db's, and expire with its daily job).
named=$(files | grep -i rasstatic | grep -v -e '^/var/log/' -e '^/var/cache/man/' || true)
if [ -z "$named" ]; then ok purge-no-rasstatic-path; else fail purge-no-rasstatic-path "$(echo $named)"; fi
# Nothing appeared since the install but apt's and dpkg's own records and
# logs.
files > "$W/files.after"
comm -13 "$W/files.installed" "$W/files.after" \
    | grep -v -e '^/var/lib/apt/' -e '^/var/cache/' -e '^/var/log/' -e '^/var/lib/dpkg/' \
    > "$W/files.new" || true
if [ -s "$W/files.new" ]; then
    fail purge-leaves-nothing-new "$(head -20 "$W/files.new" | tr '\n' ' ')"
else
    ok purge-leaves-nothing-new
fi
done_=$(date +%s)

cat "$RESULTS"
passed=$(grep -c '^ok ' "$RESULTS" || true)
failed=$(grep -c '^FAIL ' "$RESULTS" || true)
echo "package-test $V: ppp $PPPV; root $( [ $cached = yes ] && echo cached || echo built) $((root_ready - started)) s, install and checks $((installed - root_ready)) s, boot and call $((booted - installed)) s, purge $((done_ - booted)) s, total $((done_ - started)) s"
echo "package-test $V: $passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
