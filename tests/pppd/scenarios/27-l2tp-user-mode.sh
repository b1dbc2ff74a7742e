# The same as 26 with the LNS in user-space mode (`force userspace = yes`):
# each session's pppd runs on a pty that xl2tpd feeds.
. "$LIB"
. "$(dirname "$LIB")/l2tp.sh"
l2tp_sessions 10.9.27.1-10.9.27.3
