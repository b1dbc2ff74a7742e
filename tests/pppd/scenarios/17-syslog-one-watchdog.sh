# A dial-in server with a syslog daemon: pppd's syslog socket is its
# descriptor 3 (the guest's syslog listens on /dev/log, and the runner
# leaks no descriptor into pppd). Many calls, some ending in SIGKILL, are
# watched by one watchdog, which keeps its lock and its signal descriptor
# and logs under its own name.
. "$LIB"
POOL=10.9.17.10-10.9.17.13
wds() { pgrep -x rasstatic-wd | tr '\n' ' '; }
line 1; line 2
# The first call: pppd's descriptor 3 is its syslog socket.
server 1 10.0.0.1: rasstatic-pool $POOL
client 1
ev "addr_first $(caller_addr 1)"
ev "pppd_fd3 $(readlink /proc/$(spid 1)/fd/3)"
W=$(wd_pid)
ev "wd_first $W"
kill -TERM $(cpid 1); ended server 1 > /dev/null; ended client 1 > /dev/null
# Eight more calls over two lines; every third dial-in pppd is SIGKILLed,
# so the watchdog logs a reap.
i=0
counts=""
for n in 1 2 1 2 1 2 1 2; do
    i=$((i + 1))
    server $n 10.0.0.1: rasstatic-pool $POOL
    client $n
    a=$(caller_addr $n)
    if [ $((i % 3)) = 0 ]; then
        kill -9 $(spid $n); ended server $n > /dev/null
        kill -TERM $(cpid $n); ended client $n > /dev/null
        for _ in $(seq 50); do [ "$(state $a)" = free ] && break; sleep 0.02; done
    else
        kill -TERM $(cpid $n); ended server $n > /dev/null; ended client $n > /dev/null
    fi
    counts="$counts$(pgrep -x rasstatic-wd | wc -l) "
    # Let a watchdog log what it would (its first line is where glibc used
    # to lose descriptor 3).
    sleep 0.2
done
ev "wd_counts $counts"
ev "wds_end $(wds)"
ev "wd_end $(wd_pid)"
ev "wd_fd3 $(readlink /proc/$W/fd/3)"
ev "wd_fds $(for f in /proc/$W/fd/*; do readlink $f; done | sort | tr '\n' ' ')"
snap end
# SIGTERM still stops it (its signalfd was not taken by glibc either).
kill -TERM $W
gone $W 5 && ev "wd_term stopped" || ev "wd_term running"
