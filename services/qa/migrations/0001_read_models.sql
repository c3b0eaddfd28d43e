-- Read models of the QA service, written by its consumers (routing and ontology events) in
-- the same transaction as their processed_events row, and by its commands with their events.

CREATE TABLE IF NOT EXISTS projects (
    project_id          text PRIMARY KEY,
    ontology_id         text NOT NULL,
    ontology_version    text NOT NULL,
    review_policy       text NOT NULL,          -- none | sampled | targeted | all
    review_sample_rate  double precision NOT NULL,
    high_stakes_classes text[] NOT NULL
);

CREATE TABLE IF NOT EXISTS ontology_versions (
    ontology_id text NOT NULL,
    version     text NOT NULL,
    definition  bytea NOT NULL,
    PRIMARY KEY (ontology_id, version)
);

CREATE TABLE IF NOT EXISTS tasks (
    task_id          uuid PRIMARY KEY,
    project_id       text NOT NULL,
    item_id          text NOT NULL,
    required         integer NOT NULL,
    received         integer NOT NULL DEFAULT 0,
    gold             boolean NOT NULL,
    gold_expected    bytea,                       -- labelops.labels.v1.ItemLabels
    high_stakes      boolean NOT NULL,
    context          bytea NOT NULL,              -- labelops.labels.v1.ItemContext
    state            text NOT NULL,               -- labeling | in_review | accepted | rejected
    review_reason    text NOT NULL DEFAULT '',
    review_decision  text NOT NULL DEFAULT '',
    reviewer         text NOT NULL DEFAULT '',
    stream_version   bigint NOT NULL DEFAULT 0,   -- of the task's stream in this service
    created_at       timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_project_state ON tasks (project_id, state);

-- Every submitted label, as routing published it (never changed).
CREATE TABLE IF NOT EXISTS labels (
    event_id      uuid PRIMARY KEY,
    task_id       uuid NOT NULL,
    project_id    text NOT NULL,
    item_id       text NOT NULL,
    annotator_id  text NOT NULL,
    labels        bytea NOT NULL,                 -- labelops.labels.v1.ItemLabels
    gold          boolean NOT NULL,
    submitted_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS labels_task ON labels (task_id);
CREATE INDEX IF NOT EXISTS labels_project ON labels (project_id, submitted_at);

-- Consensus result sets: "live" (streaming, per task as it completes) and one per
-- RunConsensus. Insert-only: a new run never changes an earlier one.
CREATE TABLE IF NOT EXISTS consensus (
    run_id        text NOT NULL,
    task_id       uuid NOT NULL,
    project_id    text NOT NULL,
    item_id       text NOT NULL,
    method        text NOT NULL,
    labels        bytea NOT NULL,
    score         double precision NOT NULL,
    annotator_ids text[] NOT NULL,
    -- Labels the task had when this result was computed: a re-labeled task gets a new live
    -- result next to the old one.
    labels_used   integer NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (run_id, task_id, labels_used)
);
CREATE INDEX IF NOT EXISTS consensus_project ON consensus (project_id, run_id);

CREATE TABLE IF NOT EXISTS runs (
    run_id     text PRIMARY KEY,
    project_id text NOT NULL,
    method     text NOT NULL,
    tasks      bigint NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS gold_scores (
    task_id        uuid NOT NULL,
    annotator_id   text NOT NULL,
    project_id     text NOT NULL,
    expected_class text NOT NULL,
    given_class    text NOT NULL,
    correct        boolean NOT NULL,
    at             timestamptz NOT NULL,
    PRIMARY KEY (task_id, annotator_id)
);
CREATE INDEX IF NOT EXISTS gold_scores_annotator ON gold_scores (project_id, annotator_id, at);

-- Running agreement per class (mean consensus score): the measured ambiguity that sets
-- targeted review rates.
CREATE TABLE IF NOT EXISTS class_stats (
    project_id text NOT NULL,
    class_id   text NOT NULL,
    tasks      bigint NOT NULL,
    score_sum  double precision NOT NULL,
    PRIMARY KEY (project_id, class_id)
);

CREATE TABLE IF NOT EXISTS drift_flags (
    project_id   text NOT NULL,
    annotator_id text NOT NULL,
    answers_at   bigint NOT NULL,                -- gold answers counted when flagged
    PRIMARY KEY (project_id, annotator_id)
);
