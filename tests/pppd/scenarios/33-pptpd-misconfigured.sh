# pptpd configurations that would let an address from outside the pool
# through: rasstatic's options before the plugin line (pppd refuses them),
# an options file without the plugin with `delegate` (pppd's own default
# address) and without it (pptpd's remoteip), and pptpd's `logwtmp` (a
# second plugin, built for Debian 12's pppd). Then the right files. Each
# pptpd.conf is also given to `rasstatic check`.
. "$LIB"
. "$(dirname "$LIB")/pppoe.sh"
. "$(dirname "$LIB")/pptp.sh"
pptp_setup
POOL=10.9.33.1-10.9.33.2
OPTS=$OUT/pptpd-options
ev "pppd_under_test $("$PPPD" --version 2>&1)"
# try N LABEL: check pptpd.conf, then one caller through a fresh pptpd
# using it.
try() {
    "$RASSTATIC" check "$OUT/pptpd.conf" > "$OUT/check.$2.out" 2>&1
    ev "check_$2 $? $(tr '\n' ';' < "$OUT/check.$2.out")"
    pptpd_start $1
    pptp_caller $1
    ev "addr_$2 $(caller_result $1 20)"
    ev "peers_$2 $(ip -4 -o addr show | awk '$2 ~ /^ppp/ { print $6 }' | cut -d/ -f1 | tr '\n' ' ')"
    kill -TERM $(cpid $1) 2> /dev/null
    ended client $1 > /dev/null
    wait_no_server_pppds
    kill -TERM $(pptpd_pid $1)
    ended pptpd $1 > /dev/null
}

# 1. The rasstatic options before the plugin line.
{
    echo "rasstatic-dir $TDIR"
    echo "rasstatic-pool $POOL"
    echo "plugin $(plugin_as_installed)"
    printf '10.0.0.1:\nnoauth\nnoipv6\n'
} > "$OPTS"
pptpd_conf delegate
try 1 before
ev "unrecognized $(syslog_count "unrecognized option 'rasstatic-dir'")"
ev "table_before $(ls "$TDIR" 2> /dev/null | tr '\n' ' ')"

# 2. No plugin, with delegate: pppd's own default address.
printf '10.0.0.1:\nnoauth\nnoipv6\n' > "$OPTS"
try 2 none_delegate
ev "default_none_delegate $(syslog_count 'defaulting to 10.64.64.64')"
# 3. No plugin, without delegate: pptpd's remoteip.
pptpd_conf "localip 10.0.0.1" "remoteip 10.67.33.1-4"
try 3 none_remoteip
ev "loaded_none $(syslog_count 'rasstatic: loaded')"

# 4. The right files, plus pptpd's logwtmp.
pptp_options $POOL
pptpd_conf delegate logwtmp
try 4 logwtmp
ev "logwtmp_load $(sed 's/<[0-9]\{1,3\}>/\n/g' "$OUT/syslog" | grep -a 'pptpd-logwtmp.so' | sed 's/.*]: //' | sort -u | tr '\n' ';')"

# 5. The right files.
pptpd_conf delegate
try 5 ok
snap end
