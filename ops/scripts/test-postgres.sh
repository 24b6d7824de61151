#!/usr/bin/env bash
# Make sure a PostgreSQL answers for the test suite, then print the variables
# the tests read (eval "$(ops/scripts/test-postgres.sh)").
#
# 1. If a server answers at $GOVLEDGER_TEST_PGHOST:$GOVLEDGER_TEST_PGPORT
#    (default 127.0.0.1:5432) and lets the `postgres` superuser in, use it.
# 2. Otherwise start a private cluster (Debian's PostgreSQL: initdb + pg_ctl)
#    in $TMPDIR on port 25432 (or the next free of ten), installing the server
#    package if it is missing and we are root. The port lies below Linux's
#    ephemeral range (32768-60999): one inside it can be held at any moment by a
#    client connection's local end, and the server then cannot bind it.
# Then create the owner role, the application role and the test database.
set -euo pipefail

host=${GOVLEDGER_TEST_PGHOST:-127.0.0.1}
port=${GOVLEDGER_TEST_PGPORT:-5432}
private_port=${GOVLEDGER_TEST_PRIVATE_PGPORT:-25432}
db=govledger_test
owner=govledger_owner
app=govledger_app

log() { echo "test-postgres: $*" >&2; }

can_connect() { psql -h "$1" -p "$2" -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; }

pg_bindir() {
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir; return
  fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

start_private_cluster() {
  local bindir run_as=()
  bindir=$(pg_bindir)
  if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      log "installing Debian's postgresql"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null \
        || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q postgresql >/dev/null; }
      bindir=$(pg_bindir)
    else
      log "no PostgreSQL server binaries (install Debian's postgresql package)"; return 1
    fi
  fi
  local dir=${TMPDIR:-/tmp}/govledger-pgtest-$(id -u)
  # initdb refuses to run as root: run the private cluster as the postgres user.
  if [ "$(id -u)" = 0 ]; then run_as=(runuser -u postgres --); fi
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    log "initdb $dir/data"
    "${run_as[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust >/dev/null
  fi
  local try
  for try in $(seq "$private_port" $((private_port + 9))); do
    if can_connect 127.0.0.1 "$try"; then host=127.0.0.1; port=$try; return; fi
    log "starting a private PostgreSQL on 127.0.0.1:$try"
    if "${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-p $try -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null; then
      host=127.0.0.1; port=$try; return
    fi
    log "could not start on port $try (taken?): trying the next"
  done
  log "no private PostgreSQL could start (see $dir/server.log)"; return 1
}

if ! can_connect "$host" "$port"; then
  log "no PostgreSQL answers at $host:$port"
  start_private_cluster
fi

psql -h "$host" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt >/dev/null <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$owner') THEN CREATE ROLE $owner LOGIN; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$app') THEN CREATE ROLE $app LOGIN; END IF;
END \$\$;
SELECT 'CREATE DATABASE $db OWNER $owner' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$db')\gexec
SQL

echo "export GOVLEDGER_TEST_DATABASE_URL=postgresql://$owner@$host:$port/$db"
echo "export GOVLEDGER_TEST_APP_DATABASE_URL=postgresql://$app@$host:$port/$db"
echo "export GOVLEDGER_TEST_ADMIN_DATABASE_URL=postgresql://postgres@$host:$port/$db"
