-- Every plugin version the host activated, with where it came from.
CREATE TABLE plugin_versions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    slot        TEXT NOT NULL,
    digest      TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     TEXT NOT NULL,
    source      TEXT NOT NULL,
    size_bytes  INTEGER NOT NULL,
    activation  TEXT NOT NULL,
    host        TEXT NOT NULL,
    loaded_at   TEXT NOT NULL
);
CREATE INDEX plugin_versions_slot_idx ON plugin_versions (slot, id);
