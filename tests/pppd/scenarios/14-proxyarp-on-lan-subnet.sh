# The pool lies in the LAN's subnet and the line uses proxyarp: pppd still
# accepts the pool address, publishes it on the LAN, and withdraws it.
. "$LIB"
ip link add lan0 type dummy
ip addr add 10.9.14.254/24 dev lan0
# pppd publishes proxy ARP entries only on ARP-capable interfaces.
ip link set lan0 arp on up
line 1
server 1 10.0.0.1: rasstatic-pool 10.9.14.10-10.9.14.12 proxyarp
client 1
ev "addr1 $(caller_addr 1)"
ip neigh show proxy > "$OUT/proxy.up"
snap up
kill -TERM $(cpid 1)
ev "server_exit $(ended server 1)"
ip neigh show proxy > "$OUT/proxy.down"
snap end
ip link del lan0
