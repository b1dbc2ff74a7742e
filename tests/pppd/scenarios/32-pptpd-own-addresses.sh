# pptpd's own address assignment, which `delegate` turns off, left on:
# with `localip`/`remoteip` pptpd passes pppd LOCAL:REMOTE, and the plugin
# replaces REMOTE with a pool address; pptpd still refuses calls when its
# own list runs out, whatever the pool holds. Without `localip`/`remoteip`
# (and without `delegate`) pptpd passes its built-in defaults.
. "$LIB"
. "$(dirname "$LIB")/pppoe.sh"
. "$(dirname "$LIB")/pptp.sh"
pptp_setup
pptp_options 10.9.32.1-10.9.32.3
# The server interfaces' addresses, "ifname=local=peer".
server_ifs() {
    ip -4 -o addr show | awk '$2 ~ /^ppp/ { print $2 "=" $4 "=" $6 }' | sort | tr '\n' ' '
}

# 1. A two-address remoteip list.
pptpd_conf "localip 10.0.0.1" "remoteip 10.67.32.1-2"
ev "check_remoteip $("$RASSTATIC" check "$OUT/pptpd.conf" > "$OUT/check.remoteip.out" 2>&1; echo $?) $(tr '\n' ';' < "$OUT/check.remoteip.out")"
pptpd_start 1
for n in 1 2; do
    pptp_caller $n
    a=$(caller_result $n) || fail "caller $n got no address"
    ev "addr$n $a"
    eval "S$n=$(lease_pid $a)"
    eval "ev \"argv$n \$(tr '\0' ' ' < /proc/\$S$n/cmdline)\""
done
ev "ifs_two $(server_ifs)"
# A third caller: pptpd's list is used up, the pool is not.
pptp_caller 3
ev "client3_status $(ended client 3 40)"
ev "client3_log $(grep -aiE 'refused|error|fail|hangup|terminated' "$OUT/client.3.log" | tr '\n' ';')"
ev "ctrl_for_3 $(syslog_count 'Client 172.30.0.13 control connection started')"
ev "caller3_said $(sed 's/<[0-9]\{1,3\}>/\n/g' "$OUT/syslog" | grep -a ' caller3 ' | grep -aoE 'Connection reset by peer|Could not launch call manager' | sort -u | tr '\n' ';')"
ev "pptpd_said $(sed 's/<[0-9]\{1,3\}>/\n/g' "$OUT/syslog" | grep -a "pptpd\[$(pptpd_pid 1)\]" | grep -aiE 'address|free|refus' | sed 's/.*]: //' | tr '\n' ';')"
snap third-refused
# Caller 1 hangs up: pptpd gets its address back and passes it again.
kill -TERM $(cpid 1)
ended client 1 > /dev/null
gone $S1
pptp_caller 4
A4=$(caller_result 4) || A4=none
ev "addr4 $A4"
S4=$(lease_pid $A4)
ev "argv4 $(tr '\0' ' ' < /proc/$S4/cmdline)"
ev "ifs_again $(server_ifs)"
snap again
for n in 2 4; do kill -TERM $(cpid $n); done
for n in 2 4; do ended client $n > /dev/null; done
wait_no_server_pppds
kill -TERM $(pptpd_pid 1)
ended pptpd 1 > /dev/null

# 2. Neither localip/remoteip nor delegate.
pptpd_conf
ev "check_defaults $("$RASSTATIC" check "$OUT/pptpd.conf" > "$OUT/check.defaults.out" 2>&1; echo $?) $(tr '\n' ';' < "$OUT/check.defaults.out")"
pptpd_start 2
pptp_caller 5
A5=$(caller_result 5) || A5=none
ev "addr5 $A5"
S5=$(lease_pid $A5)
ev "argv5 $(tr '\0' ' ' < /proc/$S5/cmdline 2> /dev/null)"
ev "ifs_defaults $(server_ifs)"
kill -TERM $(cpid 5)
ended client 5 > /dev/null
wait_no_server_pppds
snap end
kill -TERM $(pptpd_pid 2)
ended pptpd 2 > /dev/null
