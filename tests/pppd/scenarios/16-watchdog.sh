# The watchdog the plugin starts: a SIGKILLed pppd's lease is free within
# the bound without anyone dialling, and its proxy-ARP entry and a host
# route it left are gone; with the watchdog killed too, the next caller
# still gets the address and the next pppd starts a new watchdog.
. "$LIB"
# The watchdog's lines (ident rasstatic) are read from $OUT/syslog, where
# the guest's syslog writes them.
ip link add lan0 type dummy
ip addr add 10.9.16.254/24 dev lan0
ip link set lan0 arp on up
POOL=10.9.16.10-10.9.16.11

# proxies ADDR: how many proxy-ARP entries there are for ADDR.
proxies() { ip neigh show proxy | awk -v a="$1" '$1 == a' | wc -l; }
# routes ADDR: routes to ADDR/32 in the main table.
routes() { ip route show table main | awk -v a="$1" '$1 == a' | wc -l; }
# hangup_line N: after a SIGKILL of the dial-in pppd, end the caller and
# drop the pty pair (socat would keep the dead pppd's line discipline).
hangup_line() {
    ended server $1 > /dev/null
    kill -TERM $(cpid $1); ended client $1 > /dev/null
    kill $(cat "$OUT/socat.$1.pid")
}

# 1. proxyarp, then SIGKILL: lease and proxy-ARP entry go.
line 1
server 1 10.0.0.1: rasstatic-pool $POOL proxyarp
client 1
A1=$(caller_addr 1)
ev "addr1 $A1"
ev "proxy_up1 $(proxies $A1)"
W=$(wd_pid)
S1=$(spid 1)
ev "wd_pid $W"
ev "server1_pid $S1"
ev "wd_ppid $(cut -d' ' -f4 /proc/$W/stat)"
ev "wd_pgid $(cut -d' ' -f5 /proc/$W/stat) server_pgid $(cut -d' ' -f5 /proc/$S1/stat)"
ev "wd_sid $(cut -d' ' -f6 /proc/$W/stat) server_sid $(cut -d' ' -f6 /proc/$S1/stat)"
ev "wd_comm $(cat /proc/$W/comm)"
ev "wd_cmdline $(tr '\0' ' ' < /proc/$W/cmdline)"
ev "wd_fds $(for f in /proc/$W/fd/*; do readlink $f; done | sort | tr '\n' ' ')"
ev "server_fds $(for f in /proc/$S1/fd/*; do readlink $f; done | sort | tr '\n' ' ')"
snap up1
ev "freed1_us $(kill_freed_us $S1 $A1)"
ev "proxy_after1 $(proxies $A1)"
hangup_line 1
snap after-kill1

# 2. A helper keeps pppN alive after pppd is killed (it holds a copy of the
# ppp unit descriptor): the interface and its route to the caller stay,
# and the watchdog removes the route and the proxy-ARP entry.
line 2
server 2 10.0.0.1: rasstatic-pool $POOL proxyarp
client 2
A2=$(caller_addr 2)
ev "addr2 $A2"
IF2=$(sed -n 's/^Using interface //p' "$OUT/server.2.log" | tail -1)
ev "if2 $IF2"
"$FDHOLD" $(spid 2) > "$OUT/fdhold.out" 2>&1 &
H=$!
wait_for "$OUT/fdhold.out" held 5
ev "fdhold $(cat "$OUT/fdhold.out")"
ev "routes_up2 $(routes $A2)"
ev "proxy_up2 $(proxies $A2)"
ev "freed2_us $(kill_freed_us $(spid 2) $A2)"
ev "routes_after2 $(routes $A2)"
ev "proxy_after2 $(proxies $A2)"
ev "if_after2 $(ip link show "$IF2" > /dev/null 2>&1 && echo present || echo gone)"
kill -9 $H
hangup_line 2
snap after-kill2

# 3. The watchdog is killed, then a pppd: the next caller on a one-address
# pool still gets the address, and the next pppd starts a new watchdog.
line 3
server 3 10.0.0.1: rasstatic-pool 10.9.16.20 rasstatic-name one
client 3
ev "addr3 $(caller_addr 3)"
W3=$(wd_pid one)
ev "wd3 $W3"
kill -9 $W3
gone $W3
ev "wd_after_kill $(wd_pid one)"
kill -9 $(spid 3)
hangup_line 3
sleep 0.3
ev "state_after_kill3 $(state 10.9.16.20 one)"
line 4
server 4 10.0.0.1: rasstatic-pool 10.9.16.20 rasstatic-name one
client 4
ev "addr4 $(caller_addr 4)"
ev "wd4 $(wd_pid one)"
kill -TERM $(cpid 4)
ended server 4 > /dev/null
snap end
snap end-one one
ip link del lan0
