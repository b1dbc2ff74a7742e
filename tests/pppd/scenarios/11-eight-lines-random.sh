# Eight lines dial and hang up in random order for several rounds, each
# hang-up by a random path. No address is ever held twice; none is lost.
. "$LIB"
POOL=10.9.11.1-10.9.11.8
SEED=${SEED:-$(date +%s)}
ev "seed $SEED"
# plan ROUND: the 8 lines in a random order, each with a random way to hang up.
plan() {
    awk -v s=$((SEED + $1)) 'BEGIN {
        srand(s); split("client-term server-term server-hup carrier server-kill9", how, " ")
        for (n = 1; n <= 8; n++) { k[n] = rand(); line[n] = n }
        for (i = 1; i <= 8; i++) for (j = i + 1; j <= 8; j++)
            if (k[line[j]] < k[line[i]]) { t = line[i]; line[i] = line[j]; line[j] = t }
        for (i = 1; i <= 8; i++) print line[i], how[int(rand() * 5) + 1], int(rand() * 5)
    }'
}
for n in 1 2 3 4 5 6 7 8; do line $n; done
for round in 1 2 3; do
    plan $round > "$OUT/plan.$round"
    for n in $(cut -d' ' -f1 "$OUT/plan.$round"); do
        kill -0 $(cat "$OUT/socat.$n.pid") 2>/dev/null || line $n
        server $n 10.0.0.1: rasstatic-pool $POOL
        client $n
    done
    for n in 1 2 3 4 5 6 7 8; do ev "round${round}_line${n} $(caller_addr $n 30)"; done
    snap round$round-up
    plan $((round + 100)) | while read n how pause; do
        case $how in
            client-term) kill -TERM $(cpid $n) ;;
            server-term) kill -TERM $(spid $n) ;;
            server-hup) kill -HUP $(spid $n) ;;
            carrier) kill -9 $(cat "$OUT/socat.$n.pid") ;;
            # The caller notices nothing on a live pty; it hangs up later.
            # The pty pair goes too: socat holds the tty open, so it would
            # keep the dead pppd's PPP line discipline (a real serial line is
            # closed by the kernel when pppd dies).
            server-kill9) kill -9 $(spid $n); ended server $n > /dev/null
                          kill -TERM $(cpid $n); ended client $n > /dev/null
                          kill $(cat "$OUT/socat.$n.pid") ;;
        esac
        ev "round${round}_hangup${n} $how"
        sleep 0.$pause
    done
    for n in 1 2 3 4 5 6 7 8; do ended server $n > /dev/null; ended client $n > /dev/null; done
    snap round$round-down
done
"$RASSTATIC" reap --dir "$TDIR" > "$OUT/reap.out" 2>&1
snap end
