-- Read models of the ontology service (runs with search_path set to the service's schema).
-- Written in the same transaction as the events they come from (see application/handlers.py),
-- so a read after an acknowledged command always sees it. The events stay the source of truth.

CREATE TABLE IF NOT EXISTS ontologies (
    ontology_id     text        PRIMARY KEY,
    display_name    text        NOT NULL,
    description     text        NOT NULL DEFAULT '',
    -- labelops.ontology.v1.OntologyState (1 active, 2 deprecated).
    state           smallint    NOT NULL,
    -- Serialized labelops.ontology.v1.OntologyDefinition.
    draft           bytea       NOT NULL,
    draft_revision  bigint      NOT NULL,
    -- Published version numbers, oldest first.
    versions        text[]      NOT NULL DEFAULT '{}',
    -- Version of the stream "ontologies/{id}" this row reflects.
    stream_version  bigint      NOT NULL,
    tenant_id       text        NOT NULL DEFAULT '',
    create_time     timestamptz NOT NULL,
    update_time     timestamptz NOT NULL
);
-- ListOntologies pages by (create_time, ontology_id).
CREATE INDEX IF NOT EXISTS ontologies_list_idx ON ontologies (create_time, ontology_id);

CREATE TABLE IF NOT EXISTS ontology_versions (
    ontology_id   text        NOT NULL REFERENCES ontologies (ontology_id),
    version       text        NOT NULL,
    -- 1-based publication order (versions only ever increase, so this is also semver order).
    seq           integer     NOT NULL,
    fingerprint   text        NOT NULL,
    breaking      boolean     NOT NULL,
    publish_time  timestamptz NOT NULL,
    published_by  text        NOT NULL DEFAULT '',
    -- Serialized labelops.ontology.v1.OntologyVersion (definition, changes, notes, ...).
    body          bytea       NOT NULL,
    PRIMARY KEY (ontology_id, version),
    UNIQUE (ontology_id, seq)
);

CREATE TABLE IF NOT EXISTS ontology_migrations (
    ontology_id   text        NOT NULL REFERENCES ontologies (ontology_id),
    from_version  text        NOT NULL,
    to_version    text        NOT NULL,
    create_time   timestamptz NOT NULL,
    -- Serialized labelops.ontology.v1.OntologyMigration.
    body          bytea       NOT NULL,
    PRIMARY KEY (ontology_id, from_version, to_version),
    FOREIGN KEY (ontology_id, from_version) REFERENCES ontology_versions (ontology_id, version),
    FOREIGN KEY (ontology_id, to_version) REFERENCES ontology_versions (ontology_id, version)
);
