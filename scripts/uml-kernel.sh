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

if [ "$MODE" != fallback ]; then
    K=/usr/bin/linux.uml
    if [ ! -x "$K" ]; then
        tried="$tried
  $K: not installed (Debian package user-mode-linux)"
    elif probe "$K"; then
        chosen "$K" /usr/lib/uml/modules \
            "Debian's linux.uml $(release) boots on this $cpu; using it"
    else
        tried="$tried
  $K: $why"
        [ "$MODE" = distro ] || echo "uml: Debian's linux.uml does not boot on this $cpu ($why); trying Debian unstable's" >&2
    fi
fi

if [ "$MODE" != distro ]; then
    F=$T/sid
    K=$F/linux.uml
    if [ ! -x "$K" ]; then
        started=$(date +%s)
        rm -rf "$F"
        mkdir -p "$F/apt/lists/partial" "$F/apt/cache/archives/partial" "$F/debs" "$F/root"
        echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main" \
            > "$F/apt/sources.list"
        A="-o Dir::Etc::SourceList=$F/apt/sources.list -o Dir::Etc::SourceParts=/dev/null
           -o Dir::State::Lists=$F/apt/lists -o Dir::Cache=$F/apt/cache -o APT::Sandbox::User=root"
        echo "uml: fetching Debian unstable's user-mode-linux and libc6 into $F" >&2
        if ! command -v patchelf > /dev/null; then
            echo "uml-kernel: patchelf is missing: install Debian's patchelf (scripts/setup.sh does)" >&2
            exit 1
        fi
        # shellcheck disable=SC2086
        apt-get $A update -q > "$F/apt/update.log" 2>&1 \
            || { cat "$F/apt/update.log" >&2; echo "uml-kernel: apt-get update failed" >&2; exit 1; }
        # shellcheck disable=SC2086
        ( cd "$F/debs" && apt-get $A download user-mode-linux libc6 ) > "$F/apt/download.log" 2>&1 \
            || { cat "$F/apt/download.log" >&2; echo "uml-kernel: download failed" >&2; exit 1; }
        for d in "$F"/debs/user-mode-linux_*.deb "$F"/debs/libc6_*.deb; do
            [ -f "$d" ] || { echo "uml-kernel: $d missing after the download" >&2; exit 1; }
            dpkg -x "$d" "$F/root"
        done
        cp "$F/root/usr/bin/linux.uml" "$K.tmp"
        patchelf --set-interpreter "$F/root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \
                 --set-rpath "$F/root/usr/lib/x86_64-linux-gnu" "$K.tmp"
        mv "$K.tmp" "$K"
        echo "uml: fetched and prepared in $(( $(date +%s) - started )) s" >&2
    fi
    if probe "$K"; then
        chosen "$K" "$F/root/usr/lib/uml/modules" \
            "Debian unstable's linux.uml $(release) (cached in $F) boots on this $cpu; using it$( [ "$MODE" = fallback ] && echo ' (RASSTATIC_UML=fallback)')"
    fi
    tried="$tried
  $K: $why"
fi

echo "uml-kernel: no User-Mode Linux kernel boots on this $cpu (RASSTATIC_UML=$MODE). Tried:$tried
The last console is in $T/probe.log." >&2
exit 1
