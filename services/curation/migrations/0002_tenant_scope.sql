-- Tenant scoping (issue 17): every dataset and import belongs to one tenant; every dataset and
-- import statement filters by the caller's tenant (another tenant's answers NOT_FOUND).
--
-- Dataset ids stay unique across tenants: they name this service's event streams
-- (datasets/{id}, which routing and datasets consume) and the Qdrant collections. So the
-- datasets key stays and (tenant_id, dataset_id) is the key lookups use. Items and vectors
-- hang off their dataset (composite keys with dataset_id) and are only reached through a
-- dataset the tenant owns. Import ids are the client's: unique per tenant.
--
-- Rows stored before tenants: the tenant of the dataset stream's first event where one was
-- recorded, else 'default'; an import takes its dataset's.

ALTER TABLE datasets ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
UPDATE datasets d SET tenant_id = e.tenant_id FROM events e
    WHERE e.stream_id = 'datasets/' || d.dataset_id AND e.stream_version = 1
    AND e.tenant_id <> '';
CREATE UNIQUE INDEX IF NOT EXISTS datasets_tenant_key ON datasets (tenant_id, dataset_id);

ALTER TABLE imports ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
UPDATE imports i SET tenant_id = d.tenant_id FROM datasets d WHERE d.dataset_id = i.dataset_id;
ALTER TABLE imports DROP CONSTRAINT IF EXISTS imports_pkey;
ALTER TABLE imports ADD PRIMARY KEY (tenant_id, import_id);

-- New rows always name their tenant (no default hides a forgotten one).
ALTER TABLE datasets ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE imports ALTER COLUMN tenant_id DROP DEFAULT;
