# xl2tpd's own address assignment next to the plugin (LNS in user-space
# mode): with `ip range` (and `assign ip` at its default, yes) the plugin
# still decides each address, but xl2tpd refuses a call once its own
# range is used up, with pool addresses free; with neither `ip range` nor
# `assign ip = no`, xl2tpd refuses every call. Then the recommended
# section. Each xl2tpd.conf is also given to `rasstatic check`.
. "$LIB"
. "$(dirname "$LIB")/l2tp.sh"
l2tp_setup
lns_options 10.9.28.1-10.9.28.3

# 1. A one-address `ip range`: the first caller gets a pool address, the
# second is refused by xl2tpd itself.
l2tp_try 1 range "ip range = 10.67.15.1-10.67.15.1" "local ip = 10.0.0.1" "pppoptfile = $LNS_OPTS"
caller 2
ev "addr_range2 $(caller_result 2)"
ev "range_servers $(server_pppds | wc -w)"
ev "range_refused $(grep -ac 'Out of IP addresses' "$OUT/lns.1.out")"
snap range
kill -TERM $(lns_pid 1)
wait_no_server_pppds
ended lns 1 > /dev/null

# 2. No `ip range`, `assign ip` left at yes: no call gets through.
l2tp_try 3 default "local ip = 10.0.0.1" "pppoptfile = $LNS_OPTS"
ev "default_refused $(grep -ac 'Out of IP addresses' "$OUT/lns.3.out")"
ev "default_servers $(server_pppds | wc -w)"
l2tp_untry 3

# 3. The recommended section.
l2tp_try 4 ok
l2tp_untry 4
snap end
