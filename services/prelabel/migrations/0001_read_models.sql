-- Read models of the prelabel service, written by its consumers (routing, qa and curation
-- events) in the same transaction as their processed_events row, and by its commands and
-- workers together with the events they append.

-- Registered models; the latest registered model of a project serves it.
CREATE TABLE IF NOT EXISTS models (
    model_id        text PRIMARY KEY,
    project_id      text NOT NULL,
    name            text NOT NULL,
    kind            text NOT NULL,               -- logistic | knn_propagation | external
    classes         text[] NOT NULL,
    url             text NOT NULL DEFAULT '',
    task            text NOT NULL DEFAULT '',
    vector_space    text NOT NULL DEFAULT '',
    retrain_every   integer NOT NULL,
    min_confidence  double precision NOT NULL,
    serving         boolean NOT NULL,
    -- Built-in: accepted labels at the last training (NULL: never trained); the trainer
    -- picks models whose project gained retrain_every labels since.
    trained_on      bigint,
    current_version text NOT NULL DEFAULT '',
    train_due       boolean NOT NULL DEFAULT false,
    stream_version  bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS models_project ON models (project_id, created_at);

-- Trained versions of built-in models (the pickled estimator lives only here).
CREATE TABLE IF NOT EXISTS model_versions (
    model_id    text NOT NULL,
    version     text NOT NULL,
    trained_on  bigint NOT NULL,
    metrics     bytea NOT NULL,                  -- labelops.prelabel.v1.HeldOutMetrics
    blob        bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (model_id, version)
);

-- Curation embeddings (ItemEmbedded), float32 little-endian.
CREATE TABLE IF NOT EXISTS embeddings (
    item_id      text NOT NULL,
    vector_space text NOT NULL,
    dim          integer NOT NULL,
    vector       bytea NOT NULL,
    PRIMARY KEY (item_id, vector_space)
);

-- Routing's tasks, as far as pre-labels and priorities need them.
CREATE TABLE IF NOT EXISTS tasks (
    task_id         text PRIMARY KEY,
    project_id      text NOT NULL,
    item_id         text NOT NULL,
    item_uri        text NOT NULL,
    modality        text NOT NULL,
    context         bytea NOT NULL,              -- labelops.labels.v1.ItemContext
    gold            boolean NOT NULL,
    state           text NOT NULL,               -- open | labeled | canceled
    -- pending: to pre-label; proposed / skipped / failed: done (reason says why).
    prelabel_state  text NOT NULL,
    prelabel_reason text NOT NULL DEFAULT '',
    prelabel_class  text NOT NULL DEFAULT '',
    attempts        integer NOT NULL DEFAULT 0,
    stream_version  bigint NOT NULL DEFAULT 0,   -- of the task's pre-label stream here
    created_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_pending ON tasks (project_id) WHERE prelabel_state = 'pending';
CREATE INDEX IF NOT EXISTS tasks_open ON tasks (project_id) WHERE state = 'open';

-- The accepted label of each item (QA's LabelAccepted; a later acceptance replaces it).
CREATE TABLE IF NOT EXISTS labels (
    project_id  text NOT NULL,
    item_id     text NOT NULL,
    task_id     text NOT NULL,
    class_id    text NOT NULL,
    accepted_at timestamptz NOT NULL,
    PRIMARY KEY (project_id, item_id)
);

-- Time and outcome of each label routing received: the ROI evidence.
CREATE TABLE IF NOT EXISTS roi_observations (
    id          bigserial PRIMARY KEY,
    project_id  text NOT NULL,
    class_id    text NOT NULL,
    prelabeled  boolean NOT NULL,
    outcome     text,                            -- ACCEPTED | EDITED | REPLACED; NULL = scratch
    seconds     double precision NOT NULL,
    observed_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS roi_class ON roi_observations (project_id, class_id, prelabeled, id);

-- Pre-labeling on / off per class (absent = on), and observations since the last decision.
CREATE TABLE IF NOT EXISTS class_switches (
    project_id   text NOT NULL,
    class_id     text NOT NULL,
    enabled      boolean NOT NULL DEFAULT true,
    reason       text NOT NULL DEFAULT '',
    since_eval   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, class_id)
);


-- Accepted labels per project (what retraining every N labels counts).
CREATE TABLE IF NOT EXISTS project_labels (
    project_id text PRIMARY KEY,
    labels     bigint NOT NULL
);
