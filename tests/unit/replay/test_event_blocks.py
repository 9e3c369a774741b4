"""replay.event_blocks gives, row for row, the events and rejections of the per-row path
(read, replay_event_id, record_event), on either route."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import orjson

from keystone.olist.v1 import ingestion_pb2
from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts.entities import EntitySpec
from keystone_nexus.contracts.events import replay_event_id
from keystone_nexus.ingest.client import record_event
from keystone_nexus.olist.generate import generate
from keystone_nexus.olist.reader import Row, RowError, read
from keystone_nexus.replay.event_blocks import EventBlock, event_blocks

Item = tuple[int, bytes] | RowError


def per_row(path: Path, spec: EntitySpec, limit: int | None = None) -> list[Item]:
    """What the replay did before: each row read, made an event by protobuf, or rejected."""
    out: list[Item] = []
    fmt: Literal["csv", "jsonl"] = "jsonl" if path.suffix == ".jsonl" else "csv"
    for count, item in enumerate(read(path, spec, fmt, validate=False)):
        if limit is not None and count >= limit:
            break
        if isinstance(item, RowError):
            out.append(item)
            continue
        try:
            event = record_event(
                spec, item.record, event_id=replay_event_id(spec, path.name, item.line), source="src"
            )
        except (TypeError, ValueError) as exc:
            out.append(
                RowError(path.name, item.line, f"not an event: {exc}", orjson.dumps(item.record).decode())
            )
            continue
        out.append((item.line, ingestion_pb2.PublishRequest(events=[event]).SerializeToString()))
    return out


def blocks(path: Path, spec: EntitySpec, limit: int | None = None, block_rows: int = 7) -> list[Item]:
    fmt: Literal["csv", "jsonl"] = "jsonl" if path.suffix == ".jsonl" else "csv"
    out: list[Item] = []
    for item in event_blocks(path, spec, fmt, source="src", limit=limit, block_rows=block_rows):
        if isinstance(item, RowError):
            out.append(item)
            continue
        assert isinstance(item, EventBlock) and 0 < len(item) <= block_rows
        out += list(zip(item.lines.tolist(), item.events.to_pylist(), strict=True))
        assert item.body(0, len(item)) == b"".join(item.events.to_pylist())
    return out


def ordered(items: list[Item]) -> list[Item]:
    """In file order (a block's rejections come before its events)."""
    return sorted(items, key=lambda i: i.line if isinstance(i, RowError) else i[0])


def test_a_generated_dataset_in_blocks(tmp_path: Path) -> None:
    generate(tmp_path, scale=0.003, seed=11)
    for spec in contracts.entities():
        path = tmp_path / spec.csv_file
        assert blocks(path, spec, block_rows=50) == per_row(path, spec), spec.name
    spec = contracts.entity("orders")
    assert blocks(tmp_path / spec.csv_file, spec, limit=9) == per_row(tmp_path / spec.csv_file, spec, 9)


def test_rows_typed_one_by_one_and_rows_protobuf_refuses(tmp_path: Path) -> None:
    spec = contracts.entity("products")
    path = tmp_path / spec.csv_file
    values = ["40.0", "3000000000", "12", "abc", "-7", "2147483648", "1", "", "5"]
    rows = [f'"{i:032x}","cat",{v},1,1,1,1,1,1' for i, v in enumerate(values)]
    path.write_text(",".join(f'"{c}"' for c in spec.columns) + "\n" + "\n".join(rows) + "\n")
    got = blocks(path, spec, block_rows=4)
    assert ordered(got) == per_row(path, spec)
    reasons = {i.line: i.reason for i in got if isinstance(i, RowError)}
    assert set(reasons) == {3, 5, 7}
    assert reasons[3].startswith("not an event:") and "product_name_lenght" in reasons[5]
    # Before the block its row would be in: lines 2-5, then 6-9, then 10.
    assert [i.line if isinstance(i, RowError) else i[0] for i in got] == [3, 5, 2, 4, 7, 6, 8, 9, 10]


def test_a_jsonl_file_and_a_csv_left_to_the_row_reader(tmp_path: Path) -> None:
    spec = contracts.entity("category_translation")
    path = tmp_path / "product_category_name_translation.jsonl"
    good = {"product_category_name": "beleza_saude", "product_category_name_english": "health_beauty"}
    path.write_bytes(
        b"\n".join([orjson.dumps(good), b"not json", orjson.dumps({**good, "x": 1}), orjson.dumps(good)])
        + b"\n"
    )
    got = blocks(path, spec)
    assert ordered(got) == per_row(path, spec)
    assert [type(i).__name__ for i in got] == ["RowError", "RowError", "tuple", "tuple"]
    csv_path = tmp_path / spec.csv_file
    csv_path.write_text('"product_category_name","product_category_name_english"\n"a","b"\n\n"c"\n"d","e"\n')
    got = blocks(csv_path, spec)
    assert ordered(got) == per_row(csv_path, spec)
    assert [i.line if isinstance(i, RowError) else i[0] for i in got] == [4, 2, 5]


def test_a_row_record_comes_back_for_reports(tmp_path: Path) -> None:
    generate(tmp_path, scale=0.002, seed=2)
    spec = contracts.entity("order_items")
    path = tmp_path / spec.csv_file
    rows = [i for i in read(path, spec, validate=False) if isinstance(i, Row)]
    (block,) = [
        b for b in event_blocks(path, spec, "csv", source="s", block_rows=10**6) if isinstance(b, EventBlock)
    ]
    assert [block.record_of(i) for i in (0, 5, len(block) - 1)] == [
        rows[0].record,
        rows[5].record,
        rows[-1].record,
    ]
