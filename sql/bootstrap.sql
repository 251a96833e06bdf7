-- Bootstrap for an external PostgreSQL (not a migration: migrations are the numbered files, applied by the service).
-- Run once as a superuser; it creates the service's own role and database:
--   psql "postgres://postgres@db-host/postgres" -v password="'change-me'" -f sql/bootstrap.sql
-- Then point the service at it: DATABASE_URL=postgres://order_service:change-me@db-host:5432/orders
-- (docker-compose.yml needs none of this: the postgres image creates both from POSTGRES_USER / POSTGRES_DB.)
\set ON_ERROR_STOP on
SELECT format('CREATE ROLE order_service LOGIN PASSWORD %s', :password)
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'order_service') \gexec
SELECT 'CREATE DATABASE orders OWNER order_service'
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'orders') \gexec
-- The service needs nothing beyond owning its database: it creates its tables through the migrations.
REVOKE ALL ON DATABASE orders FROM PUBLIC;
