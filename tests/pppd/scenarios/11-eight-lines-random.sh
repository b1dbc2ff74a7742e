# Eight lines dial and hang up in random order for several rounds, each
# hang-up by a random path. No address is ever held twice; none is lost.
. "$LIB"
POOL=10.9.11.1-10.9.11.8
SEED=${SEED:-$$}
ev "seed $SEED"
rnd() { SEED=$(( (SEED * 1103515245 + 12345) % 2147483648 )); echo $(( SEED / 65536 % $1 )); }
for n in 1 2 3 4 5 6 7 8; do line $n; done
for round in 1 2 3; do
    order=$(for n in 1 2 3 4 5 6 7 8; do echo "$(rnd 1000) $n"; done | sort -n | cut -d' ' -f2)
    for n in $order; do
        kill -0 $(cat "$OUT/socat.$n.pid") 2>/dev/null || line $n
        server $n 10.0.0.1: rasstatic-pool $POOL
        client $n
    done
    for n in 1 2 3 4 5 6 7 8; do ev "round${round}_line${n} $(caller_addr $n 30)"; done
    snap round$round-up
    order=$(for n in 1 2 3 4 5 6 7 8; do echo "$(rnd 1000) $n"; done | sort -n | cut -d' ' -f2)
    for n in $order; do
        case $(rnd 5) in
            0) how=client-term; kill -TERM $(cpid $n) ;;
            1) how=server-term; kill -TERM $(spid $n) ;;
            2) how=server-hup; kill -HUP $(spid $n) ;;
            3) how=carrier; kill -9 $(cat "$OUT/socat.$n.pid") ;;
            4) how=server-kill9; kill -9 $(spid $n) ;;
        esac
        ev "round${round}_hangup${n} $how"
        sleep 0.$(rnd 5)
    done
    for n in 1 2 3 4 5 6 7 8; do ended server $n > /dev/null; ended client $n > /dev/null; done
    snap round$round-down
done
"$RASSTATIC" reap --dir "$TDIR" > "$OUT/reap.out" 2>&1
snap end
