# The pool is redefined with calls up, without a restart. Shrinking it
# leaves the removed address with its call (draining) and never hands it
# out again; growing it hands out the new addresses at once. Two pppds
# started together with two definitions never share an address.
. "$LIB"
A=10.9.20.1-10.9.20.4
B=10.9.20.2-10.9.20.6
for n in 1 2; do
    line $n
    server $n 10.0.0.1: rasstatic-pool $A
    client $n
    ev "addr$n $(caller_addr $n)"
done
snap up
# A pppd with the new definition: 10.9.20.1 leaves the pool, .5-.6 join.
line 3
server 3 10.0.0.1: rasstatic-pool $B
client 3
ev "addr3 $(caller_addr 3)"
snap changed
"$RASSTATIC" show --draining --dir "$TDIR" > "$OUT/draining.out" 2>&1
# The draining call ends: its address is gone from the table for good.
kill -TERM $(cpid 1); ended server 1 > /dev/null; ended client 1 > /dev/null
snap drained
# Two pppds with two definitions at once.
line 4; line 5
server 4 10.0.0.1: rasstatic-pool $A
server 5 10.0.0.1: rasstatic-pool $B
client 4; client 5
ev "addr4 $(caller_addr 4)"
ev "addr5 $(caller_addr 5)"
ev "peers $(peers)"
snap raced
for n in 2 3 4 5; do kill -TERM $(cpid $n); done
for n in 2 3 4 5; do ended server $n > /dev/null; ended client $n > /dev/null; done
snap end
