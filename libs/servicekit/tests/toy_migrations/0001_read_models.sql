-- The toy service of the servicekit tests: what its consumer saw.
CREATE TABLE IF NOT EXISTS seen (event_id text PRIMARY KEY, item_id text NOT NULL);
