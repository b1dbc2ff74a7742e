# The login storm, timed, inside the guest (bench/storm/run.sh boots it as
# guest-init.sh's DEMO hook): SESSIONS PPPoE callers dial one kernel-mode
# pppoe-server at once, then all go at once; first with `plugin
# rasstatic.so` (PAP against pap-secrets), then with `plugin radius.so`
# against FreeRADIUS's rlm_sqlippool on SQLite (PAP against FreeRADIUS),
# the same link settings otherwise. SIDES chooses them (default "rasstatic
# radius"). Writes $OUT/storm.raw: one line of facts per side.
. "$LIB"
. "$(dirname "$LIB")/pppoe.sh"
. "$(dirname "$LIB")/storm.sh"
SESSIONS=${SESSIONS:-200}
SIDES=${SIDES:-rasstatic radius}
# Hundreds of pppds starting at once on the guest's one CPU: a minute or
# more may pass before the first session is up.
STORM_STALL_S=120
case " $SIDES " in *" radius "*)
    . "$BENCH_SRC/../freeradius/guest.sh"
    # The same PAP user for the other side, from pap-secrets.
    [ "$SESSIONS" -le 254 ] || { echo "radius side: its pool has 254 addresses, not $SESSIONS" >> "$OUT/storm.raw"; exit 1; } ;;
    *) printf 'u1 * x *\n' > /etc/ppp/pap-secrets; chmod 600 /etc/ppp/pap-secrets ;;
esac
DB=$BENCHDIR/db/radius.db

# The pools: the same size for both sides up to 254 sessions.
if [ "$SESSIONS" -le 254 ]; then POOL=10.61.0.1-10.61.0.254; else POOL=10.61.0.0/20; fi
# The callers dial again when a call fails or ends, as a subscriber's
# router does: 2 s after, for as long as the storm lasts. A caller that
# lost its session to the guest's starved CPU (discovery or LCP timing
# out) is then counted by the session it has at the end.
REDIAL="persist maxfail 0 holdoff 2"
# created: the sessions pppoe-server has created so far (each a server
# pppd; with redials, more than the callers).
created() { sed 's/<[0-9]\{1,3\}>/\n/g' "$OUT/syslog" | grep -c 'pppoe-server.*Session [0-9]* created for client'; }
# Server pppd options shared by both sides.
common_options() {
    # No `debug`, and echoes every 10 s (as a concentrator would run them):
    # hundreds of sessions logging every packet, or echoing every second,
    # would load the guest's one CPU more than the storm itself.
    for o in require-pap noipv6 nodefaultroute "lcp-restart 1" "ipcp-restart 1" \
             "lcp-echo-interval 10" "lcp-max-configure 120" "ipcp-max-configure 120" \
             "lcp-echo-failure 6" "$(storm_ip_up)"; do
        echo "$o"
    done
}
# sql_leased: sqlippool's leased addresses (a lease is free once its
# expiry time has passed; Accounting-Stop sets it to now).
sql_leased() {
    sqlite3 "$DB" "SELECT count(*) FROM radippool WHERE pool_name = 'small' AND expiry_time > datetime('now')"
}
# radius_up: FreeRADIUS's memory while every session is up.
radius_up() { ev "store_pss_kb $(pss_kb $RADIUS_PID)"; ev "store_bytes $(stat -c %s "$DB")"; }
table_up() {
    ev "dead $(dead_holders | wc -w)"
    ev "store_pss_kb 0"
    ev "store_bytes $(stat -c %s "$TDIR"/default.table)"
}

for side in $SIDES; do
    ST=$OUT/$side
    mkdir -p "$ST"
    rm -f "$OUT/events"
    pppoe_setup -k
    created0=$(created)
    case $side in
    rasstatic)
        { echo "plugin $PLUGIN"; echo "rasstatic-dir $TDIR"; echo "rasstatic-pool $POOL"
          common_options; } > "$OUT/pppoe-server-options"
        STORM_UP_HOOK=table_up storm_run "$SESSIONS" 1 leased user u1 password x $REDIAL ;;
    radius)
        { echo "plugin radius.so"; echo "radius-config-file $R/radiusclient.conf"
          common_options; } > "$OUT/pppoe-server-options"
        STORM_UP_HOOK=radius_up storm_run "$SESSIONS" 2 sql_leased user u1 password x $REDIAL ;;
    esac
    ev "refused $(( SESSIONS - $(sed -n 's/^up //p' "$OUT/events") ))"
    ev "created $(( $(created) - created0 ))"
    [ $side = radius ] && ev "db_locked $(grep -c 'database is locked' "$OUT/radius.log")"
    ev "left_leased $($( [ $side = radius ] && echo sql_leased || echo leased))"
    ev "left_pppds $(pgrep -x pppd | wc -l)"
    mv "$OUT/events" "$OUT/events.$side"
    # The facts as one line: side, then KEY=VALUE for the one-word facts,
    # and how many distinct addresses came up.
    {
        printf '%s sessions=%s' "$side" "$SESSIONS"
        awk 'NF == 2 { printf " %s=%s", $1, $2 } NF == 1 { printf " %s=", $1 }' "$OUT/events.$side"
        a=$(sed -n 's/^addrs //p' "$OUT/events.$side")
        printf ' distinct=%s' "$(echo $a | tr ' ' '\n' | grep -c .)"
        printf ' dups=%s' "$(echo $a | tr ' ' '\n' | sort | uniq -d | grep -c .)"
        # Addresses outside the side's pool (10.61.0.0/20 here, sqlippool's
        # "small" 10.60.0.1-254 there).
        pre=$([ $side = radius ] && echo '^10\.60\.0\.' || echo '^10\.61\.([0-9]|1[0-5])\.')
        printf ' outside=%s' "$(echo $a | tr ' ' '\n' | grep . | grep -Evc "$pre")"
        p=$(sed -n 's/^peers //p' "$OUT/events.$side")
        printf ' peers=%s peers_match=%s\n' "$(echo $p | wc -w)" "$([ "$(echo $a)" = "$(echo $p)" ] && echo yes || echo no)"
    } >> "$OUT/storm.raw"
    pppoe_teardown
    sleep 1
done
cp "$OUT/storm.raw" "$OUT/storm.done"
