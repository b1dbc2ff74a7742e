# The demo, run inside the guest by guest-init.sh: four dial-in lines, a
# three-address pool, and the lease table after every event, through
# hang-ups, carrier loss and kill -9 (of pppd, and of the watchdog).
. "$LIB"
POOL=10.99.0.1-10.99.0.3
TDIR=/run/rasstatic
B=$(printf '\033[1m'); N=$(printf '\033[0m')
say() { printf '\n%s== %s ==%s\n' "$B" "$*" "$N"; }
table() { "$RASSTATIC" show --dir "$TDIR"; }
rlog() { grep -h "rasstatic: $1" "$OUT"/server.*.log | tail -${2:-1} | sed 's/^/    pppd: /'; }
# The watchdog logs to syslog, which the guest keeps in $OUT/syslog.
slog() { tr '<' '\n' < "$OUT/syslog" | grep "rasstatic\[.*$1" | tail -1 | sed 's/^[0-9]*>[A-Z][a-z]* [0-9 ]* [0-9:]* /    syslog: /'; }

say "rasstatic demo: 4 dial-in lines, pool $POOL, real pppd $($PPPD --version 2>&1 | awk '{print $3}')"
echo "Each line is a pty pair; the dial-in side runs:"
echo "    pppd /dev/ttyX ... plugin rasstatic.so rasstatic-pool $POOL"
for n in 1 2 3 4; do line $n; done

say "Three callers dial in"
for n in 1 2 3; do server $n 10.0.0.1: rasstatic-pool $POOL; client $n; done
for n in 1 2 3; do echo "    caller $n got $(caller_addr $n)"; done
table

say "A fourth caller dials: the pool is exhausted, so pppd refuses it cleanly"
server 4 10.0.0.1: rasstatic-pool $POOL; client 4
ended server 4 20 > /dev/null; ended client 4 > /dev/null
rlog "pool exhausted"
table

say "Caller 1 hangs up normally (LCP Terminate-Request)"
kill -TERM $(cpid 1); ended server 1 > /dev/null
rlog released
table

say "The fourth caller tries again and gets the freed address"
server 4 10.0.0.1: rasstatic-pool $POOL; client 4
echo "    caller 4 got $(caller_addr 4)"

say "Line 2 loses carrier (its pty pair disappears)"
kill -9 $(cat "$OUT/socat.2.pid"); ended server 2 > /dev/null
rlog released
table

say "kill -9 of the dial-in pppd on line 3: nothing runs in pppd"
A3=$(caller_addr 3)
kill -9 $(spid 3); ended server 3 > /dev/null; kill -TERM $(cpid 3)
for _ in $(seq 50); do [ "$(state $A3)" = free ] && break; sleep 0.02; done
echo "    The plugin started a watchdog with the first pppd; it frees the address:"
slog reaped
table

say "kill -9 of the watchdog, then of the pppd on line 4"
W=$(wd_pid); kill -9 $W; gone $W
kill -9 $(spid 4); ended server 4 > /dev/null; kill -TERM $(cpid 4)
table
echo "    With no watchdog the lease shows as stale: its holder is dead. The next"
echo "    caller that finds the pool full reaps it (and its pppd starts a new"
echo "    watchdog); an administrator can reap it now:"
echo "    \$ rasstatic reap"
"$RASSTATIC" reap --dir "$TDIR" | sed 's/^/    /'
table

say "Every address is back. Counters since the table was created:"
"$RASSTATIC" stats --dir "$TDIR"
