-- Tenant scoping (issue 17): an ontology id is unique within its tenant, not globally. Two
-- tenants may both have "animals"; neither sees, collides with or learns of the other's.
-- Every key leads with tenant_id and every statement filters by it.
--
-- Rows stored before tenants: ontologies already kept the creating principal's tenant (empty
-- without an authenticator); an empty one takes the tenant of the stream's first event, else
-- 'default'. Versions and migrations take their ontology's.

UPDATE ontologies o SET tenant_id = e.tenant_id FROM events e
    WHERE o.tenant_id = '' AND e.stream_id = 'ontologies/' || o.ontology_id
    AND e.stream_version = 1 AND e.tenant_id <> '';
UPDATE ontologies SET tenant_id = 'default' WHERE tenant_id = '';

ALTER TABLE ontology_versions ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT '';
UPDATE ontology_versions v SET tenant_id = o.tenant_id FROM ontologies o
    WHERE o.ontology_id = v.ontology_id;
ALTER TABLE ontology_migrations ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT '';
UPDATE ontology_migrations m SET tenant_id = o.tenant_id FROM ontologies o
    WHERE o.ontology_id = m.ontology_id;

-- Keys: drop the id-only ones (foreign keys first), then the same keys with the tenant first.
ALTER TABLE ontology_migrations DROP CONSTRAINT IF EXISTS ontology_migrations_ontology_id_fkey;
ALTER TABLE ontology_migrations
    DROP CONSTRAINT IF EXISTS ontology_migrations_ontology_id_from_version_fkey;
ALTER TABLE ontology_migrations
    DROP CONSTRAINT IF EXISTS ontology_migrations_ontology_id_to_version_fkey;
ALTER TABLE ontology_migrations DROP CONSTRAINT IF EXISTS ontology_migrations_pkey;
ALTER TABLE ontology_versions DROP CONSTRAINT IF EXISTS ontology_versions_ontology_id_fkey;
ALTER TABLE ontology_versions DROP CONSTRAINT IF EXISTS ontology_versions_ontology_id_seq_key;
ALTER TABLE ontology_versions DROP CONSTRAINT IF EXISTS ontology_versions_pkey;
ALTER TABLE ontologies DROP CONSTRAINT IF EXISTS ontologies_pkey;

ALTER TABLE ontologies ADD PRIMARY KEY (tenant_id, ontology_id);
ALTER TABLE ontology_versions ADD PRIMARY KEY (tenant_id, ontology_id, version);
ALTER TABLE ontology_versions ADD UNIQUE (tenant_id, ontology_id, seq);
ALTER TABLE ontology_versions ADD FOREIGN KEY (tenant_id, ontology_id)
    REFERENCES ontologies (tenant_id, ontology_id);
ALTER TABLE ontology_migrations ADD PRIMARY KEY (tenant_id, ontology_id, from_version, to_version);
ALTER TABLE ontology_migrations ADD FOREIGN KEY (tenant_id, ontology_id, from_version)
    REFERENCES ontology_versions (tenant_id, ontology_id, version);
ALTER TABLE ontology_migrations ADD FOREIGN KEY (tenant_id, ontology_id, to_version)
    REFERENCES ontology_versions (tenant_id, ontology_id, version);

-- ListOntologies pages by (create_time, ontology_id) within one tenant.
DROP INDEX IF EXISTS ontologies_list_idx;
CREATE INDEX IF NOT EXISTS ontologies_tenant_list_idx ON ontologies (tenant_id, create_time, ontology_id);

-- New rows always name their tenant (no default hides a forgotten one).
ALTER TABLE ontologies ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE ontology_versions ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE ontology_migrations ALTER COLUMN tenant_id DROP DEFAULT;
