"""A fast, deterministic synthetic Olist dataset.

`generate(out)` writes the nine files of the public Olist Brazilian e-commerce dataset
(Kaggle "olistbr/brazilian-ecommerce") with the contract's file names and columns, at
the real dataset's size (scale 1.0) or any fraction or multiple of it. Everything is
drawn with numpy's PCG64 from `seed`, one independent stream per entity, in vectorised
form: the same seed and scale always give byte-identical files.

The data keeps the dataset's shape: referential integrity between the files, Brazilian
states, cities and postal code prefixes that agree with each other, order statuses and
the timestamps each status implies, items, payments that add up to the items, and
reviews whose scores follow the delivery experience.

This module is the public API and the writing; the drawing lives beside it, by role:
`draw_parties` (places, customers, sellers, products), `draw_sales` (orders, items,
payments, reviews) and `draws` (seeded streams, weighted draws, Arrow columns).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts.entities import EntitySpec, FieldType
from keystone_nexus.olist import reference as catalog
from keystone_nexus.olist.draw_parties import _customers, _geography, _products, _sellers
from keystone_nexus.olist.draw_sales import _items, _orders, _payments, _reviews
from keystone_nexus.olist.draws import _rng, scaled_count

__all__ = ["Fmt", "build_tables", "file_name", "generate", "scaled_count", "write_jsonl"]

Fmt = Literal["csv", "jsonl"]

_ARROW_TYPES = {
    FieldType.STRING: pa.string(),
    FieldType.INTEGER: pa.int64(),
    FieldType.NUMBER: pa.float64(),
}


# ------------------------------------------------------------------------ public API


def generate(
    out: Path,
    *,
    scale: float = 1.0,
    seed: int = 42,
    fmt: Fmt = "csv",
    on_written: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Write the nine Olist files into `out`; return rows written per file name
    (`on_written(name, rows)` after each file, for progress)."""
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"fmt must be 'csv' or 'jsonl', not {fmt!r}")
    tables = build_tables(scale=scale, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for spec in contracts.entities():
        name = file_name(spec, fmt)
        table = tables[spec.name]
        if fmt == "csv":
            pacsv.write_csv(table, out / name)
        else:
            write_jsonl(table, out / name)
        written[name] = table.num_rows
        if on_written is not None:
            on_written(name, table.num_rows)
    return written


def file_name(spec: EntitySpec, fmt: Fmt) -> str:
    """The entity's file name: the dataset's CSV name, or its stem + ".jsonl"."""
    return spec.csv_file if fmt == "csv" else f"{Path(spec.csv_file).stem}.jsonl"


def build_tables(*, scale: float = 1.0, seed: int = 42) -> dict[str, pa.Table]:
    """The nine tables in memory, keyed by entity name, columns as the contract says."""
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, not {scale!r}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, not {seed}")
    geo = _geography(_rng(seed, "geo"), scale)
    customers = _customers(_rng(seed, "customers"), scale, geo)
    sellers = _sellers(_rng(seed, "sellers"), scale, geo)
    products = _products(_rng(seed, "products"), scale, len(sellers.ids))
    orders = _orders(_rng(seed, "orders"), customers)
    items = _items(_rng(seed, "items"), orders, products, sellers.ids)
    payments = _payments(_rng(seed, "payments"), orders, items)
    reviews = _reviews(_rng(seed, "reviews"), orders)
    columns = {
        "customers": customers.columns,
        "geolocation": geo.columns,
        "order_items": items.columns,
        "payments": payments,
        "reviews": reviews,
        "orders": orders.columns,
        "products": products.columns,
        "sellers": sellers.columns,
        "category_translation": {
            "product_category_name": pa.array([c.name for c in catalog.CATEGORIES]),
            "product_category_name_english": pa.array([c.english for c in catalog.CATEGORIES]),
        },
    }
    return {spec.name: _table(spec, columns[spec.name]) for spec in contracts.entities()}


def write_jsonl(table: pa.Table, path: Path, *, chunk_rows: int = 100_000) -> None:
    """Write `table` as JSON lines: one object per row, every column, typed values."""
    with path.open("wb") as f:
        for start in range(0, table.num_rows, chunk_rows):
            lines = _json_lines(table.slice(start, chunk_rows))
            offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
            first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
            f.write(memoryview(lines.buffers()[2])[first:last])


def _table(spec: EntitySpec, columns: dict[str, pa.Array]) -> pa.Table:
    """The columns in the contract's order, with the contract's Arrow types."""
    if set(columns) != set(spec.columns):
        raise RuntimeError(f"{spec.name}: columns {sorted(columns)} != {spec.columns}")
    arrays = [columns[f.name].cast(_ARROW_TYPES[f.type]) for f in spec.fields]
    return pa.Table.from_arrays(arrays, names=list(spec.columns))


# ---------------------------------------------------------------------------- JSONL

_SAFE_STRING = r'^[^"\\\x00-\x1f]*$'


def _json_lines(table: pa.Table) -> pa.Array:
    """One JSON object per row plus a newline, built column-wise by Arrow kernels."""
    parts: list[object] = []
    for i, name in enumerate(table.column_names):
        key = orjson.dumps(name).decode()
        parts.append(("{" if i == 0 else ",") + key + ":")
        parts.append(_json_values(table.column(i).combine_chunks()))
    parts.append("}\n")
    return pc.binary_join_element_wise(*parts, "")


def _json_values(column: pa.Array) -> pa.Array:
    """Each value of `column` as JSON text, "null" for nulls."""
    if pa.types.is_string(column.type):
        if pc.all(pc.match_substring_regex(column, _SAFE_STRING)).as_py() is False:
            # Escape each distinct value once.
            encoded = column.dictionary_encode()
            escaped = [orjson.dumps(v).decode() for v in encoded.dictionary.to_pylist()]
            text = pc.take(pa.array(escaped, pa.string()), encoded.indices)
        else:
            text = pc.binary_join_element_wise('"', column, '"', "")
    elif pa.types.is_integer(column.type):
        text = column.cast(pa.string())
    elif pa.types.is_floating(column.type):
        if pc.all(pc.is_finite(column)).as_py() is False:
            raise ValueError("JSON has no NaN or infinity")
        text = column.cast(pa.string())
        # Keep floats floats: "12" -> "12.0", as orjson and json.dumps write them.
        integral = pc.match_substring_regex(text, r"^-?\d+$")
        text = pc.if_else(integral, pc.binary_join_element_wise(text, ".0", ""), text)
    else:
        raise TypeError(f"no JSON encoding for {column.type}")
    return pc.fill_null(text, "null")
