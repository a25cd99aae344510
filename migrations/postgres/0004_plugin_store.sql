-- The shared plugin store: every published component's bytes, every change of a slot's active version (the newest
-- release of a slot is what every process runs), and what each process reports running.
CREATE TABLE plugin_components (
    slot        TEXT NOT NULL,
    digest      TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    size_bytes  BIGINT NOT NULL,
    bytes       BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (slot, digest)
);
CREATE TABLE plugin_releases (
    id          BIGSERIAL PRIMARY KEY,
    slot        TEXT NOT NULL,
    digest      TEXT NOT NULL,
    action      TEXT NOT NULL,
    source      TEXT NOT NULL,
    process_id  TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    FOREIGN KEY (slot, digest) REFERENCES plugin_components (slot, digest)
);
CREATE INDEX plugin_releases_slot_idx ON plugin_releases (slot, id);
CREATE TABLE plugin_processes (
    process_id    TEXT PRIMARY KEY,
    host          TEXT NOT NULL,
    role          TEXT NOT NULL,
    digests_json  JSONB NOT NULL,
    refusals_json JSONB NOT NULL,
    started_at    TIMESTAMPTZ NOT NULL,
    seen_at       TIMESTAMPTZ NOT NULL
);
-- Which payment version took each charge: its refund runs on that same version.
ALTER TABLE payments ADD COLUMN plugin_digest TEXT;
