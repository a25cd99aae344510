-- Every plugin version the host activated, with where it came from.
CREATE TABLE plugin_versions (
    id          BIGSERIAL PRIMARY KEY,
    slot        TEXT NOT NULL,
    digest      TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    source      TEXT NOT NULL,
    size_bytes  BIGINT NOT NULL,
    activation  TEXT NOT NULL,
    host        TEXT NOT NULL,
    loaded_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX plugin_versions_slot_idx ON plugin_versions (slot, id);
