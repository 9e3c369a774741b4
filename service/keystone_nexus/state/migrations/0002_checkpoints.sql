-- Partition checkpoints for lakes whose object store cannot fence: one row per lake and
-- checkpoint key, replaced only by whoever read its current version.
CREATE TABLE nexus.checkpoints (
    lake       text        NOT NULL,  -- the lake's URI
    key        text        NOT NULL,  -- the checkpoint's key in the lake layout
    body       bytea       NOT NULL,
    version    bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (lake, key)
);
