"""The synthetic Olist dataset: files, formats, integrity, determinism, distributions."""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts.entities import EntitySpec, FieldSpec, FieldType
from keystone_nexus.olist import reference as catalog
from keystone_nexus.olist.generate import build_tables, generate, write_jsonl

SCALE = 0.02
SEED = 7
MD5 = re.compile(r"[0-9a-f]{32}")
ZIP = re.compile(r"[0-9]{5}")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
INTEGER = re.compile(r"-?\d+")
UFS = {s.uf for s in catalog.STATES}
Record = dict[str, Any]


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Cell:
    text: str
    quoted: bool


def split_line(line: str) -> list[Cell]:
    """The cells of one CSV line, remembering which were quoted."""
    cells: list[Cell] = []
    i = 0
    while True:
        if line.startswith('"', i):
            parts, j = [], i + 1
            while True:
                k = line.index('"', j)
                if line.startswith('"', k + 1):
                    parts.append(line[j : k + 1])
                    j = k + 2
                    continue
                parts.append(line[j:k])
                i = k + 1
                break
            cells.append(Cell("".join(parts), True))
        else:
            k = line.find(",", i)
            k = len(line) if k < 0 else k
            cells.append(Cell(line[i:k], False))
            i = k
        if i == len(line):
            return cells
        assert line[i] == ",", f"junk after a cell at {i}: {line!r}"
        i += 1
        if i == len(line):
            cells.append(Cell("", False))
            return cells


def read_cells(path: Path) -> tuple[list[Cell], list[list[Cell]]]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n") and b"\r" not in raw
    lines = raw.decode("utf-8").split("\n")[:-1]
    return split_line(lines[0]), [split_line(line) for line in lines[1:]]


def typed(spec: FieldSpec, cell: Cell) -> Any:
    """The value a CSV cell holds, as the contract types it (None when missing)."""
    if cell.text == "" and not cell.quoted:
        return None
    if spec.type is FieldType.STRING:
        return cell.text
    if spec.type is FieldType.INTEGER:
        assert INTEGER.fullmatch(cell.text), f"{spec.name}: {cell.text!r} is not an integer"
        return int(cell.text)
    return float(cell.text)


def load_csv(out: Path, entity: EntitySpec) -> list[Record]:
    header, rows = read_cells(out / entity.csv_file)
    assert [c.text for c in header] == list(entity.columns)
    records = []
    for row in rows:
        assert len(row) == len(entity.fields)
        records.append({f.name: typed(f, c) for f, c in zip(entity.fields, row, strict=True)})
    return records


def load_jsonl(path: Path) -> list[Record]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


@dataclass(frozen=True)
class Dataset:
    out: Path
    counts: dict[str, int]
    rows: dict[str, list[Record]]  # entity name -> records


def load(out: Path, counts: dict[str, int]) -> Dataset:
    return Dataset(out, counts, {e.name: load_csv(out, e) for e in contracts.entities()})


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    out = tmp_path_factory.mktemp("olist")
    return load(out, generate(out, scale=SCALE, seed=SEED))


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    """A bigger sample for the distribution checks."""
    out = tmp_path_factory.mktemp("olist_big")
    return load(out, generate(out, scale=0.05, seed=SEED + 1))


def ts(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S")


# ------------------------------------------------------------------ files and format


def test_file_names_headers_and_counts(data: Dataset) -> None:
    entities = contracts.entities()
    assert list(data.counts) == [e.csv_file for e in entities]
    assert sorted(p.name for p in data.out.iterdir()) == sorted(e.csv_file for e in entities)
    for entity in entities:
        first_line = (data.out / entity.csv_file).read_text().split("\n", 1)[0]
        assert first_line == ",".join(f'"{c}"' for c in entity.columns)
        assert data.counts[entity.csv_file] == len(data.rows[entity.name])


def test_strings_quoted_numbers_bare_missing_empty(data: Dataset) -> None:
    for entity in contracts.entities():
        _, rows = read_cells(data.out / entity.csv_file)
        for row in rows:
            for spec, cell in zip(entity.fields, row, strict=True):
                if cell.text == "" and not cell.quoted:
                    continue  # missing
                if spec.type is FieldType.STRING:
                    assert cell.quoted and cell.text, f"{spec.name}: {cell}"
                else:
                    assert not cell.quoted, f"{spec.name}: {cell}"


def check_value(spec: FieldSpec, value: Any) -> str | None:
    """Why `value` breaks its FieldSpec, or None."""
    if value is None:
        return "missing" if spec.required else None
    if spec.type is FieldType.STRING:
        if spec.enum and value not in spec.enum:
            return f"{value!r} not in {spec.enum}"
        if spec.max_length is not None and len(value) > spec.max_length:
            return f"{value!r} longer than {spec.max_length}"
        if spec.format == "md5_id" and not MD5.fullmatch(value):
            return f"{value!r} is not an md5 id"
        if spec.format == "zip_prefix" and not ZIP.fullmatch(value):
            return f"{value!r} is not a zip prefix"
        if spec.format == "state" and value not in UFS:
            return f"{value!r} is not a state"
        if spec.format == "timestamp":
            if not TIMESTAMP.fullmatch(value):
                return f"{value!r} is not a timestamp"
            ts(value)  # a real date and time
        return None
    if spec.type is FieldType.INTEGER and not isinstance(value, int):
        return f"{value!r} is not an integer"
    if not math.isfinite(value):
        return f"{value!r} is not finite"
    if spec.minimum is not None and value < spec.minimum:
        return f"{value!r} < {spec.minimum}"
    if spec.maximum is not None and value > spec.maximum:
        return f"{value!r} > {spec.maximum}"
    return None


def test_every_value_matches_its_field_spec(data: Dataset) -> None:
    for entity in contracts.entities():
        problems: Counter[str] = Counter()
        for record in data.rows[entity.name]:
            for spec in entity.fields:
                why = check_value(spec, record[spec.name])
                if why:
                    problems[f"{spec.name}: {why}"] += 1
        assert not problems, f"{entity.name}: {problems.most_common(5)}"


def test_check_value_catches_bad_values() -> None:
    orders = contracts.entity("orders")
    assert check_value(orders.field("order_id"), "ABC") is not None
    assert check_value(orders.field("order_status"), "lost") is not None
    assert check_value(orders.field("order_purchase_timestamp"), "2018-01-01T00:00:00") is not None
    assert check_value(orders.field("customer_id"), None) == "missing"
    assert check_value(contracts.entity("reviews").field("review_score"), 6) is not None
    assert check_value(contracts.entity("customers").field("customer_zip_code_prefix"), "1151") is not None


def test_money_has_two_decimals_and_ids_are_unique(data: Dataset) -> None:
    for name, column in [
        ("order_items", "price"),
        ("order_items", "freight_value"),
        ("payments", "payment_value"),
    ]:
        for record in data.rows[name]:
            assert round(record[column], 2) == record[column]
    for name, column in [
        ("orders", "order_id"),
        ("customers", "customer_id"),
        ("products", "product_id"),
        ("sellers", "seller_id"),
        ("reviews", "review_id"),
        ("category_translation", "product_category_name"),
    ]:
        values = [r[column] for r in data.rows[name]]
        assert len(set(values)) == len(values), f"{name}.{column} repeats"


# ------------------------------------------------------------------------- sizes


def test_row_counts_scale_linearly(tmp_path: Path, data: Dataset) -> None:
    double = generate(tmp_path, scale=2 * SCALE, seed=SEED)
    exact = {
        "olist_orders_dataset.csv": 99_441,
        "olist_customers_dataset.csv": 99_441,
        "olist_products_dataset.csv": 32_951,
        "olist_sellers_dataset.csv": 3_095,
        "olist_geolocation_dataset.csv": 1_000_163,
    }
    approximate = {
        "olist_order_items_dataset.csv": 112_650,
        "olist_order_payments_dataset.csv": 103_886,
        "olist_order_reviews_dataset.csv": 99_224,
    }
    for scale, counts in [(SCALE, data.counts), (2 * SCALE, double)]:
        for name, real in exact.items():
            assert counts[name] == round(real * scale), name
        for name, real in approximate.items():
            assert abs(counts[name] / (real * scale) - 1) < 0.06, (name, counts[name])
        assert counts["product_category_name_translation.csv"] == 71
    assert double["olist_order_items_dataset.csv"] > 1.8 * data.counts["olist_order_items_dataset.csv"]


def test_tiny_scale_still_writes_a_row_of_each(tmp_path: Path) -> None:
    counts = generate(tmp_path, scale=1e-6, seed=1)
    assert min(counts.values()) >= 1
    assert counts["olist_orders_dataset.csv"] == 1
    assert counts["product_category_name_translation.csv"] == 71
    tiny = load(tmp_path, counts)
    assert tiny.rows["order_items"][0]["order_id"] == tiny.rows["orders"][0]["order_id"]


@pytest.mark.parametrize("scale", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_scale_is_refused(tmp_path: Path, scale: float) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, scale=scale)


def test_bad_format_and_seed_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path, scale=SCALE, fmt="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        generate(tmp_path, scale=SCALE, seed=-1)


# ---------------------------------------------------------------------- integrity


def column(data: Dataset, entity: str, name: str) -> list[Any]:
    return [r[name] for r in data.rows[entity]]


def test_referential_integrity(data: Dataset) -> None:
    orders = set(column(data, "orders", "order_id"))
    products = set(column(data, "products", "product_id"))
    sellers = set(column(data, "sellers", "seller_id"))
    for item in data.rows["order_items"]:
        assert item["order_id"] in orders
        assert item["product_id"] in products
        assert item["seller_id"] in sellers
    # One order per customer_id row, and every customer_id is some order's.
    order_customers = column(data, "orders", "customer_id")
    assert len(set(order_customers)) == len(order_customers)
    assert set(order_customers) == set(column(data, "customers", "customer_id"))
    assert set(column(data, "payments", "order_id")) == orders  # every order was paid for
    assert set(column(data, "reviews", "order_id")) <= orders
    categories = set(column(data, "category_translation", "product_category_name"))
    assert {c for c in column(data, "products", "product_category_name") if c is not None} <= categories
    # Every product and seller sold something, as in the real files.
    assert set(column(data, "order_items", "product_id")) == products
    assert set(column(data, "order_items", "seller_id")) == sellers


def test_places_agree_with_geolocation(data: Dataset) -> None:
    places = {
        (g["geolocation_zip_code_prefix"], g["geolocation_city"], g["geolocation_state"])
        for g in data.rows["geolocation"]
    }
    for who in ("customer", "seller"):
        for r in data.rows[f"{who}s"]:
            place = (r[f"{who}_zip_code_prefix"], r[f"{who}_city"], r[f"{who}_state"])
            assert place in places, place
    # A zip prefix lies in its state's CEP range and has one city.
    ranges = {s.uf: s.zip_ranges for s in catalog.STATES}
    city_of: dict[str, str] = {}
    for zip_prefix, city, state in places:
        assert any(lo <= int(zip_prefix) <= hi for lo, hi in ranges[state]), (zip_prefix, state)
        assert city_of.setdefault(zip_prefix, city) == city
    # Points lie in Brazil, near their city.
    centre = {(c.name, c.state): (c.lat, c.lng) for c in catalog.CITIES}
    for g in data.rows["geolocation"]:
        lat, lng = g["geolocation_lat"], g["geolocation_lng"]
        assert -34 < lat < 5.3 and -74 < lng < -34.7
        city_lat, city_lng = centre[g["geolocation_city"], g["geolocation_state"]]
        assert abs(lat - city_lat) < 0.3 and abs(lng - city_lng) < 0.3, g


def test_item_and_payment_sequences_count_from_one(data: Dataset) -> None:
    for entity, seq in [("order_items", "order_item_id"), ("payments", "payment_sequential")]:
        numbers: dict[str, list[int]] = defaultdict(list)
        for r in data.rows[entity]:
            numbers[r["order_id"]].append(r[seq])
        for order_id, found in numbers.items():
            assert sorted(found) == list(range(1, len(found) + 1)), (entity, order_id, found)


def test_payments_add_up_to_the_items(data: Dataset) -> None:
    due: dict[str, float] = defaultdict(float)
    for item in data.rows["order_items"]:
        due[item["order_id"]] += item["price"] + item["freight_value"]
    paid: dict[str, float] = defaultdict(float)
    for p in data.rows["payments"]:
        if p["payment_type"] != "not_defined":
            paid[p["order_id"]] += p["payment_value"]
    checked = [o for o in due if o in paid]
    assert len(checked) > 0.95 * len(due)
    for order_id in checked:
        assert paid[order_id] == pytest.approx(due[order_id], abs=0.011), order_id


def test_order_timestamps_follow_the_status(data: Dataset) -> None:
    for o in data.rows["orders"]:
        purchase = ts(o["order_purchase_timestamp"])
        assert datetime(2016, 9, 1) <= purchase <= datetime(2018, 10, 18)
        approved, carrier, delivered = (
            o["order_approved_at"],
            o["order_delivered_carrier_date"],
            o["order_delivered_customer_date"],
        )
        estimated = ts(o["order_estimated_delivery_date"])
        assert estimated > purchase and estimated.time() == datetime.min.time()
        if approved is not None:
            assert ts(approved) > purchase
        if carrier is not None:
            assert approved is not None and ts(carrier) > ts(approved)
        if o["order_status"] == "delivered":
            assert delivered is not None and carrier is not None
            assert ts(delivered) > ts(carrier) > purchase
        else:
            assert delivered is None
        if o["order_status"] == "created":
            assert approved is None
        if o["order_status"] in ("delivered", "shipped", "invoiced", "processing", "approved"):
            assert approved is not None


def test_reviews_come_after_the_purchase(data: Dataset) -> None:
    purchased = {o["order_id"]: ts(o["order_purchase_timestamp"]) for o in data.rows["orders"]}
    for r in data.rows["reviews"]:
        created = ts(r["review_creation_date"])
        assert created.time() == datetime.min.time()
        assert created > purchased[r["order_id"]]
        assert ts(r["review_answer_timestamp"]) > created


# -------------------------------------------------------------------- determinism


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path, data: Dataset) -> None:
    again, other = tmp_path / "again", tmp_path / "other"
    assert generate(again, scale=SCALE, seed=SEED) == data.counts
    generate(other, scale=SCALE, seed=SEED + 100)
    for entity in contracts.entities():
        original = (data.out / entity.csv_file).read_bytes()
        assert (again / entity.csv_file).read_bytes() == original, entity.csv_file
        if entity.name != "category_translation":  # static reference data
            assert (other / entity.csv_file).read_bytes() != original, entity.csv_file


# ------------------------------------------------------------------- distributions


def share(values: list[Any], value: Any) -> float:
    return sum(1 for v in values if v == value) / len(values)


def test_distributions_look_like_olist(big: Dataset) -> None:
    states = column(big, "customers", "customer_state")
    assert 0.36 < share(states, "SP") < 0.48
    assert 0.09 < share(states, "RJ") < 0.17
    assert len(set(states)) >= 20
    customer_states = {(c["customer_city"], c["customer_state"]) for c in big.rows["customers"]}
    assert ("sao paulo", "SP") in customer_states and ("rio de janeiro", "RJ") in customer_states
    unique = set(column(big, "customers", "customer_unique_id"))
    assert 0.93 < len(unique) / len(states) < 0.995  # some people ordered more than once

    statuses = column(big, "orders", "order_status")
    assert share(statuses, "delivered") > 0.9
    assert Counter(statuses).most_common(2)[1][0] in ("shipped", "canceled", "unavailable")

    delivered = [o for o in big.rows["orders"] if o["order_status"] == "delivered"]
    late = [o for o in delivered if o["order_delivered_customer_date"] > o["order_estimated_delivery_date"]]
    assert 0.03 < len(late) / len(delivered) < 0.15

    scores = Counter(column(big, "reviews", "review_score"))
    assert [s for s, _ in scores.most_common(2)] == [5, 4]
    assert 0.5 < scores[5] / scores.total() < 0.66
    messages = column(big, "reviews", "review_comment_message")
    assert 0.3 < 1 - share(messages, None) < 0.5
    assert share(column(big, "reviews", "review_comment_title"), None) > 0.8

    per_order = Counter(column(big, "order_items", "order_id"))
    assert 0.85 < share(list(per_order.values()), 1) < 0.95
    prices = sorted(column(big, "order_items", "price"))
    assert 55 < prices[len(prices) // 2] < 95
    freights = sorted(column(big, "order_items", "freight_value"))
    assert 12 < freights[len(freights) // 2] < 22

    payments = big.rows["payments"]
    kinds = column(big, "payments", "payment_type")
    assert 0.68 < share(kinds, "credit_card") < 0.8 and 0.14 < share(kinds, "boleto") < 0.24
    assert share(kinds, "voucher") > 0.02
    assert any(p["payment_sequential"] > 1 for p in payments)
    assert all(p["payment_installments"] == 1 for p in payments if p["payment_type"] == "boleto")
    card = [p["payment_installments"] for p in payments if p["payment_type"] == "credit_card"]
    assert max(card) > 6 and 0.25 < share(card, 1) < 0.42

    products = big.rows["products"]
    uncategorised = [p for p in products if p["product_category_name"] is None]
    assert 0.008 < len(uncategorised) / len(products) < 0.03
    assert all(p["product_name_lenght"] is None for p in uncategorised)
    assert len({p["product_category_name"] for p in products}) > 50

    geolocation = big.rows["geolocation"]
    prefixes = {g["geolocation_zip_code_prefix"] for g in geolocation}
    assert 40 < len(geolocation) / len(prefixes) < 65
    points = Counter(
        (g["geolocation_zip_code_prefix"], g["geolocation_lat"], g["geolocation_lng"]) for g in geolocation
    )
    assert 0.15 < 1 - len(points) / len(geolocation) < 0.35  # repeated points, as in the real file


def test_purchases_grow_over_time(big: Dataset) -> None:
    months = Counter(o["order_purchase_timestamp"][:7] for o in big.rows["orders"])
    assert months["2017-03"] < months["2017-11"]
    assert months["2017-02"] < months["2018-02"]
    assert sum(months[m] for m in months if m < "2017-01") < 0.01 * months.total()


# -------------------------------------------------------------------------- JSONL


def test_jsonl_has_the_same_rows_typed(tmp_path: Path, data: Dataset) -> None:
    counts = generate(tmp_path, scale=SCALE, seed=SEED, fmt="jsonl")
    entities = contracts.entities()
    assert list(counts) == [e.csv_file.removesuffix(".csv") + ".jsonl" for e in entities]
    assert list(counts.values()) == list(data.counts.values())
    for entity, name in zip(entities, counts, strict=True):
        records = load_jsonl(tmp_path / name)
        assert len(records) == counts[name]
        assert all(list(r) == list(entity.columns) for r in records)
        assert records == data.rows[entity.name], entity.name  # same values, same types
    items = load_jsonl(tmp_path / "olist_order_items_dataset.jsonl")
    assert all(isinstance(i["price"], float) and isinstance(i["order_item_id"], int) for i in items)


def test_write_jsonl_escapes_strings_and_keeps_types(tmp_path: Path) -> None:
    table = pa.table(
        {
            "s": pa.array(['say "hi"', "back\\slash", "two\nlines", "tab\there", "ação", None]),
            "i": pa.array([1, None, -3, 0, 5, 6], pa.int64()),
            "f": pa.array([12.0, 0.1, None, -2.5, 1e-7, 3.0]),
        }
    )
    path = tmp_path / "t.jsonl"
    write_jsonl(table, path, chunk_rows=4)
    records = load_jsonl(path)
    assert records == table.to_pylist()
    assert isinstance(records[0]["f"], float)
    plain = pa.table({"s": pa.array(["a", None]), "f": pa.array([1.5, float("nan")])})
    with pytest.raises(ValueError):
        write_jsonl(plain, tmp_path / "nan.jsonl")


def test_build_tables_uses_the_contract_types() -> None:
    tables = build_tables(scale=0.001, seed=3)
    arrow = {FieldType.STRING: pa.string(), FieldType.INTEGER: pa.int64(), FieldType.NUMBER: pa.float64()}
    for entity in contracts.entities():
        schema = tables[entity.name].schema
        assert schema.names == list(entity.columns)
        assert [schema.field(f.name).type for f in entity.fields] == [arrow[f.type] for f in entity.fields]


# ------------------------------------------------------------------------ catalog


def test_catalog_is_consistent() -> None:
    assert len(catalog.CATEGORIES) == 71
    assert len({c.name for c in catalog.CATEGORIES}) == 71
    assert len({c.english for c in catalog.CATEGORIES}) == 71
    assert {s.uf for s in catalog.STATES} == UFS and len(UFS) == 27
    ranges = {s.uf: s.zip_ranges for s in catalog.STATES}
    owned: list[tuple[int, int, str]] = []
    for city in catalog.CITIES:
        assert city.name == city.name.lower() and city.name.isascii()
        assert -34 < city.lat < 5.3 and -74 < city.lng < -34.7, city
        for lo, hi in city.zip_ranges:
            assert any(a <= lo <= hi <= b for a, b in ranges[city.state]), city
            owned.append((lo, hi, city.name))
    owned.sort()
    for (_, hi, name), (lo, _, other) in itertools.pairwise(owned):
        assert hi < lo, f"{name} and {other} share zip prefixes"
    assert {c.state for c in catalog.CITIES} == UFS
