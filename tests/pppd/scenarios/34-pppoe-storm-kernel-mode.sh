# A login storm, small: 30 PPPoE callers dial one kernel-mode
# pppoe-server at once on a pool of exactly 30 addresses, then all hang
# up at once (their namespace torn down). bench/storm runs the same with
# hundreds, timed; here nothing is timed, only what must hold.
. "$LIB"
. "$(dirname "$LIB")/pppoe.sh"
. "$(dirname "$LIB")/storm.sh"
pppoe_storm 30 10.9.34.1-10.9.34.30
