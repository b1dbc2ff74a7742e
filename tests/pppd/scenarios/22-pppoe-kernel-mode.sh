# The same as 21 with pppoe-server in kernel mode (-k): each session's pppd
# loads rp-pppoe.so and talks PPPoE through pppoe.ko.
. "$LIB"
. "$(dirname "$LIB")/pppoe.sh"
pppoe_sessions 10.9.22.1-10.9.22.3 -k
