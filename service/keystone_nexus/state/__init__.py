"""Operational state in PostgreSQL (Amazon RDS), optional: with `state.dsn` unset the sink
keeps everything in the lake, as it always did.

    db.py           connections: a DSN (or Secrets Manager reference), RDS IAM tokens
    migrate.py      the versioned schema `nexus` (migrations/NNNN_*.sql), applied in order
    ledger.py       nexus.batches (every committed batch) and nexus.runs (re-drives,
                    reprocess runs, transform runs), written idempotently, read by
                    `nexus state batches|runs` and the dashboard
    checkpoints.py  the partition checkpoints in PostgreSQL (compare-and-swap on a row
                    version) for lakes whose object store cannot fence
    rebuild.py      the ledger rebuilt from the lake, its source of truth

The lake stays the truth: a batch is recorded after its checkpoint advanced, and a ledger
that lost rows (PostgreSQL down, a crash between the two) is repaired from the lake.
"""
