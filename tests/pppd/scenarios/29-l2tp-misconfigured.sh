# pppoptfile contents that would let an address other than the pool's
# through (LNS in user-space mode): rasstatic's options before the plugin
# line (pppd refuses them and the caller gets nothing), and options without
# the plugin, with and without xl2tpd's own `ip range`. Then the right
# file. Each xl2tpd.conf is also given to `rasstatic check`, which follows
# its pppoptfile.
. "$LIB"
. "$(dirname "$LIB")/l2tp.sh"
l2tp_setup
POOL=10.9.29.1-10.9.29.2

# 1. The rasstatic options before the plugin line.
{
    echo "rasstatic-dir $TDIR"
    echo "rasstatic-pool $POOL"
    echo "plugin $(plugin_as_installed)"
    echo noauth
    echo noipv6
} > "$LNS_OPTS"
l2tp_try 1 before
ev "unrecognized $(sed 's/<[0-9]\{1,3\}>/\n/g' "$OUT/syslog" | grep -ac "unrecognized option 'rasstatic-dir'")"
ev "table_before $(ls "$TDIR" 2> /dev/null | tr '\n' ' ')"
l2tp_untry 1

# 2. No plugin, with the recommended xl2tpd.conf: pppd has no address
# for the caller and takes the one it asks for (here one of the pool's).
printf 'noauth\nnoipv6\n' > "$LNS_OPTS"
CALLER_OPTS=10.9.29.2:
l2tp_try 2 none
CALLER_OPTS=
l2tp_untry 2

# 3. No plugin, with xl2tpd's own `ip range`.
l2tp_try 3 none_range "ip range = 10.67.15.1-10.67.15.9" "local ip = 10.0.0.1" "pppoptfile = $LNS_OPTS"
ev "loaded_none $(sed 's/<[0-9]\{1,3\}>/\n/g' "$OUT/syslog" | grep -ac 'rasstatic: loaded')"
l2tp_untry 3

# 4. The working file.
lns_options $POOL
l2tp_try 4 ok
l2tp_untry 4
snap end
