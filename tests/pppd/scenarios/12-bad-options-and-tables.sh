# Each malformed option value makes pppd exit 2 naming it. A corrupt,
# foreign, truncated or world-writable table is refused, never trusted:
# a damaged one is moved aside and the table rebuilt; a world-writable one
# stops pppd.
. "$LIB"
bad() {
    k=$1; shift
    $PPPD /dev/null nodetach noauth plugin "$PLUGIN" rasstatic-dir "$TDIR" "$@" > "$OUT/bad.$k.out" 2>&1
    ev "bad_$k $?"
}
bad pool-syntax rasstatic-pool 10.9.12.300
bad pool-reversed rasstatic-pool 10.9.12.9-10.9.12.1
bad pool-prefix rasstatic-pool 10.9.12.0/33
bad pool-loopback rasstatic-pool 127.0.0.1
bad pool-multicast rasstatic-pool 224.0.0.1-224.0.0.9
bad pool-empty rasstatic-pool 10.9.12.5 rasstatic-exclude 10.9.12.0/24
bad exclude-syntax rasstatic-pool 10.9.12.1 rasstatic-exclude nonsense
bad name rasstatic-pool 10.9.12.1 rasstatic-name ../etc
bad dir rasstatic-pool 10.9.12.1 rasstatic-dir relative/dir
bad policy rasstatic-pool 10.9.12.1 rasstatic-policy random
# No pool at all: pppd stops before answering anyone.
line 9
server 9 10.0.0.1:
ev "nopool_exit $(ended server 9 10)"
# A pool of only the server's own address: every caller would be refused.
line 8
server 8 10.9.12.7: rasstatic-pool 10.9.12.7 rasstatic-name own
ev "ownpool_exit $(ended server 8 10)"

# Bad tables. A good one first, to spoil. No watchdog, so that pppd
# itself meets the bad file (a watchdog heals a damaged table on its own:
# scenario 19).
n=0
for kind in corrupt foreign truncated writable; do
    n=$((n + 1))
    line $n
    rm -f "$TDIR/default.table"
    server $n 10.0.0.1: rasstatic-pool 10.9.12.0/24 norasstatic-watchdog
    client $n
    ev "good_$kind $(caller_addr $n)"
    kill -TERM $(spid $n); ended server $n > /dev/null; ended client $n > /dev/null
    T=$TDIR/default.table
    case $kind in
        corrupt) printf '\377\377\377\377' | dd of="$T" bs=1 seek=16 conv=notrunc 2>/dev/null ;;
        foreign) head -c 8192 /dev/urandom > "$T" ;;
        truncated) truncate -s 6000 "$T" ;;
        writable) chmod 666 "$T" ;;
    esac
    sum_before=$(md5sum < "$T")
    "$RASSTATIC" show --dir "$TDIR" > "$OUT/show.$kind.out" 2>&1
    ev "bad_table_${kind}_show $?"
    server $n 10.0.0.1: rasstatic-pool 10.9.12.0/24 norasstatic-watchdog
    client $n
    if [ $kind = writable ]; then
        # Not ours to judge: refused, left as it is, pppd stops.
        ev "bad_table_${kind}_exit $(ended server $n 15)"
        grep -q "local  IP address" "$OUT/client.$n.log" && ev "bad_table_${kind}_got_address yes"
        [ "$(md5sum < "$T")" = "$sum_before" ] && ev "bad_table_${kind}_untouched yes"
        kill -9 $(cpid $n) 2>/dev/null
    else
        # Damaged: refused, moved aside untouched, and the table rebuilt.
        ev "rebuilt_${kind}_addr $(caller_addr $n)"
        [ "$(md5sum < "$T.damaged")" = "$sum_before" ] && ev "rebuilt_${kind}_aside_untouched yes"
        snap rebuilt-$kind
        kill -TERM $(spid $n); ended server $n > /dev/null; ended client $n > /dev/null
        snap rebuilt-$kind-end
        rm -f "$T.damaged"
    fi
done
