# Sourced by the guests' init scripts (tests/pppd/guest-init.sh,
# scripts/package-test-guest.sh). With M set to the booted kernel's own
# module directory (<modules>/$(uname -r)):
# load MODULE: insmod it and, first, what it depends on (its modules.dep);
# built-in modules are skipped.
loaded=" "
load() {
    local entry d dep
    case $loaded in *" $1 "*) return 0 ;; esac
    loaded="$loaded$1 "
    grep -q "/$1\.ko" "$M/modules.builtin" 2>/dev/null && return 0
    entry=$(grep "/$1\.ko[.a-z]*:" "$M/modules.dep" | head -1)
    [ -n "$entry" ] || { echo "module $1: not in $M/modules.dep"; return 1; }
    for dep in ${entry#*:}; do
        d=${dep##*/}
        load "${d%%.ko*}"
    done
    insmod "$M/${entry%%:*}" || echo "insmod $1 failed"
}
