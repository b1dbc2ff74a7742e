# IPCP renegotiation inside one connection: the caller sends a fresh IPCP
# Configure-Request while IPCP is open. pppd takes IPCP down (ip_down) and
# chooses again; the caller keeps its address and nothing is left behind.
. "$LIB"
line 1
server 1 10.0.0.1: rasstatic-pool 10.9.7.1-10.9.7.5
launch client 1 "$PPPEER" "$L/c1" 3
ev "peer_exit $(ended client 1 40)"
ev "server_exit $(ended server 1 20)"
snap end
