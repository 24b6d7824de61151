#!/bin/sh
# First start of the compose PostgreSQL: the least-privileged service role. `govledger init
# --app-role govledger_app` (the compose `init` service) then grants it what it needs.
set -eu
psql -v ON_ERROR_STOP=1 -v password="$(cat /run/secrets/app_password)" \
  --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE govledger_app LOGIN PASSWORD :'password';
SQL
