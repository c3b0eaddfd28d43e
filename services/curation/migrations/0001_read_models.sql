-- Read models of the curation service (runs with search_path set to the service's schema).
-- Written in the same transaction as the events they come from (application/handlers.py), so a
-- read after an acknowledged command sees it. The events stay the source of truth; Qdrant is a
-- projection of the vectors table (adapters/vector_index.py) and can be rebuilt from it.

CREATE TABLE IF NOT EXISTS datasets (
    dataset_id               text        PRIMARY KEY,
    display_name             text        NOT NULL DEFAULT '',
    description              text        NOT NULL DEFAULT '',
    embedders                text[]      NOT NULL DEFAULT '{}',
    custom_vector_dim        integer     NOT NULL DEFAULT 0,
    auto_include             boolean     NOT NULL DEFAULT false,
    near_duplicate_threshold real        NOT NULL,
    -- Item counters, kept by the writers (who hold this row's lock).
    items_total              bigint      NOT NULL DEFAULT 0,
    items_pending            bigint      NOT NULL DEFAULT 0,
    items_included           bigint      NOT NULL DEFAULT 0,
    items_excluded           bigint      NOT NULL DEFAULT 0,
    create_time              timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS items (
    -- Registration order: the paging key and the "earliest registered" tie-break.
    seq              bigserial   UNIQUE,
    dataset_id       text        NOT NULL REFERENCES datasets (dataset_id),
    item_id          uuid        NOT NULL,
    external_id      text        NOT NULL,
    uri              text        NOT NULL,
    -- labelops.curation.v1.Modality.
    modality         smallint    NOT NULL,
    size_bytes       bigint      NOT NULL DEFAULT 0,
    width            integer     NOT NULL DEFAULT 0,
    height           integer     NOT NULL DEFAULT 0,
    duration_ms      bigint      NOT NULL DEFAULT 0,
    checksum         text        NOT NULL DEFAULT '',
    metadata         jsonb       NOT NULL DEFAULT '{}',
    text             text        NOT NULL DEFAULT '',
    perceptual_hash  text        NOT NULL DEFAULT '',
    -- labelops.curation.v1.CurationState / CurationReason.
    state            smallint    NOT NULL,
    reason           smallint    NOT NULL DEFAULT 0,
    note             text        NOT NULL DEFAULT '',
    duplicate_of     uuid,
    import_id        text        NOT NULL DEFAULT '',
    create_time      timestamptz NOT NULL,
    update_time      timestamptz NOT NULL,
    PRIMARY KEY (dataset_id, item_id),
    CONSTRAINT items_external_id_key UNIQUE (dataset_id, external_id)
);
CREATE INDEX IF NOT EXISTS items_checksum_idx ON items (dataset_id, checksum) WHERE checksum <> '';
CREATE INDEX IF NOT EXISTS items_state_idx ON items (dataset_id, state, seq);
CREATE INDEX IF NOT EXISTS items_import_idx ON items (import_id, seq);
CREATE INDEX IF NOT EXISTS items_metadata_idx ON items USING gin (metadata jsonb_path_ops);

-- One vector per (item, vector space), little-endian float32, L2-normalized.
CREATE TABLE IF NOT EXISTS vectors (
    dataset_id     text     NOT NULL,
    vector_space   text     NOT NULL,
    item_id        uuid     NOT NULL,
    model_version  text     NOT NULL DEFAULT '',
    dim            integer  NOT NULL,
    vector         bytea    NOT NULL,
    -- False until the vector is in Qdrant (the indexer sets it after the upsert).
    indexed        boolean  NOT NULL DEFAULT false,
    PRIMARY KEY (dataset_id, vector_space, item_id),
    FOREIGN KEY (dataset_id, item_id) REFERENCES items (dataset_id, item_id)
);
CREATE INDEX IF NOT EXISTS vectors_unindexed_idx ON vectors (dataset_id, vector_space)
    WHERE NOT indexed;

CREATE TABLE IF NOT EXISTS imports (
    import_id                 text        PRIMARY KEY,
    dataset_id                text        NOT NULL REFERENCES datasets (dataset_id),
    -- labelops.curation.v1.ImportState.
    state                     smallint    NOT NULL,
    items_received            bigint      NOT NULL DEFAULT 0,
    items_registered          bigint      NOT NULL DEFAULT 0,
    items_already_registered  bigint      NOT NULL DEFAULT 0,
    exact_duplicates          bigint      NOT NULL DEFAULT 0,
    vectors_written           bigint      NOT NULL DEFAULT 0,
    messages_committed        bigint      NOT NULL DEFAULT 0,
    error                     text        NOT NULL DEFAULT '',
    start_time                timestamptz NOT NULL,
    update_time               timestamptz NOT NULL
);
