-- Read models of the datasets service. The history tables are written by its projections
-- (libs/bus BatchProjector: one transaction per batch, positions in consumer_positions);
-- datasets / versions by CreateDatasetVersion together with its DatasetVersionCreated event.

-- Every LabelAccepted of labelops.qa.events.v1, keyed by where it is in the log; appended by
-- the projection (COPY). superseded_offset (the offset of the task's next LabelAccepted, same
-- partition since the task stream is the record key) is filled in by ``link``, which follows
-- the log alone; link_positions says how far it got.
CREATE TABLE IF NOT EXISTS accepted (
    topic             text NOT NULL,
    partition         integer NOT NULL,
    "offset"          bigint NOT NULL,
    ts                timestamptz NOT NULL,       -- the Kafka record timestamp
    event_id          text NOT NULL,
    project_id        text NOT NULL,
    task_id           text NOT NULL,
    payload           bytea NOT NULL,             -- labelops.qa.v1.LabelAccepted
    superseded_offset bigint,
    PRIMARY KEY (topic, partition, "offset")
);
CREATE INDEX IF NOT EXISTS accepted_task ON accepted (task_id);
CREATE INDEX IF NOT EXISTS accepted_superseded
    ON accepted (project_id, topic, partition, superseded_offset)
    WHERE superseded_offset IS NOT NULL;
CREATE INDEX IF NOT EXISTS accepted_ts ON accepted (topic, partition, ts);

CREATE TABLE IF NOT EXISTS link_positions (
    topic     text NOT NULL,
    partition integer NOT NULL,
    linked_to bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);

-- Which segments of the log hold a project's accepted labels (segment = offset / span).
CREATE TABLE IF NOT EXISTS segments (
    project_id text NOT NULL,
    topic      text NOT NULL,
    partition  integer NOT NULL,
    segment    bigint NOT NULL,
    PRIMARY KEY (project_id, topic, partition, segment)
);

-- Ontology versions a project's labels were made under, with the first offset seen.
CREATE TABLE IF NOT EXISTS project_ontologies (
    project_id       text NOT NULL,
    ontology_id      text NOT NULL,
    ontology_version text NOT NULL,
    topic            text NOT NULL,
    partition        integer NOT NULL,
    first_offset     bigint NOT NULL,
    PRIMARY KEY (project_id, ontology_id, ontology_version, topic, partition)
);

-- Item metadata from curation's ItemRegistered: write-once per item (first registration).
CREATE TABLE IF NOT EXISTS items (
    item_id    text PRIMARY KEY,
    dataset_id text NOT NULL,
    uri        text NOT NULL,
    width      integer NOT NULL,
    height     integer NOT NULL
);

CREATE TABLE IF NOT EXISTS ontology_versions (
    ontology_id text NOT NULL,
    version     text NOT NULL,
    definition  bytea NOT NULL,
    PRIMARY KEY (ontology_id, version)
);

CREATE TABLE IF NOT EXISTS ontology_migrations (
    ontology_id  text NOT NULL,
    from_version text NOT NULL,
    to_version   text NOT NULL,
    rules        bytea NOT NULL,                 -- labelops.ontology.v1.OntologyMigrationCreated
    PRIMARY KEY (ontology_id, from_version, to_version)
);

CREATE TABLE IF NOT EXISTS datasets (
    dataset_id text PRIMARY KEY,
    project_id text NOT NULL
);

CREATE TABLE IF NOT EXISTS versions (
    dataset_id      text NOT NULL,
    version         bigint NOT NULL,
    record          bytea NOT NULL,              -- labelops.datasets.v1.DatasetVersion
    manifest_sha256 text NOT NULL,
    PRIMARY KEY (dataset_id, version)
);

-- Segment files already written, by the fingerprint of everything their bytes depend on.
CREATE TABLE IF NOT EXISTS segment_files (
    fingerprint text PRIMARY KEY,
    sha256      text NOT NULL,
    rows        bigint NOT NULL,
    bytes       bigint NOT NULL,
    stats       text NOT NULL                -- canonical JSON (exact round trip)
);
