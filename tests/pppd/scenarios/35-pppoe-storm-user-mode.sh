# The small login storm of scenario 34 through a user-space pppoe-server
# (each session's pppd runs /usr/sbin/pppoe as its pty).
. "$LIB"
. "$(dirname "$LIB")/pppoe.sh"
. "$(dirname "$LIB")/storm.sh"
STORM_MODE=user pppoe_storm 30 10.9.35.1-10.9.35.30
