#!/bin/sh
# First start of the compose PostgreSQL (docker-entrypoint-initdb.d, as the superuser): the
# layout's roles and the database from the shipped SQL (ops/deploy/sql), then their passwords
# from secrets/passwords.sql, the SCRAM verifiers `govledger pgpass` printed (no password in
# it). The `init` service then creates the ledger as govledger_owner and grants the layout.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -f /govledger-sql/roles.sql
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -f /govledger-sql/database.sql
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -f /run/secrets/passwords_sql
