-- The seed's tables: orders, payments, events.
CREATE TABLE orders (
    order_id     TEXT PRIMARY KEY,
    payment_id   TEXT NOT NULL,
    state        TEXT NOT NULL,
    -- Monotonic per order: a late write from a stale activity attempt never moves the state backwards.
    state_seq    BIGINT NOT NULL DEFAULT 0,
    step         TEXT,
    items        JSONB NOT NULL,
    address      JSONB NOT NULL,
    total_cents  BIGINT,
    package_id   TEXT,
    carrier      TEXT,
    tracking     TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX orders_state_created_idx ON orders (state, created_at, order_id);
CREATE INDEX orders_created_idx ON orders (created_at, order_id);

CREATE TABLE payments (
    payment_id      TEXT PRIMARY KEY,
    order_id        TEXT NOT NULL REFERENCES orders (order_id),
    amount_cents    BIGINT NOT NULL,
    -- pending → charged → refunded, or pending → declined
    status          TEXT NOT NULL,
    transaction_id  TEXT,
    refund_id       TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payments_order_idx ON payments (order_id);

-- Append-only: one row per activity attempt, state change or command.
CREATE TABLE events (
    id             BIGSERIAL PRIMARY KEY,
    order_id       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    activity       TEXT,
    attempt        INTEGER,
    outcome        TEXT,
    message        TEXT,
    plugin_digest  TEXT,
    state          TEXT,
    details        JSONB,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX events_order_idx ON events (order_id, id);
