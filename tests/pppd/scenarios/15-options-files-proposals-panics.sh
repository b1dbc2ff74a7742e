# The options work from a peers file and from options.<tty>; a caller that
# proposes its own address still ends up with a pool address or none; a
# panic inside a hook never crosses into pppd.
. "$LIB"
# A peers file, used with "call".
mkdir -p /etc/ppp/peers
cat > /etc/ppp/peers/dialin <<P
plugin $PLUGIN
rasstatic-dir $TDIR
rasstatic-pool 10.9.15.1-10.9.15.4
rasstatic-name fromfile
P
line 1
launch server 1 $PPPD "$L/s1" $SRV logfile "$OUT/server.1.log" call dialin 10.0.0.1:
client 1
ev "addr_peers $(caller_addr 1)"
snap peers-up fromfile
kill -TERM $(cpid 1); ended server 1 > /dev/null
# options.<tty>: pppd reads /etc/ppp/options.<device>, with the device's
# path after "/dev/" (here the whole path) and every "/" turned into "."
# (so "options." + ".work.main..." = "options..work.main...").
line 2
TTYOPTS=/etc/ppp/options.$(echo "$L/s2" | tr / .)
cat > "$TTYOPTS" <<P
plugin $PLUGIN
rasstatic-dir $TDIR
rasstatic-pool 10.9.15.1-10.9.15.4
rasstatic-name fromfile
rasstatic-policy sticky
P
launch server 2 $PPPD "$L/s2" $SRV logfile "$OUT/server.2.log" 10.0.0.1:
client 2
ev "addr_ttyopts $(caller_addr 2)"
kill -TERM $(cpid 2); ended server 2 > /dev/null
rm "$TTYOPTS"
# A caller that proposes 10.50.0.7 and accepts a correction.
line 3
server 3 10.0.0.1: rasstatic-pool 10.9.15.1-10.9.15.4
client 3 10.50.0.7: ipcp-accept-local
ev "addr_accepting $(caller_addr 3)"
snap proposer-up
kill -TERM $(cpid 3); ended server 3 > /dev/null
# A caller that insists on 10.50.0.7.
line 4
server 4 10.0.0.1: rasstatic-pool 10.9.15.1-10.9.15.4
client 4 10.50.0.7:
ev "insisting_server_exit $(ended server 4 30)"
kill -TERM $(cpid 4) 2>/dev/null; ended client 4 > /dev/null
grep "local  IP address" "$OUT/client.4.log" > /dev/null && ev "insisting_got $(sed -n 's/^local  IP address //p' "$OUT/client.4.log")"
snap after-insisting
# Fault injection: the hook panics. pppd must survive and refuse the caller.
line 5
RASSTATIC_FAULT=ip_choose_hook server 5 10.0.0.1: rasstatic-pool 10.9.15.1-10.9.15.4
client 5
ev "panic_server_exit $(ended server 5 30)"
kill -TERM $(cpid 5) 2>/dev/null; ended client 5 > /dev/null
grep -q "local  IP address" "$OUT/client.5.log" && ev "panic_client_got_address yes"
snap end
