# pppd changes PID when it detaches: without nodetach it forks before the
# call; with updetach it forks after the address is chosen. The lease must
# follow. Then SIGKILL the detached pppd: its address comes back.
. "$LIB"
SRVD=$(echo "$SRV" | sed 's/nodetach//')
POOL=10.9.9.1
line 1
# updetach: pppd stays in the foreground until IPCP is up, then forks.
launch server 1 $PPPD "$L/s1" $SRVD updetach plugin "$PLUGIN" rasstatic-dir "$TDIR" \
    logfile "$OUT/server.1.log" linkname upd 10.0.0.1: rasstatic-pool $POOL
client 1
ev "addr_updetach $(caller_addr 1)"
ev "launcher_exit_updetach $(ended server 1 10)"
wait_for /run/ppp-upd.pid . 5
ev "launcher_pid_updetach $(spid 1)"
U=$(head -1 /run/ppp-upd.pid)
ev "daemon_pid_updetach $U"
snap updetach-up
kill -TERM $(cpid 1)
ended client 1 > /dev/null
gone $U
snap updetach-down
# Plain detach: forks right after option parsing, before the call.
line 2
launch server 2 $PPPD "$L/s2" $SRVD plugin "$PLUGIN" rasstatic-dir "$TDIR" \
    logfile "$OUT/server.2.log" linkname det 10.0.0.1: rasstatic-pool $POOL
ev "launcher_exit_detach $(ended server 2 10)"
client 2
ev "addr_detach $(caller_addr 2)"
wait_for /run/ppp-det.pid . 5
D=$(head -1 /run/ppp-det.pid)
ev "daemon_pid_detach $D"
snap detach-up
ev "freed_detach_us $(kill_freed_us $D 10.9.9.1)"
gone $D
kill -TERM $(cpid 2); ended client 2 > /dev/null
snap after-kill
# The pool has one address: the watchdog gave it back; the next caller
# gets it.
line 3
server 3 10.0.0.1: rasstatic-pool $POOL
client 3
ev "addr_next $(caller_addr 3)"
snap next-up
kill -TERM $(cpid 3)
ended server 3 > /dev/null
snap end
