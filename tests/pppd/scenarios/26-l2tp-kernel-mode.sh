# Debian 12's xl2tpd as an LNS in kernel mode (each session's pppd loads
# pppol2tp.so) with the plugin in the options it gives pppd, and one xl2tpd
# LAC per caller: distinct pool addresses, a clean refusal when the pool
# is exhausted, a caller hanging up, a session's pppd SIGKILLed (the
# watchdog frees it), a caller's LAC closing its tunnel.
. "$LIB"
. "$(dirname "$LIB")/l2tp.sh"
l2tp_sessions 10.9.26.1-10.9.26.3 -k
