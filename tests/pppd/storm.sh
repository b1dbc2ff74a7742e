# The login storm, sourced after lib.sh and pppoe.sh: N PPPoE callers in
# namespace cli dial one pppoe-server at once, then all hang up at once
# (everything in the namespace is SIGKILLed and the namespace deleted,
# which takes the veth pair, and with it every session's link, away).
# Scenarios 34 and 35 run it with 30 callers, bench/storm with hundreds.
#
# Each server pppd runs $OUT/storm/ip-up when IPCP is up (the
# `ip-up-script` option in its options file): one line each time,
# "<epoch seconds> <interface> <peer address> <pppd's PID>", appended in
# one write. A session whose IPCP is renegotiated (as a caller starved of
# CPU may make it) runs it again: a session is a PID.
ST=$OUT/storm
mkdir -p "$ST"

# storm_ip_up: the ip-up script, and the options line that runs it.
storm_ip_up() {
    cat > "$ST/ip-up" <<'S'
#!/bin/sh
echo "$(date +%s.%N) $1 $5 $PPPD_PID" >> "${0%/*}/up"
S
    chmod 755 "$ST/ip-up"
    : > "$ST/up"
    echo "ip-up-script $ST/ip-up"
}

# now: seconds since the epoch, to the nanosecond.
now() { date +%s.%N; }
# elapsed_ms FROM TO
elapsed_ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%d", (b - a) * 1000 }'; }

# Options for the callers (pppoe_storm gives the server pppds the same):
# LCP and IPCP keep asking for two minutes, echoes tolerate a minute of
# silence, discovery goes on for minutes (30 tries, 10 s apart at first).
STORM_PATIENCE="lcp-max-configure 120 ipcp-max-configure 120 lcp-echo-failure 60"

# storm_dial N [CALLER-OPTIONS...]: N callers started at once by one shell
# in namespace cli (each its own pppd with rp-pppoe.so, logging to
# $ST/c.I.log). They share one MAC address, so each has its own Host-Uniq
# tag: without one, a caller takes any PADO or PADS sent to that address,
# another caller's too, and discovery fails for both. Sets STORM_T0, the moment before the first one starts.
storm_dial() {
    callers=$1; shift
    STORM_T0=$(now)
    ip netns exec cli sh -c '
        n=$1; st=$2; pppd=$3; rp=$4; shift 4
        i=0
        while [ $i -lt $n ]; do
            i=$((i + 1))
            "$pppd" plugin "$rp" nic-v1 pppoe-host-uniq "$(printf %08x $i)" "$@" \
                logfile "$st/c.$i.log" < /dev/null > /dev/null 2>&1 &
        done
        wait' storm "$callers" "$ST" "$CALLER_PPPD" "$CALLER_PPPOE" $PPPOE_CLI \
        pppoe-padi-timeout 10 pppoe-padi-attempts 30 $STORM_PATIENCE "$@" > /dev/null 2>&1 &
}

# live_ups: the PIDs of the sessions that ran ip-up and whose server
# pppd still runs (a session that came up and then ended, and the caller
# that dialled again, count once, by the session that is up now).
live_ups() {
    live=" $(server_pppds) "
    cut -d' ' -f4 "$ST/up" | sort -u | while read -r p; do
        case "$live" in *" $p "*) echo "$p" ;; esac
    done
}
# ups: how many sessions are up now; ups_ever: how many ever ran ip-up.
ups() { live_ups | grep -c .; }
ups_ever() { cut -d' ' -f4 "$ST/up" | sort -u | grep -c .; }
# callers_running: the pppds left in namespace cli.
callers_running() {
    n=0
    for p in $(ip netns pids cli 2> /dev/null); do
        [ "$(cat /proc/$p/comm 2> /dev/null)" = pppd ] && n=$((n + 1))
    done
    echo $n
}

# storm_wait_up N SECONDS: until N sessions are up at once, or neither
# the sessions up nor those ever up have changed for SECONDS, or
# STORM_MAX_S (default 900) seconds have passed. Prints the sessions up.
storm_wait_up() {
    last=; since=$(date +%s); end=$(( since + ${STORM_MAX_S:-900} ))
    while [ "$(ups)" -lt "$1" ]; do
        u="$(ups) $(ups_ever)"
        [ "$u" != "$last" ] && { last=$u; since=$(date +%s); }
        [ $(( $(date +%s) - since )) -ge "$2" ] && break
        [ "$(date +%s)" -ge $end ] && break
        sleep 0.5
    done
    ups
}
# storm_first_up, storm_last_up: the moment the first session came up,
# and the moment the last of the sessions up now did (its first ip-up).
storm_first_up() { sort -n "$ST/up" | head -1 | cut -d' ' -f1; }
storm_last_up() {
    sort -n "$ST/up" | awk -v live=" $(live_ups | tr '\n' ' ') " '
        index(live, " " $4 " ") && !seen[$4]++ { t = $1 } END { print t }'
}
# storm_addrs: each session's peer address (at its latest ip-up), for the
# sessions up now, sorted.
storm_addrs() {
    sort -n "$ST/up" | awk -v live=" $(live_ups | tr '\n' ' ') " '
        index(live, " " $4 " ") { a[$4] = $3 } END { for (p in a) print a[p] }' | sort
}
# pss_kb PID...: their proportional set sizes added up, in KiB.
pss_kb() {
    for p in "$@"; do
        awk '/^Pss:/ { print $2 }' /proc/$p/smaps_rollup 2> /dev/null
    done | awk '{ s += $1 } END { print s + 0 }'
}

# storm_hang_up: every process in namespace cli SIGKILLed and the
# namespace deleted. Sets STORM_T1, the moment before.
storm_hang_up() {
    STORM_T1=$(now)
    ip netns pids cli | xargs -r kill -9
    ip netns del cli
}

# storm_wait SECONDS CMD...: until CMD prints 0, or SECONDS pass; prints
# the milliseconds since STORM_T1 at which it did, or "never".
storm_wait() {
    end=$(( $(date +%s) + $1 )); shift
    while [ "$(date +%s)" -lt $end ]; do
        [ "$("$@")" = 0 ] && { elapsed_ms "$STORM_T1" "$(now)"; return 0; }
        sleep 0.05
    done
    echo never
}
# leased: the table's addresses not free: leased, stale (held by a dead
# process the watchdog has not reaped yet) or draining.
leased() {
    "$RASSTATIC" show --json --dir "$TDIR" |
        grep -o '"\(leased\|stale\|draining\)":[0-9]*' | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }'
}
# server_pppd_count: the server pppds still running.
server_pppd_count() { server_pppds | wc -w; }

# storm_server_args: pppoe-server's mode arguments (kernel mode unless
# STORM_MODE=user).
storm_server_args() {
    [ "${STORM_MODE:-kernel}" = kernel ] && echo "-k -g $RP_PPPOE"
}

# storm_run N SERVER LEASED [CALLER-OPTIONS...]: with pppoe_setup done and
# $OUT/pppoe-server-options written (with storm_ip_up's line), pppoe-server
# (launched as pppoes SERVER) serves N callers dialling at once, then they
# all go at once. LEASED is a command printing how many addresses the pool
# still has leased. Records: up, first_up_ms and last_up_ms (from the
# first caller's start), addrs, peers, servers, callers, server_pss_kb and
# pppoes_pss_kb (while all are up), back_ms (until LEASED prints 0) and
# no_pppd_ms (until no server pppd is left), both from the hang-up. Runs
# STORM_UP_HOOK, if set, while all are up. Waits for the sessions until
# none has come up for STORM_STALL_S seconds (default 30).
storm_run() {
    sessions=$1; srv=$2; leased_cmd=$3; shift 3
    # -N with room: a caller that resends its PADR while pppoe-server is
    # slow to answer gets a session per PADR, and the one it does not take
    # holds its slot until that pppd gives up on LCP.
    pppoe_server $srv -L 10.0.0.1 -N $((sessions * 3)) $(storm_server_args)
    sleep 0.3
    storm_dial $sessions "$@"
    ev "up $(storm_wait_up $sessions ${STORM_STALL_S:-30})"
    # Sessions that came up and ended before the count (a caller with
    # `persist` dials again, and is counted by its session up now).
    ev "up_ever $(ups_ever)"
    ev "first_up_ms $(elapsed_ms "$STORM_T0" "$(storm_first_up)")"
    ev "last_up_ms $(elapsed_ms "$STORM_T0" "$(storm_last_up)")"
    ev "addrs $(storm_addrs | tr '\n' ' ')"
    ev "peers $(peers)"
    ev "servers $(server_pppd_count)"
    ev "callers $(callers_running)"
    ev "server_pss_kb $(pss_kb $(server_pppds))"
    ev "pppoes_pss_kb $(pss_kb $(pppoes_pid $srv))"
    ${STORM_UP_HOOK:-}
    storm_hang_up
    ev "back_ms $(storm_wait 120 $leased_cmd)"
    ev "no_pppd_ms $(storm_wait 120 server_pppd_count)"
    kill -TERM $(pppoes_pid $srv)
    ev "pppoes_status $(ended pppoes $srv)"
}

# pppoe_storm N POOL: the storm with the plugin, serving pool POOL (exactly
# N addresses, so that every one must go out once), as scenarios 34 and
# 35 run it. Records storm_run's facts and the table's.
pppoe_storm() {
    if [ "${STORM_MODE:-kernel}" = kernel ]; then pppoe_setup -k; else pppoe_setup; fi
    # Patience on both ends: under User-Mode Linux, dozens of pppds
    # starting at once on one CPU take seconds each to reach LCP.
    pppoe_options "$2" "$(storm_ip_up)" \
        "lcp-max-configure 120" "ipcp-max-configure 120" "lcp-echo-failure 60"
    STORM_UP_HOOK=storm_table_up storm_run "$1" 1 leased
    ev "released $(sed 's/<[0-9]\{1,3\}>/\n/g' "$OUT/syslog" | sed -n 's/.*rasstatic: released \([0-9.]*\) (\([a-z-]*\).*/\1 \2/p' | sort | uniq | tr '\n' ';')"
    ev "reaped $(sed 's/<[0-9]\{1,3\}>/\n/g' "$OUT/syslog" | sed -n 's/.*: reaped \([0-9.]*\) from pid.*/\1/p' | sort | tr '\n' ' ')"
    snap end
    ev "peers_end $(peers)"
    ev "servers_end $(server_pppds)"
}
# storm_table_up: the table while every session is up.
storm_table_up() {
    ev "dead $(dead_holders)"
    snap up
}
