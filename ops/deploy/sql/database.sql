-- govledger's database (docs/install.md §Database and roles), after roles.sql.
-- Run as a superuser; idempotent. The database name is a psql variable (default govledger):
--   sudo -u postgres psql -v ON_ERROR_STOP=1 -f ops/deploy/sql/database.sql
--   sudo -u postgres psql -v ON_ERROR_STOP=1 -v dbname=govledger_restore -f ops/deploy/sql/database.sql
-- The ledger lives in the schema `public`, owned by the database's owner (govledger_owner, as
-- PostgreSQL 15's pg_database_owner): only it may create there. Tables and grants are made by `govledger init` as the owner.
\if :{?dbname}
\else
  \set dbname govledger
\endif

SELECT format('CREATE DATABASE %I OWNER govledger_owner ENCODING ''UTF8'' TEMPLATE template0', :'dbname')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'dbname')
\gexec

-- Nobody but the layout's roles connects; nobody makes temporary tables.
REVOKE ALL ON DATABASE :"dbname" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"dbname" TO
  govledger_owner, govledger_app, govledger_import, govledger_projector, govledger_checkpoint,
  govledger_witness, govledger_verifier, govledger_backup, govledger_keys;

\connect :"dbname"
-- PostgreSQL 15 already keeps CREATE on `public` from PUBLIC; USAGE goes too: each role of the
-- layout gets USAGE from `govledger init`, nobody else sees the schema.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
-- The read models are the projection worker's tables; the API reads every one it creates.
ALTER DEFAULT PRIVILEGES FOR ROLE govledger_projector IN SCHEMA public
  GRANT SELECT ON TABLES TO govledger_app;
