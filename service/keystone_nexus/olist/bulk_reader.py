"""Read an Olist CSV in bulk: every column typed at once, and the line each row starts on.

The per-row reader (olist.reader) parses with the csv module and types cell by cell in
Python, ~10 µs a row. Here pyarrow.csv parses the whole file (every column a string) and
pyarrow compute types a column at a time. What comes out is the per-row reader's, row for
row, or nothing (`read_csv_block` returns None: read that file row by row):

- Lines. A row's line is the one it starts on: the header is line 1 and every line break
  inside a quoted cell counts, as csv.reader's line_num counts them (\\n, \\r\\n or a lone
  \\r; Olist reviews have them). The breaks are counted per column and summed
  (cumsum); a file whose breaks are not all in its rows -- a blank line, which both
  parsers skip but which still counts as a line -- is left to the per-row reader.
- Rows pyarrow reads differently. A row with the wrong number of cells (pyarrow's
  invalid_row_handler sees it), a NUL byte, anything pyarrow refuses (not UTF-8): the
  file is left to the per-row reader, which rejects or fails exactly as it always has.
- Typing. A cell the vectorised conversion may not type as Python does -- an integer
  that is not plain ASCII digits (or digits with a ".0" tail) or beyond int32, a number
  not in plain decimal or exponent form, a non-ASCII zip prefix -- makes its row a
  *suspect*. Suspect rows are typed one by one by the per-row reader's own code
  (`csv_row`), which gives the record, or the RowError with file, line, reason and raw
  cells. Their typed columns here are null and not to be used (`suspect` says which).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from numpy.typing import NDArray

from keystone_nexus.contracts.entities import EntitySpec, FieldSpec, FieldType
from keystone_nexus.olist.reader import Plan, Record, Row, RowError, csv_header, csv_plan, csv_row

__all__ = ["CsvBlock", "read_csv_block"]

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# What Python's int() and float() read exactly as pyarrow's casts do.
_PLAIN_INTEGER = r"^-?[0-9]{1,15}(\.0*)?$"
_PLAIN_NUMBER = r"^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,2})?$"


@dataclass(frozen=True)
class CsvBlock:
    """The rows of one CSV file (or its first `limit`), in file order."""

    file: str
    cells: pa.Table  # the cells as read, strings in the file's column order ("" when empty)
    typed: pa.Table  # the entity's fields in contract order, typed; null in suspect rows
    lines: NDArray[np.int64]  # the line each row starts on
    suspect: NDArray[np.bool_]  # rows typed by the per-row reader: `slow` or `errors`
    slow: dict[int, Record]  # suspect rows the per-row reader typed, by row index
    errors: dict[int, RowError]  # suspect rows it could not type, by row index
    plan: Plan
    width: int

    @property
    def num_rows(self) -> int:
        return int(self.cells.num_rows)

    def record(self, index: int) -> Record:
        """Row `index` as the per-row reader types it (for reports; one at a time)."""
        if index in self.slow:
            return self.slow[index]
        cells = [str(self.cells.column(c)[index].as_py()) for c in range(self.width)]
        row = csv_row(self.file, int(self.lines[index]), cells, self.plan, self.width)
        if not isinstance(row, Row):
            raise ValueError(f"row {index} does not type: {row}")
        return row.record


class _NotBulk(Exception):
    """The file has rows pyarrow reads otherwise than csv.reader: read it row by row."""


def read_csv_block(path: Path, entity: EntitySpec, limit: int | None = None) -> CsvBlock | None:
    """The file's rows (the first `limit` of them), or None when the per-row reader must
    read it (see the module docstring)."""
    header = csv_header(path, entity)
    data = path.read_bytes()
    if b"\0" in data or len(set(header)) != len(header):
        return None
    try:
        cells = _parse(data, header)
    except (_NotBulk, pa.ArrowInvalid):
        return None
    lines = _lines(data, cells)
    if lines is None:
        return None
    if limit is not None and cells.num_rows > limit:
        cells, lines = cells.slice(0, limit), lines[:limit]
    return _typed(path.name, header, entity, cells, lines)


def _parse(data: bytes, header: list[str]) -> pa.Table:
    invalid: list[object] = []

    def refuse(row: object) -> str:
        invalid.append(row)
        return "skip"

    table = pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(skip_rows=1, column_names=header),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=refuse),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(header, pa.string()),
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    if invalid:
        raise _NotBulk
    return table.combine_chunks()


def _breaks(data: bytes | pa.Array) -> object:
    """Line breaks as csv.reader counts them: \\n, \\r\\n and a lone \\r each one."""
    if isinstance(data, bytes):
        return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    n = pc.count_substring(data, "\n")
    if pc.any(pc.match_substring(data, "\r")).as_py():
        n = pc.subtract(pc.add(n, pc.count_substring(data, "\r")), pc.count_substring(data, "\r\n"))
    return n


def _lines(data: bytes, cells: pa.Table) -> NDArray[np.int64] | None:
    """The line each row starts on, or None when the file has breaks outside its rows."""
    rows = cells.num_rows
    # Without the last row's end and any trailing blank lines: the header's end, and one
    # per row boundary and per break inside a cell.
    total = _breaks(data.rstrip(b"\r\n"))
    if total == rows:  # no break inside any cell
        return np.arange(2, rows + 2, dtype=np.int64)
    inside = np.zeros(rows, dtype=np.int64)
    for column in cells.columns:
        inside += np.asarray(_breaks(column.combine_chunks()), dtype=np.int64)
    if total != rows + int(inside.sum()):
        return None
    lines = np.empty(rows, dtype=np.int64)
    lines[0:1] = 2
    np.cumsum(inside[:-1] + 1, out=lines[1:])
    lines[1:] += 2
    return lines


def _typed(
    file: str, header: Sequence[str], entity: EntitySpec, cells: pa.Table, lines: NDArray[np.int64]
) -> CsvBlock:
    columns: list[pa.Array] = []
    suspect = np.zeros(cells.num_rows, dtype=np.bool_)
    for spec in entity.fields:
        text = cells.column(spec.name).combine_chunks()
        typed, doubtful = _column(spec, text)
        columns.append(typed)
        if doubtful is not None:
            suspect |= doubtful
    typed_table = pa.Table.from_arrays(columns, names=list(entity.columns))
    plan, width = csv_plan(header, entity), len(header)
    slow: dict[int, Record] = {}
    errors: dict[int, RowError] = {}
    if suspect.any():
        texts = [cells.column(c).to_pylist() for c in range(width)]
        for index in np.flatnonzero(suspect).tolist():
            row = csv_row(file, int(lines[index]), [t[index] for t in texts], plan, width)
            if isinstance(row, Row):
                slow[index] = row.record
            else:
                errors[index] = row
    return CsvBlock(file, cells, typed_table, lines, suspect, slow, errors, plan, width)


def _column(spec: FieldSpec, text: pa.Array) -> tuple[pa.Array, NDArray[np.bool_] | None]:
    """One column typed, and its suspect rows (None: none)."""
    empty = pc.equal(pc.binary_length(text), 0)
    if spec.type is FieldType.STRING:
        value = pc.if_else(empty, pa.scalar(None, pa.string()), text)
        if spec.format != "zip_prefix":
            return value, None
        # The real files lost the leading zeros of some prefixes (olist.reader._zip_prefix).
        short = pc.and_(pc.ascii_is_decimal(text), pc.less(pc.binary_length(text), 5))
        value = pc.if_else(short, pc.utf8_lpad(text, width=5, padding="0"), value)
        return value, np.asarray(pc.invert(pc.string_is_ascii(text)), dtype=np.bool_)
    if spec.type is FieldType.INTEGER:
        plain = pc.match_substring_regex(text, _PLAIN_INTEGER)
        digits = pc.replace_substring_regex(text, r"\.0*$", "")
        number = pc.cast(pc.if_else(plain, digits, pa.scalar(None, pa.string())), pa.int64())
        in_range = pc.and_(pc.greater_equal(number, INT32_MIN), pc.less_equal(number, INT32_MAX))
        good = pc.fill_null(pc.or_kleene(empty, in_range), False)
        return pc.if_else(good, number, pa.scalar(None, pa.int64())), _false_is_true(good)
    plain = pc.match_substring_regex(text, _PLAIN_NUMBER)
    number = pc.cast(pc.if_else(plain, text, pa.scalar(None, pa.string())), pa.float64())
    good = pc.or_(empty, plain)
    return number, _false_is_true(good)


def _false_is_true(good: pa.Array) -> NDArray[np.bool_] | None:
    bad = np.asarray(pc.invert(good), dtype=np.bool_)
    return bad if bad.any() else None
