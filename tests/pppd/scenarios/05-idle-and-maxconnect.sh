# The idle and maxconnect limits end the call.
. "$LIB"
line 1
server 1 10.0.0.1: rasstatic-pool 10.9.5.1-10.9.5.5 idle 2
client 1
ev "addr_idle $(caller_addr 1)"
ev "server_exit_idle $(ended server 1 20)"
ended client 1 > /dev/null
snap after-idle
line 2
server 2 10.0.0.1: rasstatic-pool 10.9.5.1-10.9.5.5 maxconnect 3
client 2
ev "addr_maxconnect $(caller_addr 2)"
ev "server_exit_maxconnect $(ended server 2 20)"
ended client 2 > /dev/null
snap after-maxconnect
