-- Dataset ids per tenant (issue 17). 0002 kept dataset ids unique across tenants because they
-- named the event stream and the Qdrant collections; the event store now keys streams per
-- tenant (stream `datasets/{id}` of tenant B is not tenant A's), and collection names now carry
-- the tenant (adapters/vector_index.py). So tenant B may create a dataset whose id tenant A
-- uses: it is B's own, and "that id is taken" no longer tells B that A's exists.
--
-- Every table keyed by a dataset id leads with the tenant: datasets (tenant_id, dataset_id);
-- items and vectors get tenant_id (backfilled from their dataset: ids were unique across
-- tenants until now, so the join is exact) and composite primary, unique and foreign keys;
-- imports already had tenant_id, their foreign key now names it too.

-- The foreign keys on the old keys go first (names as Postgres gave them in 0001).
ALTER TABLE vectors DROP CONSTRAINT IF EXISTS vectors_dataset_id_item_id_fkey;
ALTER TABLE items DROP CONSTRAINT IF EXISTS items_dataset_id_fkey;
ALTER TABLE imports DROP CONSTRAINT IF EXISTS imports_dataset_id_fkey;

ALTER TABLE items ADD COLUMN IF NOT EXISTS tenant_id text;
UPDATE items i SET tenant_id = d.tenant_id FROM datasets d WHERE d.dataset_id = i.dataset_id;
ALTER TABLE items ALTER COLUMN tenant_id SET NOT NULL;

ALTER TABLE vectors ADD COLUMN IF NOT EXISTS tenant_id text;
UPDATE vectors v SET tenant_id = d.tenant_id FROM datasets d WHERE d.dataset_id = v.dataset_id;
ALTER TABLE vectors ALTER COLUMN tenant_id SET NOT NULL;

-- datasets: (tenant_id, dataset_id) is the key (it was a unique index beside the old key).
ALTER TABLE datasets DROP CONSTRAINT IF EXISTS datasets_pkey;
DROP INDEX IF EXISTS datasets_tenant_key;
ALTER TABLE datasets ADD PRIMARY KEY (tenant_id, dataset_id);

-- items
ALTER TABLE items DROP CONSTRAINT IF EXISTS items_pkey;
ALTER TABLE items DROP CONSTRAINT IF EXISTS items_external_id_key;
ALTER TABLE items ADD PRIMARY KEY (tenant_id, dataset_id, item_id);
ALTER TABLE items ADD CONSTRAINT items_external_id_key UNIQUE (tenant_id, dataset_id, external_id);
ALTER TABLE items ADD CONSTRAINT items_dataset_fkey
    FOREIGN KEY (tenant_id, dataset_id) REFERENCES datasets (tenant_id, dataset_id);
DROP INDEX IF EXISTS items_checksum_idx;
DROP INDEX IF EXISTS items_state_idx;
DROP INDEX IF EXISTS items_import_idx;
CREATE INDEX items_checksum_idx ON items (tenant_id, dataset_id, checksum) WHERE checksum <> '';
CREATE INDEX items_state_idx ON items (tenant_id, dataset_id, state, seq);
CREATE INDEX items_import_idx ON items (tenant_id, dataset_id, import_id, seq);
-- ListItems without filters pages a dataset's items in registration order.
CREATE INDEX items_seq_idx ON items (tenant_id, dataset_id, seq);

-- vectors
ALTER TABLE vectors DROP CONSTRAINT IF EXISTS vectors_pkey;
ALTER TABLE vectors ADD PRIMARY KEY (tenant_id, dataset_id, vector_space, item_id);
ALTER TABLE vectors ADD CONSTRAINT vectors_item_fkey
    FOREIGN KEY (tenant_id, dataset_id, item_id) REFERENCES items (tenant_id, dataset_id, item_id);
DROP INDEX IF EXISTS vectors_unindexed_idx;
CREATE INDEX vectors_unindexed_idx ON vectors (tenant_id, dataset_id, vector_space)
    WHERE NOT indexed;

-- imports
ALTER TABLE imports ADD CONSTRAINT imports_dataset_fkey
    FOREIGN KEY (tenant_id, dataset_id) REFERENCES datasets (tenant_id, dataset_id);

-- Qdrant: collections of tenants other than 'default' are now named after their tenant too
-- (the 'default' tenant keeps the names it had). Qdrant is a projection of this table, so the
-- indexer copies those vectors into their new collections; the old ones can be deleted.
UPDATE vectors SET indexed = false WHERE tenant_id <> 'default';
