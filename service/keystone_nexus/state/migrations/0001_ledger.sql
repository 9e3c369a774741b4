-- The pipeline ledger: every batch the sink committed, and every run of the repair and
-- transform tools. Rows are keyed so that recording the same thing twice is a no-op.
CREATE TABLE nexus.batches (
    topic           text        NOT NULL,
    partition       integer     NOT NULL,
    first_offset    bigint      NOT NULL,
    last_offset     bigint      NOT NULL,
    valid_records   integer     NOT NULL,
    dead_records    integer     NOT NULL,
    skipped_records integer     NOT NULL DEFAULT 0,
    objects         jsonb       NOT NULL,  -- [{"key": ..., "rows": ..., "bytes": ...}]
    owner           text        NOT NULL,
    committed_at    timestamptz NOT NULL,
    source          text        NOT NULL DEFAULT 'sink',  -- sink | checkpoint | rebuild
    PRIMARY KEY (topic, partition, first_offset),
    CHECK (last_offset >= first_offset - 1)
);
CREATE INDEX batches_committed_at ON nexus.batches (committed_at);

CREATE TABLE nexus.runs (
    kind        text        NOT NULL,  -- redrive | reprocess | transform
    run_id      text        NOT NULL,  -- the tool's own id: the same run recorded twice is one row
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    status      text        NOT NULL,  -- succeeded | failed
    summary     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    steps       jsonb       NOT NULL DEFAULT '[]'::jsonb,  -- per model / test / checkpoint
    PRIMARY KEY (kind, run_id)
);
CREATE INDEX runs_started_at ON nexus.runs (started_at);
