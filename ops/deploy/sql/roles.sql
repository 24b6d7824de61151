-- govledger's PostgreSQL roles: one login role per unit (docs/install.md §Database and roles).
-- Run once per cluster as a superuser (idempotent; it never drops or renames a role):
--   sudo -u postgres psql -v ON_ERROR_STOP=1 -f ops/deploy/sql/roles.sql
-- Then ops/deploy/sql/database.sql, then the passwords (`govledger pgpass`, which writes one
-- pgpass file per role and prints the SQL that sets them; no password is in this file).
-- What each role may do is granted by `govledger init` run as govledger_owner
-- (GOVLEDGER_POSTGRES_LAYOUT=true, ops/layout.py); the table below is the same list.
--
--   govledger_owner      owns the database, its schema and the ledger's tables: init, upgrades, restore
--   govledger_app        the API (govledger serve)
--   govledger_import     govledger import
--   govledger_projector  the projection worker (owns the read models it builds)
--   govledger_checkpoint the checkpoint issuer
--   govledger_witness    a witness on this host (witnesses elsewhere get their own role)
--   govledger_verifier   govledger verify, incremental and full
--   govledger_backup     govledger backup (pg_dump)
--   govledger_keys       govledger keys create|list|revoke
--
-- None is a superuser or may create roles or databases, and none is a member of another
-- (INHERIT only lets the owner act as pg_database_owner, which owns the schema public).
SELECT format('CREATE ROLE %I LOGIN', name)
FROM unnest(ARRAY[
  'govledger_owner', 'govledger_app', 'govledger_import', 'govledger_projector',
  'govledger_checkpoint', 'govledger_witness', 'govledger_verifier', 'govledger_backup',
  'govledger_keys'
]) AS name
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name)
\gexec

SELECT format(
  'ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT',
  name)
FROM unnest(ARRAY[
  'govledger_owner', 'govledger_app', 'govledger_import', 'govledger_projector',
  'govledger_checkpoint', 'govledger_witness', 'govledger_verifier', 'govledger_backup',
  'govledger_keys'
]) AS name
\gexec
