# rp-pppoe's pppoe-server in user-space mode (each session's pppd runs
# /usr/sbin/pppoe as its pty) with the plugin in the options it gives pppd:
# distinct pool addresses, a clean refusal when the pool is exhausted, a
# caller hanging up, a session's pppd SIGKILLed (the watchdog frees it).
. "$LIB"
. "$(dirname "$LIB")/pppoe.sh"
pppoe_sessions 10.9.21.1-10.9.21.3
