-- The event store of one service (runs with search_path set to the service's schema).
-- position: bigserial, for ordering only; it is NOT gap-free under concurrent commits.
-- tx_id: the writing transaction's xid8 (as bigint). The outbox relay publishes only events
-- whose tx_id is below the oldest running transaction (pg_snapshot_xmin), so an event can
-- never become visible "behind" the relay's watermark. See docs/architecture.md.
CREATE TABLE IF NOT EXISTS events (
    position        bigserial PRIMARY KEY,
    tx_id           bigint      NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    event_id        uuid        NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL CHECK (stream_version > 0),
    type            text        NOT NULL,
    tenant_id       text        NOT NULL DEFAULT '',
    actor_kind      smallint    NOT NULL DEFAULT 0,
    actor_id        text        NOT NULL DEFAULT '',
    occurred_at     timestamptz NOT NULL,
    correlation_id  text        NOT NULL DEFAULT '',
    causation_id    text        NOT NULL DEFAULT '',
    traceparent     text        NOT NULL DEFAULT '',
    request_id      text,
    payload         bytea       NOT NULL,
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    -- The optimistic-concurrency check: two writers of the same version cannot both commit.
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
);
CREATE INDEX IF NOT EXISTS events_tx_idx ON events (tx_id, position);
CREATE INDEX IF NOT EXISTS events_type_idx ON events (type, position);

-- AIP-155 idempotency: one row per request id, written in the same transaction as its events.
CREATE TABLE IF NOT EXISTS requests (
    request_id     text PRIMARY KEY,
    stream_id      text        NOT NULL,
    fingerprint    text        NOT NULL DEFAULT '',
    event_ids      uuid[]      NOT NULL DEFAULT '{}',
    first_version  bigint      NOT NULL DEFAULT 0,
    last_version   bigint      NOT NULL DEFAULT 0,
    positions      bigint[]    NOT NULL DEFAULT '{}',
    response       bytea,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Relay progress: every transaction with tx_id < tx_watermark has been published.
CREATE TABLE IF NOT EXISTS outbox_progress (
    relay         text PRIMARY KEY,
    tx_watermark  bigint      NOT NULL,
    published     bigint      NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
