-- Streams are per tenant: tenant B's stream `projects/p1` is not tenant A's. The concurrency
-- check is (tenant_id, stream_id, stream_version), so B creating a resource with the id of one
-- of A's starts its own stream at version 1 (never "already exists", which would tell B that
-- A's exists). The constraint keeps its name (the store recognises it by name); stream_id
-- leads the index so reads of a stream across tenants (admin tools) still use it.
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_stream_version_key;
ALTER TABLE events ADD CONSTRAINT events_stream_version_key
    UNIQUE (stream_id, tenant_id, stream_version);
