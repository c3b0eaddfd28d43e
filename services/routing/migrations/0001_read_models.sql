-- Read models of the routing service, written in the same transactions as the events
-- (commands) or as the processed_events rows (consumers of curation / ontology events).

CREATE TABLE IF NOT EXISTS projects (
    project_id       text PRIMARY KEY,
    display_name     text NOT NULL,
    dataset_id       text NOT NULL,
    ontology_id      text NOT NULL,
    ontology_version text NOT NULL,
    config           bytea NOT NULL,          -- labelops.routing.v1.WorkflowConfig
    config_version   bigint NOT NULL,
    rules            bytea NOT NULL,          -- labelops.routing.v1.RoutingRules
    rules_version    bigint NOT NULL,
    stream_version   bigint NOT NULL,
    tasks_total      bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS projects_dataset ON projects (dataset_id);

CREATE TABLE IF NOT EXISTS pools (
    pool_id           text PRIMARY KEY,
    display_name      text NOT NULL,
    kind              text NOT NULL,           -- in_house | vendor
    vendor_id         text NOT NULL,
    capacity          integer NOT NULL,
    cost_per_task     double precision NOT NULL,
    qualified_classes text[] NOT NULL,
    active            boolean NOT NULL,
    stream_version    bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS annotators (
    annotator_id text PRIMARY KEY,
    pool_id      text NOT NULL REFERENCES pools,
    display_name text NOT NULL,
    skills       text[] NOT NULL,
    active       boolean NOT NULL
);

-- Items of curation datasets, from labelops.curation.events.v1.
CREATE TABLE IF NOT EXISTS items (
    dataset_id  text NOT NULL,
    item_id     text NOT NULL,
    uri         text NOT NULL,
    modality    text NOT NULL,
    context     bytea NOT NULL,                -- labelops.labels.v1.ItemContext
    metadata    jsonb NOT NULL,
    included    boolean NOT NULL DEFAULT false,
    PRIMARY KEY (dataset_id, item_id)
);

-- Published ontology versions, from labelops.ontology.events.v1 (immutable).
CREATE TABLE IF NOT EXISTS ontology_versions (
    ontology_id text NOT NULL,
    version     text NOT NULL,
    definition  bytea NOT NULL,                -- labelops.ontology.v1.OntologyDefinition
    PRIMARY KEY (ontology_id, version)
);

CREATE TABLE IF NOT EXISTS tasks (
    task_id         uuid PRIMARY KEY,
    project_id      text NOT NULL REFERENCES projects,
    item_id         text NOT NULL,
    item_uri        text NOT NULL,
    modality        text NOT NULL,
    context         bytea NOT NULL,
    state           text NOT NULL,             -- queued | in_progress | labeled | canceled
    required        integer NOT NULL,          -- 0 for gold tasks (served to anyone once)
    submitted       integer NOT NULL DEFAULT 0,
    active          integer NOT NULL DEFAULT 0,
    pool_id         text NOT NULL,
    route_rule      text NOT NULL,
    route_reason    text NOT NULL,
    signals         bytea NOT NULL,            -- labelops.routing.v1.TaskSignals
    class_id        text NOT NULL,
    priority        double precision NOT NULL,
    due_at          timestamptz,
    gold            boolean NOT NULL,
    prelabels       bytea,                     -- labelops.labels.v1.ItemLabels
    stream_version  bigint NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    UNIQUE (project_id, item_id, gold)
);
-- The queue: what a pool can be offered, best first.
CREATE INDEX IF NOT EXISTS tasks_queue
    ON tasks (project_id, pool_id, priority DESC, due_at, created_at)
    WHERE state = 'queued' AND NOT gold;
CREATE INDEX IF NOT EXISTS tasks_gold ON tasks (project_id) WHERE gold;
-- Open tasks per pool (capacity / overflow) and labeled tasks per project, counted when needed
-- rather than kept in counter rows: a counter row every label submission updates would
-- serialize all submitters of a pool on one row lock.
CREATE INDEX IF NOT EXISTS tasks_open ON tasks (pool_id)
    WHERE state IN ('queued', 'in_progress') AND NOT gold;
CREATE INDEX IF NOT EXISTS tasks_labeled ON tasks (project_id) WHERE state = 'labeled';

CREATE TABLE IF NOT EXISTS assignments (
    assignment_id uuid PRIMARY KEY,
    task_id       uuid NOT NULL REFERENCES tasks,
    project_id    text NOT NULL,
    annotator_id  text NOT NULL,
    pool_id       text NOT NULL,
    vendor_id     text NOT NULL,
    state         text NOT NULL,               -- active | submitted | expired | skipped | released
    lease_expires timestamptz NOT NULL,
    reason        text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    -- Never the same annotator twice on a task (an expired lease counts: it goes to someone else).
    UNIQUE (task_id, annotator_id)
);
CREATE INDEX IF NOT EXISTS assignments_expiry ON assignments (lease_expires) WHERE state = 'active';

-- Offers made per annotator and project: the sequence number that draws gold slots.
CREATE TABLE IF NOT EXISTS offer_counters (
    project_id   text NOT NULL,
    annotator_id text NOT NULL,
    offers       bigint NOT NULL,
    PRIMARY KEY (project_id, annotator_id)
);
