# The table is overwritten in place with random bytes while three calls
# are up and the watchdog runs: it is never trusted. The watchdog moves it
# aside and rebuilds the table from the kernel's sessions, the live
# sessions re-enter their leases, and three more callers get three other
# addresses. No address is ever on two ppp interfaces.
. "$LIB"
POOL=10.9.19.1-10.9.19.6
for n in 1 2 3; do
    line $n
    server $n 10.0.0.1: rasstatic-pool $POOL
    client $n
    ev "addr$n $(caller_addr $n)"
done
snap up
T=$TDIR/default.table
head -c $(stat -c %s "$T") /dev/urandom | dd of="$T" conv=notrunc 2>/dev/null
ev "back_ms $(leased_ms $(grep '^addr' "$OUT/events" | cut -d' ' -f2))"
[ -f "$T.damaged" ] && ev "aside yes"
snap back
for n in 4 5 6; do
    line $n
    server $n 10.0.0.1: rasstatic-pool $POOL
    client $n
    ev "addr$n $(caller_addr $n)"
done
ev "peers $(peers)"
snap six
for n in 1 2 3 4 5 6; do kill -TERM $(cpid $n); done
for n in 1 2 3 4 5 6; do ended server $n > /dev/null; ended client $n > /dev/null; done
snap end
