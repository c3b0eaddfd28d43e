-- Ids per tenant (issue 17). The event store keys streams by (stream id, tenant) since its own
-- migration 0004, so project and pool ids no longer have to be unique across tenants: tenant B
-- creating project "p1" gets its own project (and its own stream projects/p1), A's "p1" is
-- neither seen nor touched. Every key of a project or pool leads with the tenant, and so do
-- the foreign keys and the indexes that look tasks up by project.
--
-- Task ids stay one namespace (uuid primary key): application/common.py task_id_for names the
-- tenant in the UUIDv5 of a non-default tenant's task (the default tenant's ids, from before
-- tenants, are unchanged), and QA, datasets and the event log name tasks by id.

ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_project_id_fkey;
ALTER TABLE annotators DROP CONSTRAINT IF EXISTS annotators_pool_id_fkey;

-- The (tenant_id, id) unique indexes of migration 0003 become the primary keys.
ALTER TABLE projects DROP CONSTRAINT IF EXISTS projects_pkey;
ALTER TABLE projects ADD CONSTRAINT projects_pkey PRIMARY KEY USING INDEX projects_tenant_key;
ALTER TABLE pools DROP CONSTRAINT IF EXISTS pools_pkey;
ALTER TABLE pools ADD CONSTRAINT pools_pkey PRIMARY KEY USING INDEX pools_tenant_key;

ALTER TABLE tasks ADD CONSTRAINT tasks_project_fkey
    FOREIGN KEY (tenant_id, project_id) REFERENCES projects (tenant_id, project_id);
ALTER TABLE annotators ADD CONSTRAINT annotators_pool_fkey
    FOREIGN KEY (tenant_id, pool_id) REFERENCES pools (tenant_id, pool_id);

-- One task per item of a tenant's project (regular and gold).
ALTER TABLE tasks DROP CONSTRAINT IF EXISTS tasks_project_id_item_id_gold_key;
ALTER TABLE tasks ADD CONSTRAINT tasks_tenant_project_item_key
    UNIQUE (tenant_id, project_id, item_id, gold);

DROP INDEX IF EXISTS tasks_queue;
CREATE INDEX IF NOT EXISTS tasks_tenant_queue
    ON tasks (tenant_id, project_id, pool_id, priority DESC, due_at, created_at)
    WHERE state = 'queued' AND NOT gold;
DROP INDEX IF EXISTS tasks_gold;
CREATE INDEX IF NOT EXISTS tasks_tenant_gold ON tasks (tenant_id, project_id) WHERE gold;
DROP INDEX IF EXISTS tasks_labeled;
CREATE INDEX IF NOT EXISTS tasks_tenant_labeled ON tasks (tenant_id, project_id)
    WHERE state = 'labeled';
