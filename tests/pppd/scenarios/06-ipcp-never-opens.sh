# IPCP never opens after the hook ran: the caller refuses IP (noip).
. "$LIB"
line 1
server 1 10.0.0.1: rasstatic-pool 10.9.6.1-10.9.6.5
client 1 noip
wait_for "$OUT/server.1.log" "assigned" 15 && ev "hook_ran yes"
ev "server_exit $(ended server 1 20)"
ended client 1 > /dev/null
snap end
