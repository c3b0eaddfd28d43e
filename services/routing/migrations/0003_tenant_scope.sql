-- Tenant scoping (issue 17): every read-model row belongs to one tenant and every statement
-- filters by the caller's tenant (or the consumed event's).
--
-- Project, pool and task ids stay unique across tenants: they name this service's event
-- streams (projects/{id}, pools/{id}, projects/{id}/tasks/{task}), and stream ids are one
-- namespace in the event store (consumers such as datasets parse them). So their primary keys
-- stay, and a (tenant_id, id) unique key is what lookups and lists use. Annotators, offer
-- counters and items name no stream: their keys lead with the tenant, so two tenants may
-- register the same annotator id or see the same curation item ids.
--
-- Rows stored before tenants: the tenant of the stream's first event where this service
-- recorded one, else 'default'.

ALTER TABLE projects ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
UPDATE projects p SET tenant_id = e.tenant_id FROM events e
    WHERE e.stream_id = 'projects/' || p.project_id AND e.stream_version = 1
    AND e.tenant_id <> '';
CREATE UNIQUE INDEX IF NOT EXISTS projects_tenant_key ON projects (tenant_id, project_id);
DROP INDEX IF EXISTS projects_dataset;
CREATE INDEX IF NOT EXISTS projects_tenant_dataset ON projects (tenant_id, dataset_id);

ALTER TABLE pools ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
UPDATE pools p SET tenant_id = e.tenant_id FROM events e
    WHERE e.stream_id = 'pools/' || p.pool_id AND e.stream_version = 1 AND e.tenant_id <> '';
CREATE UNIQUE INDEX IF NOT EXISTS pools_tenant_key ON pools (tenant_id, pool_id);

ALTER TABLE annotators ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
UPDATE annotators a SET tenant_id = p.tenant_id FROM pools p WHERE p.pool_id = a.pool_id;
ALTER TABLE annotators DROP CONSTRAINT IF EXISTS annotators_pkey;
ALTER TABLE annotators ADD PRIMARY KEY (tenant_id, annotator_id);
CREATE INDEX IF NOT EXISTS annotators_tenant_pool ON annotators (tenant_id, pool_id);

ALTER TABLE tasks ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
UPDATE tasks t SET tenant_id = p.tenant_id FROM projects p WHERE p.project_id = t.project_id;
-- Open tasks per pool of a tenant (capacity / overflow counts).
DROP INDEX IF EXISTS tasks_open;
CREATE INDEX IF NOT EXISTS tasks_tenant_open ON tasks (tenant_id, pool_id)
    WHERE state IN ('queued', 'in_progress') AND NOT gold;

ALTER TABLE assignments ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
UPDATE assignments a SET tenant_id = t.tenant_id FROM tasks t WHERE t.task_id = a.task_id;

ALTER TABLE offer_counters ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
UPDATE offer_counters o SET tenant_id = p.tenant_id FROM projects p
    WHERE p.project_id = o.project_id;
ALTER TABLE offer_counters DROP CONSTRAINT IF EXISTS offer_counters_pkey;
ALTER TABLE offer_counters ADD PRIMARY KEY (tenant_id, project_id, annotator_id);

-- Items come from curation events: no tenant was kept for them; 'default' until curation
-- re-sends them (a re-registration is an upsert under its event's tenant).
ALTER TABLE items ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE items DROP CONSTRAINT IF EXISTS items_pkey;
ALTER TABLE items ADD PRIMARY KEY (tenant_id, dataset_id, item_id);

-- New rows always name their tenant (no default hides a forgotten one).
ALTER TABLE projects ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE pools ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE annotators ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE tasks ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE assignments ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE offer_counters ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE items ALTER COLUMN tenant_id DROP DEFAULT;
