# Three callers on a three-address pool get three distinct pool addresses.
# A fourth is refused cleanly, and gets an address once one hangs up.
. "$LIB"
POOL=10.9.1.1-10.9.1.3
for n in 1 2 3 4; do line $n; done
for n in 1 2 3; do server $n 10.0.0.1: rasstatic-pool $POOL; client $n; done
for n in 1 2 3; do ev "addr$n $(caller_addr $n)"; ev "spid$n $(spid $n)"; done
snap three-up
server 4 10.0.0.1: rasstatic-pool $POOL
client 4
ev "server4_exit $(ended server 4 20)"
ev "client4_exit $(ended client 4 20)"
grep -q "local  IP address" "$OUT/client.4.log" && ev "client4_got_address yes"
snap fourth-refused
kill -TERM $(cpid 1)
ev "server1_exit $(ended server 1)"
snap one-hung-up
server 4 10.0.0.1: rasstatic-pool $POOL
client 4
ev "addr4 $(caller_addr 4)"
snap fourth-up
for n in 2 3 4; do kill -TERM $(cpid $n); done
for n in 2 3 4; do ended server $n > /dev/null; done
snap end
