# pptpd SIGKILLed with two calls up, then started again: no address stays
# leased to a dead session, none is handed out twice; what becomes of the
# live calls (their pptpctrl and pppd) is recorded.
. "$LIB"
. "$(dirname "$LIB")/pppoe.sh"
. "$(dirname "$LIB")/pptp.sh"
pptp_setup
pptp_options 10.9.31.1-10.9.31.4
pptpd_conf delegate
pptpd_start 1
ev "pptpd_pid $(pptpd_pid 1)"
for n in 1 2; do
    pptp_caller $n
    a=$(caller_result $n) || fail "caller $n got no address"
    ev "addr$n $a"
    eval "A$n=$a"
    eval "S$n=$(lease_pid $a)"
    eval "ev \"spid$n \$S$n\""
done
C1=$(ppid $S1); C2=$(ppid $S2)
ev "ctrls $C1 $C2"
ev "ctrl_parents $(ppid $C1) $(ppid $C2)"
snap two-up

# pptpd SIGKILLed.
kill -9 $(pptpd_pid 1)
ev "pptpd1_status $(ended pptpd 1)"
# Longer than the LCP echo failure time (3 x 1 s).
sleep 5
ev "after_kill_servers $(server_pppds)"
ev "after_kill_ctrls $(pptpctrls)"
ev "after_kill_ctrl_parents $(ppid $C1) $(ppid $C2)"
ev "after_kill_server_parents $(ppid $S1) $(ppid $S2)"
ev "after_kill_callers $(running client 1) $(running client 2)"
snap after-kill
ev "after_kill_dead $(dead_holders)"
ev "after_kill_peers $(peers)"

# Started again: it knows none of the calls.
pptpd_start 2
ev "pptpd2_pid $(pptpd_pid 2)"
ev "pptpd2_listens $(ss -ltnp 2> /dev/null | grep -c "$PPTP_SRV:1723 .*pptpd")"
pptp_caller 3
A3=$(caller_result 3) || A3=none
ev "addr3 $A3"
S3=$(lease_pid $A3)
ev "spid3 $S3"
ev "ctrl3_parent $(ppid $(ppid $S3))"
snap restarted
ev "restarted_dead $(dead_holders)"
ev "restarted_peers $(peers)"
ev "restarted_callers $(running client 1) $(running client 2) $(running client 3)"

# Caller 1 (an orphaned call) hangs up; caller 2's pppd (orphaned too) is
# SIGKILLed; caller 3 hangs up.
kill -TERM $(cpid 1)
ended client 1 > /dev/null
gone $S1
ev "released1 $(released_by $S1)"
ev "notified1 $(notified $S1)"
ev "kill2 $(kill_freed_us $S2 $A2)"
ev "client2_status $(ended client 2 20)"
kill -TERM $(cpid 3)
ended client 3 > /dev/null
wait_no_server_pppds 20
ev "released3 $(released_by $S3)"
# The orphaned pptpctrls end with their calls.
gone $C1; gone $C2
ev "end_servers $(server_pppds)"
ev "end_ctrls $(pptpctrls)"
snap end
ev "end_peers $(peers)"
kill -TERM $(pptpd_pid 2)
ended pptpd 2 > /dev/null
