-- A canary release gives its version to a share of new orders (canary_percent); the slot's stable version stays its
-- newest other release until the canary is promoted or rolled back.
ALTER TABLE plugin_releases ADD COLUMN canary_percent INTEGER;
-- The orders a canary took, fixed for each order's life: retries and replays read the pin back.
CREATE TABLE order_plugin_pins (
    order_id    TEXT NOT NULL,
    slot        TEXT NOT NULL,
    release_id  INTEGER NOT NULL,
    digest      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (order_id, slot)
);
