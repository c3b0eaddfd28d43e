-- Tenant scoping (issue 17): every read-model row belongs to one tenant and every key leads
-- with it, so each statement filters by the caller's tenant (or the consumed event's) and two
-- tenants may use the same project id without seeing each other. Rows stored before tenants
-- were kept belong to 'default' (the routing events they came from are not kept here).

ALTER TABLE projects ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE projects DROP CONSTRAINT IF EXISTS projects_pkey;
ALTER TABLE projects ADD PRIMARY KEY (tenant_id, project_id);

ALTER TABLE tasks ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_pkey;
ALTER TABLE tasks ADD PRIMARY KEY (tenant_id, task_id);
DROP INDEX IF EXISTS tasks_project_state;
CREATE INDEX IF NOT EXISTS tasks_tenant_project_state ON tasks (tenant_id, project_id, state);

ALTER TABLE labels ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE labels DROP CONSTRAINT IF EXISTS labels_pkey;
ALTER TABLE labels ADD PRIMARY KEY (tenant_id, event_id);
DROP INDEX IF EXISTS labels_task;
DROP INDEX IF EXISTS labels_project;
CREATE INDEX IF NOT EXISTS labels_tenant_task ON labels (tenant_id, task_id);
CREATE INDEX IF NOT EXISTS labels_tenant_project ON labels (tenant_id, project_id, submitted_at);

ALTER TABLE consensus ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE consensus DROP CONSTRAINT IF EXISTS consensus_pkey;
ALTER TABLE consensus ADD PRIMARY KEY (tenant_id, run_id, task_id, labels_used);
DROP INDEX IF EXISTS consensus_project;
CREATE INDEX IF NOT EXISTS consensus_tenant_project ON consensus (tenant_id, project_id, run_id);

ALTER TABLE runs ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE runs DROP CONSTRAINT IF EXISTS runs_pkey;
ALTER TABLE runs ADD PRIMARY KEY (tenant_id, run_id);

ALTER TABLE gold_scores ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE gold_scores DROP CONSTRAINT IF EXISTS gold_scores_pkey;
ALTER TABLE gold_scores ADD PRIMARY KEY (tenant_id, task_id, annotator_id);
DROP INDEX IF EXISTS gold_scores_annotator;
CREATE INDEX IF NOT EXISTS gold_scores_tenant_annotator
    ON gold_scores (tenant_id, project_id, annotator_id, at);

ALTER TABLE class_stats ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE class_stats DROP CONSTRAINT IF EXISTS class_stats_pkey;
ALTER TABLE class_stats ADD PRIMARY KEY (tenant_id, project_id, class_id);

ALTER TABLE drift_flags ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
ALTER TABLE drift_flags DROP CONSTRAINT IF EXISTS drift_flags_pkey;
ALTER TABLE drift_flags ADD PRIMARY KEY (tenant_id, project_id, annotator_id);

-- New rows always name their tenant (no default hides a forgotten one).
ALTER TABLE projects ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE tasks ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE labels ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE consensus ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE runs ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE gold_scores ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE class_stats ALTER COLUMN tenant_id DROP DEFAULT;
ALTER TABLE drift_flags ALTER COLUMN tenant_id DROP DEFAULT;
