-- The seed's column names and meanings, so its own queries and reports run unchanged (existing rows are kept):
-- orders(id, state, address_json, items_json, created_at, updated_at), payments(…, amount in dollars),
-- events(id, order_id, event_type, payload_json, timestamp).
ALTER TABLE orders RENAME COLUMN order_id TO id;
ALTER TABLE orders RENAME COLUMN items TO items_json;
ALTER TABLE orders RENAME COLUMN address TO address_json;
-- The workflow run that received the order: the only run whose activities may touch it. NULL on rows written
-- before this migration.
ALTER TABLE orders ADD COLUMN run_id TEXT;

-- Dollars beside the cents the host works in, always in step with them (SQLite adds only VIRTUAL generated
-- columns to an existing table; REAL is the decimal SQLite has).
ALTER TABLE payments ADD COLUMN amount REAL GENERATED ALWAYS AS (amount_cents / 100.0) VIRTUAL;

ALTER TABLE events RENAME COLUMN kind TO event_type;
ALTER TABLE events RENAME COLUMN details TO payload_json;
ALTER TABLE events RENAME COLUMN created_at TO "timestamp";

-- One order per payment id (the payment processor's idempotency key), for every order received from now on.
CREATE UNIQUE INDEX orders_payment_owner_idx ON orders (payment_id) WHERE run_id IS NOT NULL;

-- Orders needing attention are counted on every /metrics scrape.
CREATE INDEX events_type_order_idx ON events (event_type, order_id);
