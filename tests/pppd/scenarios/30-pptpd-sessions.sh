# pptpd (with `delegate`) spawning the pppd under test through pptpctrl,
# one per call, with the plugin in the options file pptpd.conf names:
# distinct pool addresses, a clean refusal when the pool is exhausted, a
# caller hanging up, a session's pppd SIGKILLed (the watchdog frees it).
. "$LIB"
. "$(dirname "$LIB")/pppoe.sh"
. "$(dirname "$LIB")/pptp.sh"
pptp_setup
pptp_options 10.9.30.1-10.9.30.3
pptpd_conf delegate
ev "check_conf $("$RASSTATIC" check "$OUT/pptpd.conf" > "$OUT/check.out" 2>&1; echo $?) $(tr '\n' ';' < "$OUT/check.out")"
pptpd_start 1
ev "pptpd_pid $(pptpd_pid 1)"
for n in 1 2 3; do
    pptp_caller $n
    a=$(caller_result $n) || fail "caller $n got no address"
    ev "addr$n $a"
    eval "A$n=$a"
    eval "S$n=$(lease_pid $a)"
    eval "ev \"spid$n \$S$n\""
done
snap three-up
ev "peers_three $(peers)"
ev "server_argv $(tr '\0' ' ' < /proc/$S1/cmdline)"
# The session's pppd is pptpctrl's child, pptpctrl pptpd's.
C1=$(ppid $S1)
ev "server_parent $(tr '\0' ' ' < /proc/$C1/comm) $(ppid $C1)"
ev "pppd_under_test $("$PPPD" --version 2>&1)"
ev "server_started $(slog $S1 | grep -o 'pppd [0-9.]* started' | head -1)"
ev "server_ifs $(ip -4 -o addr show | awk '$2 ~ /^ppp/ { print $2 "=" $4 "=" $6 }' | sort | tr '\n' ' ')"

# A fourth caller: the pool is exhausted, its pppd refuses it.
pptp_caller 4
ev "client4_status $(ended client 4 40)"
ev "exhausted $(syslog_count 'rasstatic: pool exhausted')"
snap refused
wait_server_pppds 3
ev "servers_after_refusal $(server_pppds)"

# Caller 2 hangs up; its address comes back and goes to the next one.
kill -TERM $(cpid 2)
ev "client2_status $(ended client 2)"
gone $S2
ev "hangup_notified $(notified $S2)"
ev "hangup_released $(released_by $S2)"
snap after-hangup
pptp_caller 5
A5=$(caller_result 5) || fail "caller 5 got no address"
ev "addr5 $A5"
S5=$(lease_pid $A5)
ev "spid5 $S5"

# The pppd serving caller 1 is SIGKILLed: the watchdog frees it.
ev "kill1 $(kill_freed_us $S1 $A1)"
gone $S1
ev "kill_notified $(notified $S1)"
ev "kill_reaped $(sed 's/<[0-9]\{1,3\}>/\n/g' "$OUT/syslog" | grep -a "reaped $A1 from pid $S1" | sed 's/^.*: reaped/reaped/' | head -1)"
snap after-kill
# What the caller sees of it: pptpctrl reads EIO from the pty, ends the
# call and the control connection.
t0=$(date +%s%N)
ev "client1_status $(ended client 1 20)"
ev "client1_ms $(( ($(date +%s%N) - t0) / 1000000 ))"
ev "client1_end $(grep -aE 'Modem hangup|LCP echo|Connection terminated' "$OUT/client.1.log" | tr '\n' ';')"
ev "ctrl1_end $(slog $C1 | grep -a 'PTY read' | head -1 | sed 's/.*CTRL: //')"
ev "peers_after_kill $(peers)"

# Everyone hangs up.
for n in 3 5; do kill -TERM $(cpid $n); done
for n in 3 5; do ended client $n > /dev/null; done
wait_no_server_pppds
ev "notified3 $(notified $S3)"
snap end
ev "peers_end $(peers)"
ev "server_pppds_end $(server_pppds)"
ev "pptpctrls_end $(pptpctrls)"
kill -TERM $(pptpd_pid 1)
ev "pptpd_status $(ended pptpd 1)"
