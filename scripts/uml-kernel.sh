#!/bin/sh
# Chooses the User-Mode Linux kernel that boots on this host, for the demo,
# the real-pppd tests and bench/connect (tests/pppd/boot.sh calls it).
#
# Prints two shell assignments on stdout:
#   UML_KERNEL=<the linux.uml binary to run>
#   UML_MODULES=<the directory holding that kernel's <release>/kernel/...>
# and one line on stderr saying which kernel it chose and why.
#
# 1. Debian's own kernel (/usr/bin/linux.uml, package user-mode-linux) is
#    booted with init=/bin/true, which takes about 2 s. A kernel that works
#    ends with "Attempted to kill init! exitcode=0x00000000".
# 2. Where it panics (Debian 12's 6.1 and Debian 13's 6.12 do on hosts whose
#    CPU has AMX: "ptrace set fp regs failed"), Debian unstable's
#    user-mode-linux and the libc6 it needs are fetched with a private
#    sources list and private package lists under target/uml/ (the
#    machine's own apt sources stay untouched), unpacked there, and a copy
#    of its linux.uml is pointed at that libc with patchelf. It is cached:
#    later runs only boot-test it.
# 3. When no kernel boots, it exits 1 naming each kernel tried and the line
#    it panicked with.
#
# RASSTATIC_UML=fallback skips step 1 (tests the fallback on any host);
# RASSTATIC_UML=distro skips step 2. Default: auto.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=$ROOT/target/uml
MODE=${RASSTATIC_UML:-auto}
case $MODE in auto|fallback|distro) ;; *)
    echo "uml-kernel: RASSTATIC_UML=\"$MODE\": must be auto, fallback or distro" >&2; exit 2 ;;
esac
mkdir -p "$T"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
tried=""

# probe KERNEL: boot it with a trivial init; 0 if it reached init cleanly.
# Leaves its console in $T/probe.log and the telling line in $why.
probe() {
    timeout 60 "$1" mem=256M root=/dev/root rootfstype=hostfs rootflags=/ rw \
        init=/bin/true con=null con0=fd:0,fd:1 < /dev/null > "$T/probe.log" 2>&1 || true
    if grep -q 'Attempted to kill init! exitcode=0x00000000' "$T/probe.log"; then
        return 0
    fi
    why=$(grep -m1 -e 'ptrace set fp regs failed' -e 'Kernel panic' -e 'Too few physical memory' \
              -e 'error while loading shared libraries' -e 'Aborted' "$T/probe.log" \
          || tail -1 "$T/probe.log")
    [ -n "$why" ] || why="no output"
    return 1
}
# release KERNEL: the kernel release it reports (from its probe console).
release() { sed -n 's/^Linux version \([^ ]*\).*/\1/p' "$T/probe.log" | head -1; }

# chosen KERNEL MODULES WHY: print the choice and stop.
chosen() {
    echo "uml: $3" >&2
    printf 'UML_KERNEL=%s\nUML_MODULES=%s\n' "$1" "$2"
    exit 0
}

# One choice at a time: the demo, the tests and two checkouts' runs share
# target/uml (a fetch replaces what a probe may be reading).
exec 9> "$T/.lock"
flock 9

distro_why=""
if [ "$MODE" != fallback ]; then
    K=/usr/bin/linux.uml
    if [ ! -x "$K" ]; then
        distro_why="not installed (Debian package user-mode-linux)"
    elif probe "$K"; then
        chosen "$K" /usr/lib/uml/modules \
            "Debian's linux.uml $(release) boots on this $cpu; using it"
    else
        distro_why=$why
    fi
    tried="$tried
  $K: $distro_why"
fi

# fetch: Debian unstable's kernel and libc6 into $F, checked, then linked
# into place as $K. Its progress goes to $F.log; 1 on failure, with $why.
fetch() {
    started=$(date +%s)
    rm -rf "$F"
    mkdir -p "$F/apt/lists/partial" "$F/apt/cache/archives/partial" "$F/debs" "$F/root"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main" \
        > "$F/apt/sources.list"
    A="-o Dir::Etc::SourceList=$F/apt/sources.list -o Dir::Etc::SourceParts=/dev/null
       -o Dir::State::Lists=$F/apt/lists -o Dir::Cache=$F/apt/cache -o APT::Sandbox::User=root"
    command -v patchelf > /dev/null || { why="patchelf is missing: install Debian's patchelf (scripts/setup.sh does)"; return 1; }
    # shellcheck disable=SC2086
    timeout 300 apt-get $A update -q > "$F.log" 2>&1 || { why="apt-get update failed (see $F.log)"; return 1; }
    # shellcheck disable=SC2086
    ( cd "$F/debs" && timeout 300 apt-get $A download user-mode-linux libc6 ) >> "$F.log" 2>&1 \
        || { why="downloading user-mode-linux and libc6 failed (see $F.log)"; return 1; }
    for d in "$F"/debs/user-mode-linux_*.deb "$F"/debs/libc6_*.deb; do
        [ -f "$d" ] || { why="$d missing after the download"; return 1; }
        dpkg -x "$d" "$F/root"
    done
    ld=$(ls "$F"/root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 2> /dev/null || true)
    [ -n "$ld" ] || { why="no ld-linux-x86-64.so.2 in the unpacked libc6"; return 1; }
    ls "$F"/root/usr/lib/uml/modules/*/modules.dep > /dev/null 2>&1 \
        || { why="no modules.dep in the unpacked user-mode-linux"; return 1; }
    cp "$F/root/usr/bin/linux.uml" "$K.tmp"
    patchelf --set-interpreter "$ld" --set-rpath "${ld%/*}" "$K.tmp" >> "$F.log" 2>&1 \
        || { why="patchelf failed (see $F.log)"; return 1; }
    mv "$K.tmp" "$K"
    how="fetched now in $(( $(date +%s) - started )) s"
}

if [ "$MODE" != distro ]; then
    F=$T/sid
    K=$F/linux.uml
    forced=""
    [ "$MODE" != fallback ] || forced=" (RASSTATIC_UML=fallback)"
    because=""
    [ -z "$distro_why" ] || because="Debian's linux.uml does not boot on this $cpu ($distro_why); "
    how="cached in $F"
    # A cached kernel that no longer boots is fetched again, once.
    for attempt in cached fresh; do
        if [ "$attempt" = fresh ] || [ ! -x "$K" ]; then
            fetch || break
        fi
        if probe "$K"; then
            chosen "$K" "$F/root/usr/lib/uml/modules" \
                "${because}using Debian unstable's linux.uml $(release) ($how)$forced"
        fi
        [ "$how" = "cached in $F" ] || break
    done
    tried="$tried
  $K: $why"
fi

echo "uml-kernel: no User-Mode Linux kernel boots on this $cpu (RASSTATIC_UML=$MODE). Tried:$tried
The last console is in $T/probe.log; rm -rf $T/sid fetches Debian unstable's kernel anew." >&2
exit 1
