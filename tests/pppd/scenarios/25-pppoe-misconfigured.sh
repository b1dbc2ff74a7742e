# pppoe-server options that would let pppoe-server's own pool through:
# rasstatic's options before the plugin line (pppd refuses them and the
# caller gets nothing), and options without the plugin at all (pppd takes
# pppoe-server's address; `rasstatic check` says the file has no rasstatic
# options). Then the right file. Each file is also given to `rasstatic
# check`.
. "$LIB"
. "$(dirname "$LIB")/pppoe.sh"
pppoe_setup
POOL=10.9.25.1-10.9.25.2
OPTS=$OUT/pppoe-server-options
# try N LABEL: check the options file, then one caller through a fresh
# pppoe-server using it.
try() {
    "$RASSTATIC" check "$OPTS" > "$OUT/check.$2.out" 2>&1
    ev "check_$2 $? $(tr '\n' ';' < "$OUT/check.$2.out")"
    pppoe_server $1 -L 10.0.0.1 -R 10.67.15.1 -N 8
    sleep 0.3
    caller $1
    ev "addr_$2 $(caller_addr $1 15 | tail -1)"
    ev "peers_$2 $(peers)"
    kill -TERM $(cpid $1) 2> /dev/null
    ended client $1 > /dev/null
    wait_no_server_pppds
    kill -TERM $(pppoes_pid $1)
    ended pppoes $1 > /dev/null
}

# 1. The rasstatic options before the plugin line.
{
    echo "rasstatic-dir $TDIR"
    echo "rasstatic-pool $POOL"
    echo "plugin $(plugin_as_installed)"
    echo noauth
    echo noipv6
} > "$OPTS"
try 1 before
ev "unrecognized $(sed 's/<[0-9]\{1,3\}>/\n/g' "$OUT/syslog" | grep -ac "unrecognized option 'rasstatic-dir'")"
ev "table_before $(ls "$TDIR" 2> /dev/null | tr '\n' ' ')"

# 2. No plugin at all (as with a wrong -O file).
printf 'noauth\nnoipv6\n' > "$OPTS"
try 2 none
ev "loaded_none $(sed 's/<[0-9]\{1,3\}>/\n/g' "$OUT/syslog" | grep -ac 'rasstatic: loaded')"

# 3. The working file.
pppoe_options $POOL
try 3 ok
snap end
