-- Request ids (AIP-155) are unique per tenant, not globally: tenant B replaying tenant A's
-- request id gets its own handling, never A's stored answer.
ALTER TABLE requests ADD COLUMN IF NOT EXISTS tenant_id text NOT NULL DEFAULT 'default';
-- Existing requests take the tenant of their first event where it has one.
UPDATE requests r SET tenant_id = e.tenant_id
  FROM events e
 WHERE e.event_id = r.event_ids[1] AND e.tenant_id <> '' AND r.tenant_id <> e.tenant_id;
ALTER TABLE requests DROP CONSTRAINT IF EXISTS requests_pkey;
ALTER TABLE requests ADD CONSTRAINT requests_pkey PRIMARY KEY (tenant_id, request_id);

-- No event is tenant-less: the store writes the principal's tenant or 'default'; rows written
-- before this migration without one belong to 'default'.
UPDATE events SET tenant_id = 'default' WHERE tenant_id = '';
ALTER TABLE events ALTER COLUMN tenant_id SET DEFAULT 'default';
ALTER TABLE events ADD CONSTRAINT events_tenant_not_empty CHECK (tenant_id <> '');
