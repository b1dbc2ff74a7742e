# SIGKILL of the dial-in pppd with norasstatic-watchdog: nothing runs in
# pppd and no watchdog is started. The lease shows as stale, `rasstatic
# reap` frees it, and a later SIGKILLed lease is reaped by the next claim
# that needs it.
. "$LIB"
POOL=10.9.10.1
line 1
server 1 10.0.0.1: rasstatic-pool $POOL norasstatic-watchdog
client 1
ev "addr1 $(caller_addr 1)"
ev "server1_pid $(spid 1)"
kill -9 $(spid 1)
ended server 1 > /dev/null
kill -TERM $(cpid 1); ended client 1 > /dev/null
snap after-kill
"$RASSTATIC" reap --dir "$TDIR" > "$OUT/reap.out" 2>&1
ev "reap_status $?"
snap after-reap
line 2
server 2 10.0.0.1: rasstatic-pool $POOL norasstatic-watchdog
client 2
ev "addr2 $(caller_addr 2)"
kill -9 $(spid 2)
ended server 2 > /dev/null
kill -TERM $(cpid 2); ended client 2 > /dev/null
line 3
server 3 10.0.0.1: rasstatic-pool $POOL norasstatic-watchdog
client 3
ev "addr3 $(caller_addr 3)"
snap next-up
kill -TERM $(cpid 3)
ended server 3 > /dev/null
snap end
