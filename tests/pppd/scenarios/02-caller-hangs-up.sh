# The caller hangs up: its pppd gets SIGTERM and sends LCP TermReq.
. "$LIB"
line 1
server 1 10.0.0.1: rasstatic-pool 10.9.2.1-10.9.2.5 debug
client 1
ev "addr1 $(caller_addr 1)"
snap up
kill -TERM $(cpid 1)
ev "server_exit $(ended server 1)"
ev "client_exit $(ended client 1)"
snap end
