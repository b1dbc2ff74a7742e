# PAP authentication with a "*" address column: the caller still gets its
# pool address, and the table records its name.
. "$LIB"
cat > /etc/ppp/pap-secrets <<'S'
alice * wonderland *
S
chmod 600 /etc/ppp/pap-secrets
SRVA=$(echo "$SRV" | sed 's/noauth//')
line 1
launch server 1 $PPPD "$L/s1" $SRVA auth require-pap plugin "$PLUGIN" rasstatic-dir "$TDIR" \
    logfile "$OUT/server.1.log" 10.0.0.1: rasstatic-pool 10.9.13.1-10.9.13.3
client 1 user alice
ev "addr1 $(caller_addr 1)"
snap up
kill -TERM $(cpid 1)
ev "server_exit $(ended server 1)"
snap end
