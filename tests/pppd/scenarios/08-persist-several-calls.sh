# A persist dial-in pppd serves several calls in a row in one process;
# nothing accumulates, and round-robin gives each call the next address.
. "$LIB"
line 1
server 1 10.0.0.1: rasstatic-pool 10.9.8.1-10.9.8.3 persist holdoff 1
for call in 1 2 3 4; do
    client 1
    ev "addr_call$call $(caller_addr 1 20)"
    snap call$call-up
    kill -TERM $(cpid 1)
    ended client 1 > /dev/null
    for _ in $(seq 50); do
        [ "$(grep -c 'rasstatic: released' "$OUT/server.1.log")" -ge $call ] && break
        sleep 0.1
    done
    snap call$call-down
    sleep 1.2
done
kill -0 $(spid 1) && ev "server_alive yes"
ev "server_pid $(spid 1)"
kill -TERM $(spid 1)
ev "server_exit $(ended server 1)"
snap end
