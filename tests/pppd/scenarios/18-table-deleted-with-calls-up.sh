# The table is deleted with three calls up and no watchdog: the live
# sessions' leases are back in the new table within the plugin's check
# interval (each pppd re-enters its own), and whoever creates the table
# enters the kernel's sessions first. Three more callers then get three
# other addresses; no address is ever on two ppp interfaces.
. "$LIB"
POOL=10.9.18.1-10.9.18.6
for n in 1 2 3; do
    line $n
    server $n 10.0.0.1: rasstatic-pool $POOL norasstatic-watchdog
    client $n
    ev "addr$n $(caller_addr $n)"
done
snap up
rm "$TDIR/default.table"
ev "back_ms $(leased_ms $(grep '^addr' "$OUT/events" | cut -d' ' -f2))"
snap back
# Deleted again, and a new caller comes in at once: its pppd creates the
# table and enters the three sessions from the kernel before its claim.
rm "$TDIR/default.table"
for n in 4 5 6; do
    line $n
    server $n 10.0.0.1: rasstatic-pool $POOL norasstatic-watchdog
    client $n
    ev "addr$n $(caller_addr $n)"
done
ev "peers $(peers)"
snap six
grep -h "entered .* lease(s) of live sessions found in the kernel" "$OUT"/server.*.log > "$OUT/entered.out"
for n in 1 2 3 4 5 6; do kill -TERM $(cpid $n); done
for n in 1 2 3 4 5 6; do ended server $n > /dev/null; ended client $n > /dev/null; done
snap end
