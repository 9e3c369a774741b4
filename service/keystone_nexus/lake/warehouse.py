"""The local DuckDB warehouse (silver and gold, built by dbt on DuckDB), opened for reading.

DuckDB names a database file's catalog after the file: a warehouse called `gold.duckdb`
has a catalog `gold` beside its schema `gold`, and `gold.fct_orders` becomes ambiguous.
Attached under a fixed name, any file name works.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

CATALOG = "nexus_warehouse"


def open_read_only(path: Path | str) -> duckdb.DuckDBPyConnection:
    """A connection that reads the warehouse at `path`; `schema.table` names resolve in it."""
    con = duckdb.connect()
    quoted = str(path).replace("'", "''")
    try:
        con.execute(f"attach '{quoted}' as {CATALOG} (read_only)")
        con.execute(f"use {CATALOG}")
    except BaseException:
        con.close()
        raise
    return con
