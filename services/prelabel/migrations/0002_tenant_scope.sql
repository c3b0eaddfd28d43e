-- Tenant scoping (issue 17): every read model row belongs to one tenant, and every key starts
-- with it, so each statement can (and does) filter by the caller's tenant and two tenants'
-- equal ids (a project "p1" of each) never meet. Existing rows: the tenant of the model's
-- registration event where there is one, else 'default' (what a call without an
-- authenticator works in).

ALTER TABLE models ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
UPDATE models m SET tenant_id = e.tenant_id
    FROM events e
    WHERE e.stream_id = 'models/' || m.model_id AND e.stream_version = 1 AND e.tenant_id <> '';
ALTER TABLE models DROP CONSTRAINT IF EXISTS models_pkey;
ALTER TABLE models ADD PRIMARY KEY (tenant_id, model_id);
DROP INDEX IF EXISTS models_project;
CREATE INDEX IF NOT EXISTS models_tenant_project ON models (tenant_id, project_id, created_at);

ALTER TABLE model_versions ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
UPDATE model_versions v SET tenant_id = m.tenant_id
    FROM models m WHERE m.model_id = v.model_id;
ALTER TABLE model_versions DROP CONSTRAINT IF EXISTS model_versions_pkey;
ALTER TABLE model_versions ADD PRIMARY KEY (tenant_id, model_id, version);

ALTER TABLE embeddings ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE embeddings DROP CONSTRAINT IF EXISTS embeddings_pkey;
ALTER TABLE embeddings ADD PRIMARY KEY (tenant_id, item_id, vector_space);

ALTER TABLE tasks ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_pkey;
ALTER TABLE tasks ADD PRIMARY KEY (tenant_id, task_id);
DROP INDEX IF EXISTS tasks_pending;
DROP INDEX IF EXISTS tasks_open;
CREATE INDEX IF NOT EXISTS tasks_tenant_pending ON tasks (tenant_id, project_id)
    WHERE prelabel_state = 'pending';
CREATE INDEX IF NOT EXISTS tasks_tenant_open ON tasks (tenant_id, project_id) WHERE state = 'open';

ALTER TABLE labels ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE labels DROP CONSTRAINT IF EXISTS labels_pkey;
ALTER TABLE labels ADD PRIMARY KEY (tenant_id, project_id, item_id);

ALTER TABLE roi_observations ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
DROP INDEX IF EXISTS roi_class;
CREATE INDEX IF NOT EXISTS roi_tenant_class
    ON roi_observations (tenant_id, project_id, class_id, prelabeled, id);

ALTER TABLE class_switches ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE class_switches DROP CONSTRAINT IF EXISTS class_switches_pkey;
ALTER TABLE class_switches ADD PRIMARY KEY (tenant_id, project_id, class_id);

ALTER TABLE project_labels ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE project_labels DROP CONSTRAINT IF EXISTS project_labels_pkey;
ALTER TABLE project_labels ADD PRIMARY KEY (tenant_id, project_id);

-- Rows are always written with their tenant from here on: no default to fall back to.
ALTER TABLE models ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE model_versions ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE embeddings ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE tasks ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE labels ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE roi_observations ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE class_switches ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE project_labels ALTER COLUMN tenant_id DROP DEFAULT;
