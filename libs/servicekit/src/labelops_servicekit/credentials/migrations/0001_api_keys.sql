-- API keys of every tenant, shared by all services (schema labelops_auth; every service
-- role may read it, only the admin role writes it: deploy/postgres/roles.sql).
-- Only the sha256 of the secret is stored: keys are 32 random bytes, so a fast hash is right
-- (no dictionary to attack; a slow KDF would only slow every call's key check).
CREATE TABLE api_keys (
    key_id        text        PRIMARY KEY,
    tenant_id     text        NOT NULL,
    subject       text        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('user', 'vendor', 'model', 'service')),
    roles         text[]      NOT NULL DEFAULT '{}',
    vendor_id     text,
    secret_sha256 bytea       NOT NULL CHECK (length(secret_sha256) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    revoked_at    timestamptz,
    rotated_from  text,
    created_by    text        NOT NULL DEFAULT '',
    CHECK ((kind = 'vendor') = (vendor_id IS NOT NULL))
);

-- ListApiKeys: one tenant's keys, newest first (key_id breaks ties).
CREATE INDEX api_keys_tenant_created ON api_keys (tenant_id, created_at DESC, key_id DESC);
