-- Tenant scoping (issue 17): every row belongs to one tenant and every key / index a
-- statement filters by leads with it, so a version is built only from the caller's tenant's
-- labels and two tenants may name projects, datasets, items and ontologies alike. ``accepted``
-- keeps its log-position key (a record is at one place in the log whatever its tenant) and
-- gets the tenant of the record's envelope, carried in the projection's COPY rows. Rows stored
-- before tenants were kept belong to 'default'.

ALTER TABLE accepted ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
DROP INDEX IF EXISTS accepted_task;
DROP INDEX IF EXISTS accepted_superseded;
CREATE INDEX IF NOT EXISTS accepted_tenant_task ON accepted (tenant_id, task_id);
CREATE INDEX IF NOT EXISTS accepted_tenant_superseded
    ON accepted (tenant_id, project_id, topic, partition, superseded_offset)
    WHERE superseded_offset IS NOT NULL;

ALTER TABLE segments ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE segments DROP CONSTRAINT IF EXISTS segments_pkey;
ALTER TABLE segments ADD PRIMARY KEY (tenant_id, project_id, topic, partition, segment);

ALTER TABLE project_ontologies ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE project_ontologies DROP CONSTRAINT IF EXISTS project_ontologies_pkey;
ALTER TABLE project_ontologies
    ADD PRIMARY KEY (tenant_id, project_id, ontology_id, ontology_version, topic, partition);

ALTER TABLE items ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE items DROP CONSTRAINT IF EXISTS items_pkey;
ALTER TABLE items ADD PRIMARY KEY (tenant_id, item_id);

ALTER TABLE ontology_versions ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE ontology_versions DROP CONSTRAINT IF EXISTS ontology_versions_pkey;
ALTER TABLE ontology_versions ADD PRIMARY KEY (tenant_id, ontology_id, version);

ALTER TABLE ontology_migrations ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE ontology_migrations DROP CONSTRAINT IF EXISTS ontology_migrations_pkey;
ALTER TABLE ontology_migrations
    ADD PRIMARY KEY (tenant_id, ontology_id, from_version, to_version);

ALTER TABLE datasets ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE datasets DROP CONSTRAINT IF EXISTS datasets_pkey;
ALTER TABLE datasets ADD PRIMARY KEY (tenant_id, dataset_id);

ALTER TABLE versions ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE versions DROP CONSTRAINT IF EXISTS versions_pkey;
ALTER TABLE versions ADD PRIMARY KEY (tenant_id, dataset_id, version);

-- A segment's fingerprint names what its bytes depend on within one tenant's labels: the
-- cache is per tenant (tenant B's "same" segment of a project of the same id is other rows).
ALTER TABLE segment_files ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE segment_files DROP CONSTRAINT IF EXISTS segment_files_pkey;
ALTER TABLE segment_files ADD PRIMARY KEY (tenant_id, fingerprint);

-- New rows always name their tenant.
ALTER TABLE accepted ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE segments ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE project_ontologies ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE items ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE ontology_versions ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE ontology_migrations ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE datasets ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE versions ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE segment_files ALTER COLUMN tenant_id DROP DEFAULT;
