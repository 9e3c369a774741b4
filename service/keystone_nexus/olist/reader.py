"""Read an Olist dataset (generated, or the real Kaggle CSVs) as typed records.

Each row becomes a dict keyed by the Olist column names with values typed as the
contract says (numbers as numbers, empty cells as None). A row that cannot be read or
fails its schema is yielded as a RowError with its file and line, never dropped.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from keystone_nexus.contracts.entities import EntitySpec, FieldSpec, FieldType
from keystone_nexus.contracts.json_schema import entity_definition
from keystone_nexus.contracts.validate import RecordInvalid, check
from keystone_nexus.errors import ExitStatus, NexusError

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RowError:
    file: str
    line: int
    reason: str
    raw: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    record: Record


class DatasetError(NexusError, ValueError):
    """A dataset file that cannot be read at all (missing, wrong header)."""

    exit_status = ExitStatus.DATA


def dataset_file(directory: Path, entity: EntitySpec) -> tuple[Path, Literal["csv", "jsonl"]]:
    """The file holding `entity` in `directory`: the CSV, or its .jsonl twin."""
    csv_path = directory / entity.csv_file
    if csv_path.is_file():
        return csv_path, "csv"
    jsonl_path = csv_path.with_suffix(".jsonl")
    if jsonl_path.is_file():
        return jsonl_path, "jsonl"
    if not directory.is_dir():
        raise DatasetError(
            f"no dataset folder {directory}: write one with `nexus olist generate --out {directory}`, "
            "or give the folder of the Kaggle CSVs"
        )
    raise DatasetError(f"{directory}: neither {entity.csv_file} nor {jsonl_path.name} exists")


def dataset_plan(
    directory: Path, specs: Sequence[EntitySpec]
) -> list[tuple[EntitySpec, Path, Literal["csv", "jsonl"]]]:
    """Each entity's file in `directory`, every file there and every CSV header right,
    checked before a row is read: a dataset that cannot be read fails whole, not halfway."""
    plan = [(spec, *dataset_file(directory, spec)) for spec in specs]
    for spec, path, fmt in plan:
        if fmt == "csv":
            with path.open(newline="", encoding="utf-8") as handle:
                _header(path, spec, csv.reader(handle))
    return plan


def _header(path: Path, entity: EntitySpec, reader: Iterator[list[str]]) -> list[str]:
    """The CSV's header, the first row of `reader`; DatasetError unless it has the entity's
    columns."""
    try:
        header = [h.lstrip("\ufeff").strip() for h in next(reader)]
    except StopIteration:
        raise DatasetError(f"{path}: empty file, expected a header") from None
    missing = [c for c in entity.columns if c not in header]
    extra = [c for c in header if c not in entity.columns]
    if missing or extra:
        raise DatasetError(
            f"{path}: header does not match {entity.name}: missing {missing}, unexpected {extra}"
        )
    return header


def _text(text: str) -> str | None:
    return text or None


def _zip_prefix(text: str) -> str | None:
    # The real files lost the leading zeros of some prefixes.
    return text.zfill(5) if text.isdigit() and len(text) < 5 else (text or None)


def _integer(text: str) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        number = float(text)  # "40.0" in files written by pandas
        if not number.is_integer():
            raise ValueError(f"{text!r} is not an integer") from None
        return int(number)


def _number(text: str) -> float | None:
    return float(text) if text else None


def converter(spec: FieldSpec) -> Callable[[str], Any]:
    """The function that types one CSV cell of this field (empty cells become None)."""
    if spec.type is FieldType.STRING:
        return _zip_prefix if spec.format == "zip_prefix" else _text
    return _integer if spec.type is FieldType.INTEGER else _number


def read(
    path: Path, entity: EntitySpec, fmt: Literal["csv", "jsonl"] | None = None, *, validate: bool = True
) -> Iterator[Row | RowError]:
    """Yield every row of `path` as a Row or a RowError, in file order.

    With validate=False rows are only parsed and typed; the caller checks them against
    the schema in bulk (see replay.py).
    """
    fmt = fmt or ("jsonl" if path.suffix == ".jsonl" else "csv")
    schema_text = entity_definition(entity)
    rows = _read_jsonl(path, entity) if fmt == "jsonl" else _read_csv(path, entity)
    for item in rows:
        if validate and isinstance(item, Row):
            try:
                check(schema_text, item.record)
            except RecordInvalid as exc:
                yield RowError(path.name, item.line, str(exc), orjson.dumps(item.record).decode())
                continue
        yield item


Plan = list[tuple[int, str, Callable[[str], Any]]]


def csv_plan(header: Sequence[str], entity: EntitySpec) -> Plan:
    """(cell index, field name, converter) for each field of `entity`, in contract order."""
    return [(list(header).index(f.name), f.name, converter(f)) for f in entity.fields]


def csv_row(file: str, line: int, cells: Sequence[str], plan: Plan, width: int) -> Row | RowError:
    """One CSV row (its cells as read, starting at `line`) typed, or why it cannot be."""
    if len(cells) != width:
        return RowError(file, line, f"{len(cells)} cells, expected {width}", ",".join(cells))
    record: Record = {}
    try:
        for index, name, convert in plan:
            record[name] = convert(cells[index])
    except ValueError as exc:
        return RowError(file, line, f"{name}: {exc}", ",".join(cells))
    return Row(line, record)


def csv_header(path: Path, entity: EntitySpec) -> list[str]:
    """The CSV's header (checked to have the entity's columns)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return _header(path, entity, csv.reader(handle))


def _read_csv(path: Path, entity: EntitySpec) -> Iterator[Row | RowError]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = _header(path, entity, reader)
        plan = csv_plan(header, entity)
        width = len(header)
        line = 1
        for cells in reader:
            start, line = line + 1, reader.line_num
            if cells:
                yield csv_row(path.name, start, cells, plan, width)


def _read_jsonl(path: Path, entity: EntitySpec) -> Iterator[Row | RowError]:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield RowError(path.name, number, f"not JSON: {exc}", raw.decode(errors="replace"))
                continue
            if not isinstance(record, dict):
                yield RowError(path.name, number, "not a JSON object", raw.decode(errors="replace"))
                continue
            yield Row(number, record)
