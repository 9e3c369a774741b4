"""The generated stubs are exactly what protoc makes from protos/ today."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_protos", ROOT / "scripts" / "gen_protos.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_protos"] = module
    spec.loader.exec_module(module)
    return module


def test_generated_code_matches_protos(tmp_path: Path) -> None:
    generated = _load_generator().generate(tmp_path)
    assert generated, "protoc produced nothing"
    committed_root = ROOT / "service"
    fresh = {p.relative_to(tmp_path) for p in generated}
    committed = {
        p.relative_to(committed_root)
        for p in (committed_root / "keystone").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert fresh == committed, f"stale or extra generated files: {sorted(map(str, fresh ^ committed))}"
    stale = [
        str(rel) for rel in fresh if (tmp_path / rel).read_bytes() != (committed_root / rel).read_bytes()
    ]
    assert not stale, f"run `make protos`: generated code differs for {stale}"


def test_every_entity_has_a_payload_and_an_enum_value() -> None:
    from keystone.olist.v1 import olist_pb2
    from keystone_nexus.contracts import entities as contracts

    names = [e.name for e in contracts.entities()]
    assert names == [
        "customers",
        "geolocation",
        "order_items",
        "payments",
        "reviews",
        "orders",
        "products",
        "sellers",
        "category_translation",
    ]
    for spec in contracts.entities():
        event = olist_pb2.Event(entity=olist_pb2.Entity.Name(spec.entity_enum))
        getattr(event, spec.payload_field).SetInParent()
        assert event.WhichOneof("payload") == spec.payload_field
        assert contracts.entity_for_topic(spec.topic) is spec
        assert contracts.entity_for_enum(spec.entity_enum) is spec


def test_entities_have_the_olist_columns() -> None:
    from keystone_nexus.contracts import entities as contracts

    assert contracts.entity("orders").columns == (
        "order_id",
        "customer_id",
        "order_status",
        "order_purchase_timestamp",
        "order_approved_at",
        "order_delivered_carrier_date",
        "order_delivered_customer_date",
        "order_estimated_delivery_date",
    )
    assert contracts.entity("products").columns[2:4] == (
        "product_name_lenght",
        "product_description_lenght",
    )
    assert contracts.entity("payments").csv_file == "olist_order_payments_dataset.csv"
    with pytest.raises(contracts.UnknownEntityError):
        contracts.entity("refunds")
