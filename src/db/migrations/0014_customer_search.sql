-- Customer search (the console's Customers page, GET …/customers?q=): part of an email or a name, or a whole
-- provider id. Without an index that reads every customer of the workspace (ILIKE '%…%'); trigram indexes find
-- the few that match. pg_trgm ships with PostgreSQL (the embedded binaries too) and is a trusted extension, so
-- the database's owner may create it; it goes into the public schema, so that every schema using Sluice shares
-- one. Where it cannot be created (no privilege, no public schema) the search still works, by reading them all.
DO $$
BEGIN
  CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public;
  CREATE INDEX customers_email_trgm ON customers USING gin (email public.gin_trgm_ops);
  CREATE INDEX customers_name_trgm ON customers USING gin (name public.gin_trgm_ops);
EXCEPTION WHEN insufficient_privilege OR undefined_file OR invalid_schema_name OR undefined_object OR feature_not_supported THEN
  RAISE NOTICE 'pg_trgm is not available: customer search reads every customer of the workspace';
END $$;
-- A whole provider id (cus_…, a Piano uid) from the search box, in any workspace's provider.
CREATE INDEX customers_provider_id ON customers (provider_id);
