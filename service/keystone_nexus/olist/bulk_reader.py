"""Read an Olist CSV in bulk: every column typed at once, and the line each row starts on.

The per-row reader (olist.reader) parses with the csv module and types cell by cell in
Python, ~10 µs a row. Here pyarrow.csv parses the whole file in C++. What comes out is
the per-row reader's, row for row -- the same typed records, lines and rejections -- or
nothing (`read_csv_block` returns None: read that file row by row).

- Typed read, the usual route (~0.2 µs a row). pyarrow's CSV converters type the cells
  (string, int64, float64; an empty cell is null) as Python's int() and float() do:
  what they accept, Python reads to the same value. Two exceptions are caught after:
  pyarrow reads "nan(...)" as NaN, and a zip prefix beyond ASCII might be digits to
  str.isdigit; either sends the file to the text read. Short ASCII-digit zip prefixes
  get their leading zeros back (olist.reader._zip_prefix).
- Text read, when a cell does not convert ("40.0" in an integer column, "+3", a typo).
  Every cell is read as text and each column typed with pyarrow compute where the text
  is plain (digits, decimals); a row with any other cell is a *suspect* and typed by the
  per-row reader's own code (`csv_row`): its record (`slow`), or its RowError with file,
  line, reason and raw cells (`errors`).
- Lines. A row's line is the one it starts on: the header is line 1 and every line break
  inside a quoted cell counts, as csv.reader's line_num counts them (\\n, \\r\\n or a lone
  \\r; Olist reviews have them): the breaks of each row's text cells, summed (cumsum).
  A file whose breaks are not all inside its rows -- a blank line between rows, which
  both parsers skip but which still counts as a line -- is left to the per-row reader.
- Files pyarrow reads otherwise: a row with the wrong number of cells (pyarrow's
  invalid_row_handler sees it), a NUL byte, a header naming a column twice, anything
  pyarrow refuses (not UTF-8). Left to the per-row reader, which rejects or fails exactly
  as it always has.

Int32 ranges are not the reader's business: a value beyond one is typed, as Python types
it, and protobuf refuses it when the event is built (replay.event_blocks).
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
from keystone_nexus.olist.reader import Record, Row, RowError, csv_header, csv_plan, csv_row

__all__ = ["CsvBlock", "read_csv_block"]

# What Python's int() and float() read exactly as pyarrow's casts do.
_PLAIN_INTEGER = r"^-?[0-9]{1,15}(\.0*)?$"
_PLAIN_NUMBER = r"^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]{1,2})?$"
_ARROW_TYPES = {FieldType.STRING: pa.string(), FieldType.INTEGER: pa.int64(), FieldType.NUMBER: pa.float64()}


@dataclass(frozen=True)
class CsvBlock:
    """The rows of one CSV file (or its first `limit`), in file order."""

    file: str
    typed: pa.Table  # the entity's fields in contract order; null in the rows below
    lines: NDArray[np.int64]  # the line each row starts on
    slow: dict[int, Record]  # rows typed by the per-row reader, by row index
    errors: dict[int, RowError]  # rows it could not type, by row index

    @property
    def num_rows(self) -> int:
        return int(self.typed.num_rows)

    def record(self, index: int) -> Record:
        """Row `index` as the per-row reader types it (for reports; one at a time)."""
        if index in self.errors:
            raise ValueError(f"row {index} does not type: {self.errors[index]}")
        if index in self.slow:
            return self.slow[index]
        record: Record = self.typed.slice(index, 1).to_pylist()[0]
        return record


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
        return _typed_read(path.name, data, header, entity, limit)
    except (_NotBulk, pa.ArrowInvalid):
        pass
    try:
        return _text_read(path.name, data, header, entity, limit)
    except (_NotBulk, pa.ArrowInvalid):
        return None


def _typed_read(file: str, data: bytes, header: list[str], entity: EntitySpec, limit: int | None) -> CsvBlock:
    """Cells typed by pyarrow's CSV converters; ArrowInvalid when one does not convert."""
    types = {f.name: _ARROW_TYPES[f.type] for f in entity.fields}
    try:
        table = _parse(data, header, types, newlines_in_values=False)
    except pa.ArrowInvalid:  # a break inside a cell where the chunker cut the file
        table = _parse(data, header, types, newlines_in_values=True)
    table = table.select(list(entity.columns))
    for spec in entity.fields:
        # pyarrow reads "nan(...)" as NaN, Python does not: such files take the text path.
        if spec.type is FieldType.NUMBER and pc.any(pc.is_nan(table.column(spec.name))).as_py():
            raise _NotBulk
    strings = [table.column(f.name) for f in entity.fields if f.type is FieldType.STRING]
    lines = _lines(data, table.num_rows, strings)
    if limit is not None and table.num_rows > limit:
        table, lines = table.slice(0, limit), lines[:limit]
    columns = [
        _zip_prefixes(table.column(f.name)) if f.format == "zip_prefix" else table.column(f.name)
        for f in entity.fields
    ]
    typed = pa.Table.from_arrays([c.combine_chunks() for c in columns], names=list(entity.columns))
    return CsvBlock(file, typed, lines, {}, {})


def _zip_prefixes(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """olist.reader._zip_prefix: digits shorter than 5 padded with zeros (the real files lost
    the leading zeros of some prefixes)."""
    short = pc.fill_null(pc.less(pc.binary_length(column), 5), False)
    if not pc.any(short).as_py():
        return column
    if not pc.all(pc.fill_null(pc.string_is_ascii(column), True)).as_py():
        raise _NotBulk  # str.isdigit says yes to digits beyond ASCII
    pad = pc.and_(short, pc.ascii_is_decimal(column))
    return pc.if_else(pad, pc.utf8_lpad(column, width=5, padding="0"), column)


def _text_read(file: str, data: bytes, header: list[str], entity: EntitySpec, limit: int | None) -> CsvBlock:
    """Cells as text, typed by pyarrow compute where Python agrees, else by csv_row."""
    cells = _parse(data, header, dict.fromkeys(header, pa.string()), newlines_in_values=True, text=True)
    lines = _lines(data, cells.num_rows, cells.columns)
    if limit is not None and cells.num_rows > limit:
        cells, lines = cells.slice(0, limit), lines[:limit]
    columns: list[pa.Array] = []
    suspect = np.zeros(cells.num_rows, dtype=np.bool_)
    for spec in entity.fields:
        typed, doubtful = _column(spec, cells.column(spec.name).combine_chunks())
        columns.append(typed)
        if doubtful is not None:
            suspect |= doubtful
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
    typed_table = pa.Table.from_arrays(columns, names=list(entity.columns))
    return CsvBlock(file, typed_table, lines, slow, errors)


def _parse(
    data: bytes,
    header: list[str],
    types: dict[str, pa.DataType],
    *,
    newlines_in_values: bool,
    text: bool = False,
) -> pa.Table:
    invalid: list[object] = []

    def refuse(row: object) -> str:
        invalid.append(row)
        return "skip"

    table = pacsv.read_csv(
        pa.BufferReader(data),
        # One thread: the replay's other work (encoding, sending) takes the other core.
        read_options=pacsv.ReadOptions(skip_rows=1, column_names=header, use_threads=False),
        parse_options=pacsv.ParseOptions(newlines_in_values=newlines_in_values, invalid_row_handler=refuse),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            null_values=[""],
            strings_can_be_null=not text,
            quoted_strings_can_be_null=not text,
        ),
    )
    if invalid:
        raise _NotBulk
    return table


def _breaks(data: pa.Array) -> pa.Array:
    """Line breaks as csv.reader counts them: \\n, \\r\\n and a lone \\r each one."""
    n = pc.count_substring(data, "\n")
    if pc.any(pc.match_substring(data, "\r")).as_py():
        n = pc.subtract(pc.add(n, pc.count_substring(data, "\r")), pc.count_substring(data, "\r\n"))
    return pc.fill_null(n, 0)


def _lines(data: bytes, rows: int, columns: Sequence[pa.ChunkedArray]) -> NDArray[np.int64]:
    """The line each row starts on; _NotBulk when the file has breaks outside its rows."""
    # Without the last row's end and any trailing blank lines: the header's end, and one
    # per row boundary and per break inside a cell.
    end = len(data)
    while end and data[end - 1] in b"\r\n":
        end -= 1
    total = data.count(b"\n", 0, end)
    if b"\r" in data:
        total += data.count(b"\r", 0, end) - data.count(b"\r\n", 0, end)
    if total == rows:  # no break inside any cell
        return np.arange(2, rows + 2, dtype=np.int64)
    inside = np.zeros(rows, dtype=np.int64)
    for column in columns:
        inside += np.asarray(_breaks(column.combine_chunks()), dtype=np.int64)
    if total != rows + int(inside.sum()):
        raise _NotBulk
    lines = np.empty(rows, dtype=np.int64)
    lines[0:1] = 2
    np.cumsum(inside[:-1] + 1, out=lines[1:])
    lines[1:] += 2
    return lines


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
        return number, _false_is_true(pc.or_(empty, plain))
    plain = pc.match_substring_regex(text, _PLAIN_NUMBER)
    number = pc.cast(pc.if_else(plain, text, pa.scalar(None, pa.string())), pa.float64())
    good = pc.or_(empty, plain)
    return number, _false_is_true(good)


def _false_is_true(good: pa.Array) -> NDArray[np.bool_] | None:
    bad = np.asarray(pc.invert(good), dtype=np.bool_)
    return bad if bad.any() else None
