-- Published ontology versions per tenant (issue 17; libs/ontologykit OntologyVersions):
-- ontology ids are per tenant, and two tenants' "animals" 1.0.0 are two definitions, each
-- tenant's reviewers' fixes are checked against its own. Rows stored before kept no tenant:
-- they become the default tenant's, and each tenant whose projects name a version gets a copy
-- of it, the definition its fixes were checked against so far (the event that carried it is
-- not consumed again), so those projects' fixes keep being checked.
ALTER TABLE ontology_versions ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE ontology_versions DROP CONSTRAINT IF EXISTS ontology_versions_pkey;
ALTER TABLE ontology_versions ADD PRIMARY KEY (tenant_id, ontology_id, version);
INSERT INTO ontology_versions (tenant_id, ontology_id, version, definition)
    SELECT DISTINCT p.tenant_id, o.ontology_id, o.version, o.definition
    FROM ontology_versions o JOIN projects p
        ON p.ontology_id = o.ontology_id AND p.ontology_version = o.version
    WHERE o.tenant_id = 'default' AND p.tenant_id <> 'default'
    ON CONFLICT DO NOTHING;
-- New rows always name their tenant (no default hides a forgotten one).
ALTER TABLE ontology_versions ALTER COLUMN tenant_id DROP DEFAULT;
