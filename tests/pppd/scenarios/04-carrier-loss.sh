# Carrier loss: the pty pair disappears under both pppds.
. "$LIB"
line 1
server 1 10.0.0.1: rasstatic-pool 10.9.4.1-10.9.4.5
client 1
ev "addr1 $(caller_addr 1)"
snap up
kill -9 $(cat "$OUT/socat.1.pid")
ev "server_exit $(ended server 1)"
ended client 1 > /dev/null
snap end
