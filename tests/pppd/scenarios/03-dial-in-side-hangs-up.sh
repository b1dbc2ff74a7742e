# The dial-in side hangs up: SIGTERM, SIGINT, SIGHUP without persist, and
# SIGHUP with persist (the same pppd then answers the next call).
. "$LIB"
POOL=10.9.3.1-10.9.3.5
n=0
for sig in TERM INT HUP; do
    n=$((n + 1))
    line $n
    server $n 10.0.0.1: rasstatic-pool $POOL
    client $n
    ev "addr_$sig $(caller_addr $n)"
    kill -$sig $(spid $n)
    ev "server_exit_$sig $(ended server $n)"
    ended client $n > /dev/null
    snap after-$sig
done
# SIGHUP with persist: the pppd stays and serves a second call.
line 4
server 4 10.0.0.1: rasstatic-pool $POOL persist holdoff 1
client 4
ev "addr_persist1 $(caller_addr 4)"
kill -HUP $(spid 4)
ended client 4 > /dev/null
wait_for "$OUT/server.4.log" "released" 10
snap after-HUP-persist
kill -0 $(spid 4) && ev "persist_server_alive yes"
# The next call on the same line, same pppd.
sleep 1.5
client 4
ev "addr_persist2 $(caller_addr 4 20)"
snap persist-second-call
kill -TERM $(spid 4)
ev "server_exit_persist $(ended server 4)"
snap end
