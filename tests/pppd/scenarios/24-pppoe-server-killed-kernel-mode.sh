# The same as 23 with pppoe-server in kernel mode (-k).
. "$LIB"
. "$(dirname "$LIB")/pppoe.sh"
pppoe_server_killed 10.9.24.1-10.9.24.4 -k
