#!/bin/sh
# A private FreeRADIUS 3.2 (Debian 12's) for the side-by-side benchmark:
# rlm_sqlippool on SQLite, pools "small" (254 addresses), "large" (65,536)
# and "one" (1, with a 5 s lease), listening on 127.0.0.1:18120/18121
# only. Debian's own configuration under /etc/freeradius is copied, never
# changed. Usage: setup.sh BENCHDIR (as root). Writes BENCHDIR/raddb,
# BENCHDIR/db/*.db.
set -eu
B=$1
RADDB=$B/raddb
DB=$B/db
rm -rf "$RADDB" "$DB"
mkdir -p "$B" "$DB"
cp -a /etc/freeradius/3.0 "$RADDB"
sed -i "s|^raddbdir = .*|raddbdir = $RADDB|" "$RADDB/radiusd.conf"

# Modules: only what the benchmark's virtual server uses.
rm -f "$RADDB"/mods-enabled/* "$RADDB"/sites-enabled/*
for m in always expr; do ln -s ../mods-available/$m "$RADDB/mods-enabled/$m"; done
sed -e 's|driver = "rlm_sql_null"|driver = "rlm_sql_sqlite"|' \
    -e "s|filename = \"/tmp/freeradius.db\"|filename = \"$DB/radius.db\"|" \
    -e '/bootstrap = /d' \
    "$RADDB/mods-available/sql" > "$RADDB/mods-enabled/sql"
sed -e 's|dialect = "mysql"|dialect = "sqlite"|' \
    "$RADDB/mods-available/sqlippool" > "$RADDB/mods-enabled/sqlippool"
sed -e 's|^sqlippool {|sqlippool sqlippool_short {|' -e 's|lease_duration = 3600|lease_duration = 5|' \
    "$RADDB/mods-enabled/sqlippool" > "$RADDB/mods-enabled/sqlippool_short"
grep -q 'lease_duration = 5' "$RADDB/mods-enabled/sqlippool_short"

# Debian 12's sqlite allocate_find lacks the AND before expiry_time: every
# allocation fails with a syntax error. Measured here with the fix.
Q=$RADDB/mods-config/sql/ippool/sqlite/queries.conf
awk '{ if (prev ~ /WHERE pool_name = .%\{control:\$\{pool_name\}\}. \\$/ && $1 == "expiry_time") sub(/expiry_time/, "AND expiry_time"); print; prev = $0 }' "$Q" > "$Q.new"
mv "$Q.new" "$Q"
grep -q "AND expiry_time < datetime('now')" "$Q"

cat > "$RADDB/sites-enabled/bench" <<'SITE'
server bench {
	listen {
		type = auth
		ipaddr = 127.0.0.1
		port = 18120
	}
	listen {
		type = acct
		ipaddr = 127.0.0.1
		port = 18121
	}
	authorize {
		update control {
			&Pool-Name := "%{%{NAS-Identifier}:-small}"
			&Auth-Type := Accept
		}
	}
	authenticate {
	}
	post-auth {
		if (&control:Pool-Name == "one") {
			sqlippool_short
		}
		else {
			sqlippool
		}
		if (!&reply:Framed-IP-Address) {
			reject
		}
	}
	preacct {
		update control {
			&Pool-Name := "%{%{NAS-Identifier}:-small}"
		}
	}
	accounting {
		if (&control:Pool-Name == "one") {
			sqlippool_short
		}
		else {
			sqlippool
		}
	}
}
SITE
cat > "$RADDB/clients.conf" <<'CLIENTS'
client localhost {
	ipaddr = 127.0.0.1
	secret = testing123
	require_message_authenticator = no
}
CLIENTS

# The pools. Expired leases (an hour ago) are free.
SCHEMA=$RADDB/mods-config/sql/ippool/sqlite/schema.sql
fill() { # fill DB POOL FIRST_OCTETS COUNT
    sqlite3 "$1" "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $4)
        INSERT INTO radippool (id, pool_name, framedipaddress, expiry_time)
        SELECT (SELECT COALESCE(MAX(id), 0) FROM radippool) + i + 1, '$2',
               CASE WHEN $4 > 256 THEN '$3.' || (i / 256) || '.' || (i % 256)
                    ELSE '$3.' || (i + 1) END,
               datetime('now', '-1 hour') FROM n;"
}
for db in radius small large; do sqlite3 "$DB/$db.db" < "$SCHEMA"; done
fill "$DB/radius.db" small 10.60.0 254
fill "$DB/radius.db" large 10.64 65536
fill "$DB/radius.db" one 10.62.0 1
# The same pools alone, for bytes per address.
fill "$DB/small.db" small 10.60.0 254
fill "$DB/large.db" large 10.64 65536
for db in radius small large; do sqlite3 "$DB/$db.db" "VACUUM;"; done

# PostgreSQL, the back end FreeRADIUS recommends for concurrency: the same
# pools in database "radius_bench", served by a second site on
# 127.0.0.1:18122/18123 (sql_pg + sqlippool_pg). Needs a running cluster.
if [ "${WITH_PG:-1}" = 1 ]; then
    for d in radius_bench mem_small mem_large; do
        su postgres -c "psql -q -c 'DROP DATABASE IF EXISTS $d'" > /dev/null 2>&1
    done
    su postgres -c "psql -q -c \"DROP ROLE IF EXISTS radius_bench\" -c \"CREATE ROLE radius_bench LOGIN PASSWORD 'bench'\"" > /dev/null
    su postgres -c "psql -q -c 'CREATE DATABASE radius_bench OWNER radius_bench'" > /dev/null
    PGPASSWORD=bench psql -q -h 127.0.0.1 -U radius_bench radius_bench \
        < "$RADDB/mods-config/sql/ippool/postgresql/schema.sql" > /dev/null
    PGPASSWORD=bench psql -q -h 127.0.0.1 -U radius_bench radius_bench > /dev/null <<SQL
INSERT INTO radippool (pool_name, framedipaddress, expiry_time)
    SELECT 'small', ('10.60.0.' || i)::inet, now() - interval '1 hour' FROM generate_series(1, 254) i;
INSERT INTO radippool (pool_name, framedipaddress, expiry_time)
    SELECT 'large', ('10.64.' || (i / 256) || '.' || (i % 256))::inet, now() - interval '1 hour'
    FROM generate_series(0, 65535) i;
INSERT INTO radippool (pool_name, framedipaddress, expiry_time)
    VALUES ('one', '10.62.0.1', now() - interval '1 hour');
VACUUM ANALYZE radippool;
SQL
    sed -e 's|^sql {|sql sql_pg {|' -e 's|dialect = "sqlite"|dialect = "postgresql"|' \
        -e 's|driver = "rlm_sql_sqlite"|driver = "rlm_sql_postgresql"|' \
        -e 's|^#*[[:space:]]*server = .*|	server = "127.0.0.1"|' \
        -e 's|^#*[[:space:]]*login = .*|	login = "radius_bench"|' \
        -e 's|^#*[[:space:]]*password = .*|	password = "bench"|' \
        -e 's|^[[:space:]]*radius_db = .*|	radius_db = "radius_bench"|' \
        "$RADDB/mods-enabled/sql" > "$RADDB/mods-enabled/sql_pg"
    sed -e 's|^sqlippool {|sqlippool sqlippool_pg {|' -e 's|dialect = "sqlite"|dialect = "postgresql"|' \
        -e 's|sql_module_instance = "sql"|sql_module_instance = "sql_pg"|' \
        "$RADDB/mods-enabled/sqlippool" > "$RADDB/mods-enabled/sqlippool_pg"
    sed -e 's|^server bench {|server bench_pg {|' -e 's|port = 18120|port = 18122|' -e 's|port = 18121|port = 18123|' \
        -e 's|sqlippool_short|sqlippool_pg|; s|^\(\t*\)sqlippool$|\1sqlippool_pg|' \
        "$RADDB/sites-enabled/bench" > "$RADDB/sites-enabled/bench_pg"
    for db in small large; do
        su postgres -c "psql -q -c 'CREATE DATABASE mem_$db OWNER radius_bench'" > /dev/null
        PGPASSWORD=bench psql -q -h 127.0.0.1 -U radius_bench mem_$db \
            < "$RADDB/mods-config/sql/ippool/postgresql/schema.sql" > /dev/null
    done
    PGPASSWORD=bench psql -q -h 127.0.0.1 -U radius_bench mem_small -c "INSERT INTO radippool (pool_name, framedipaddress, expiry_time) SELECT 'small', ('10.60.0.' || i)::inet, now() - interval '1 hour' FROM generate_series(1, 254) i;" -c "VACUUM ANALYZE radippool;" > /dev/null
    PGPASSWORD=bench psql -q -h 127.0.0.1 -U radius_bench mem_large -c "INSERT INTO radippool (pool_name, framedipaddress, expiry_time) SELECT 'large', ('10.64.' || (i / 256) || '.' || (i % 256))::inet, now() - interval '1 hour' FROM generate_series(0, 65535) i;" -c "VACUUM ANALYZE radippool;" > /dev/null
fi
chown -R freerad:freerad "$B"
chmod -R go-w "$B"
freeradius -d "$RADDB" -C > "$B/check.log" 2>&1 || { cat "$B/check.log"; exit 1; }
echo "FreeRADIUS configuration in $RADDB checks out"
