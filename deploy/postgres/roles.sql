-- Least privilege in Postgres: one LOGIN role per service, owning only its own schema.
--
-- Run once per database as a superuser (or the database owner with CREATEROLE), before the
-- services start:   psql "$ADMIN_DSN" -v ON_ERROR_STOP=1 -f deploy/postgres/roles.sql
-- then set each role's password (never in this file):
--   psql "$ADMIN_DSN" -c "ALTER ROLE labelops_routing PASSWORD '...'"   (or \password)
-- Idempotent: running it again changes nothing.
--
-- What each role may do:
--   labelops_<service>   owns schema <service> (event store, outbox, read models, dedup rows):
--                        creates and migrates its tables there; nothing in any other schema
--                        but SELECT on labelops_auth.api_keys (the shared API keys).
--   labelops_auth_admin  owns schema labelops_auth: runs its migrations and is the only role
--                        that writes api_keys (the service(s) serving CredentialService get
--                        its DSN as LABELOPS_<SVC>_AUTH_ADMIN_DSN; every other service sets
--                        LABELOPS_<SVC>_AUTH_MIGRATE=false).
--   labelops_auth_reader NOLOGIN group: SELECT on labelops_auth tables; every service role
--                        is a member.
-- PUBLIC loses CREATE on the database and on schema public, so no role can make a schema or
-- table outside its own.

\set ON_ERROR_STOP on

DO $roles$
DECLARE
  svc text;
  services text[] := ARRAY['ontology', 'curation', 'routing', 'qa', 'datasets', 'prelabel'];
BEGIN
  EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
  REVOKE CREATE ON SCHEMA public FROM PUBLIC;

  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'labelops_auth_reader') THEN
    CREATE ROLE labelops_auth_reader NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'labelops_auth_admin') THEN
    CREATE ROLE labelops_auth_admin LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
  END IF;
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO labelops_auth_admin', current_database());
  CREATE SCHEMA IF NOT EXISTS labelops_auth AUTHORIZATION labelops_auth_admin;
  ALTER SCHEMA labelops_auth OWNER TO labelops_auth_admin;
  GRANT USAGE ON SCHEMA labelops_auth TO labelops_auth_reader;
  GRANT SELECT ON ALL TABLES IN SCHEMA labelops_auth TO labelops_auth_reader;
  -- Tables its migrations create later are readable too.
  ALTER DEFAULT PRIVILEGES FOR ROLE labelops_auth_admin IN SCHEMA labelops_auth
    GRANT SELECT ON TABLES TO labelops_auth_reader;

  FOREACH svc IN ARRAY services LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'labelops_' || svc) THEN
      EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', 'labelops_' || svc);
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), 'labelops_' || svc);
    EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', svc, 'labelops_' || svc);
    EXECUTE format('ALTER SCHEMA %I OWNER TO %I', svc, 'labelops_' || svc);
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', svc);
    EXECUTE format('GRANT labelops_auth_reader TO %I', 'labelops_' || svc);
  END LOOP;
END
$roles$;
