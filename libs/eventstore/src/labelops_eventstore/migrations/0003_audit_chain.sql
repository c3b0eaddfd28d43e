-- The audit log of one service: every command and every denial (labelops_core.audit), written
-- in batches by AuditLog. seq / prev_hash / hash stay NULL until the ChainWorker chains the
-- row: per tenant, seq = 1, 2, ... and hash = sha256(prev_hash || canonical record bytes)
-- (labelops_eventstore.chain). `labelops audit verify` recomputes the chain.
CREATE TABLE IF NOT EXISTS audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL,
    tenant_id   text        NOT NULL,
    actor_kind  text        NOT NULL DEFAULT '',
    actor_id    text        NOT NULL DEFAULT '',
    service     text        NOT NULL DEFAULT '',
    method      text        NOT NULL DEFAULT '',
    action      text        NOT NULL DEFAULT '',
    resource    text        NOT NULL DEFAULT '',
    outcome     text        NOT NULL,
    code        text        NOT NULL DEFAULT '',
    reason      text        NOT NULL DEFAULT '',
    trace_id    text        NOT NULL DEFAULT '',
    seq         bigint,
    prev_hash   bytea,
    hash        bytea,
    CONSTRAINT audit_log_tenant_seq_key UNIQUE (tenant_id, seq)
);
-- The chain worker's work list: rows not chained yet.
CREATE INDEX IF NOT EXISTS audit_log_unchained_idx ON audit_log (id) WHERE hash IS NULL;

-- The hash chain over the events table, per tenant: seq -> the event's position and the hash
-- sha256(previous hash || canonical event bytes). Events are chained in (tx_id, position)
-- order of finished transactions, so none is skipped (as the outbox relay publishes them).
CREATE TABLE IF NOT EXISTS event_chain (
    tenant_id  text   NOT NULL,
    seq        bigint NOT NULL,
    position   bigint NOT NULL,
    hash       bytea  NOT NULL,
    CONSTRAINT event_chain_pkey PRIMARY KEY (tenant_id, seq),
    CONSTRAINT event_chain_position_key UNIQUE (position)
);

-- How far the chain worker has chained the events: the last (tx_id, position) chained.
CREATE TABLE IF NOT EXISTS chain_progress (
    chain         text   PRIMARY KEY,
    last_tx_id    bigint NOT NULL DEFAULT 0,
    last_position bigint NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
