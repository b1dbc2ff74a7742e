# pppoe-server (user-space mode) SIGKILLed with sessions up, then started
# again: no address stays leased to a dead session, none is handed out
# twice; what becomes of the live sessions is recorded.
. "$LIB"
. "$(dirname "$LIB")/pppoe.sh"
pppoe_server_killed 10.9.23.1-10.9.23.4
