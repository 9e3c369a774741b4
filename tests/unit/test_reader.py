from pathlib import Path

import orjson
import pytest

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.olist.reader import DatasetError, Row, RowError, dataset_file, read

# The shape of the real Kaggle files: quoted header and strings, unquoted numbers,
# zip prefixes that lost their leading zero, floats for integer columns, a review
# message spanning lines.
REVIEWS = (
    '"review_id","order_id","review_score","review_comment_title","review_comment_message",'
    '"review_creation_date","review_answer_timestamp"\n'
    '"7bc2406110b926393aa56f80a40eba40","73fc7af87114b39712e6da79b0a377eb",4,,,'
    '"2018-01-18 00:00:00","2018-01-18 21:46:59"\n'
    '"80e641a11e56f04c1ad469d5645fdfde","a548910a1c6147796b98fdf73dbeba33",5,,"Recebi bem antes\n'
    'do prazo estipulado.","2018-03-10 00:00:00","2018-03-11 03:05:13"\n'
    '"228ce5500dc1d8e020d8d1322874b6f0","f9e4b658b201a9f2ecdecbb34bed034b",9,,,'
    '"2018-02-17 00:00:00","2018-02-18 14:36:24"\n'
    '"e64fb393e7b32834bb789ff8bb30750e","658677c97b385a9be170737859d3511b",5,,,"yesterday",\n'
    '"f7c4243c7fe1938f181bec41a392bdeb","8e6bfb81e283fa7e4f11123a3fb894f1"\n'
)


def test_real_dataset_shape_is_read(tmp_path: Path) -> None:
    path = tmp_path / "olist_order_reviews_dataset.csv"
    path.write_text(REVIEWS)
    items = list(read(path, contracts.entity("reviews")))
    rows = [i for i in items if isinstance(i, Row)]
    errors = [i for i in items if isinstance(i, RowError)]
    assert [r.line for r in rows] == [2, 3]
    assert rows[0].record["review_comment_title"] is None
    assert rows[1].record["review_comment_message"] == "Recebi bem antes\ndo prazo estipulado."
    assert rows[1].record["review_score"] == 5
    assert [(e.line, e.file) for e in errors] == [
        (5, path.name),
        (6, path.name),
        (7, path.name),
    ]
    assert "review_score" in errors[0].reason
    assert "review_creation_date" in errors[1].reason
    assert "2 cells" in errors[2].reason


def test_zip_prefix_and_float_integers(tmp_path: Path) -> None:
    customers = tmp_path / "olist_customers_dataset.csv"
    customers.write_text(
        '"customer_id","customer_unique_id","customer_zip_code_prefix","customer_city","customer_state"\n'
        '"06b8999e2fba1a1fbc88172c00ba8bc7","861eff4711a542e4b93843c6dd7febb0",1151,"sao paulo","SP"\n'
    )
    (row,) = list(read(customers, contracts.entity("customers")))
    assert isinstance(row, Row) and row.record["customer_zip_code_prefix"] == "01151"
    products = tmp_path / "olist_products_dataset.csv"
    header = ",".join(f'"{c}"' for c in contracts.entity("products").columns)
    products.write_text(
        header
        + "\n"
        + '"1e9e8ef04dbcff4541ed26657ea517e5","perfumaria",40.0,287.0,1.0,225.0,16.0,10.0,14.0\n'
        '"a41e356c76fab66334f36de622ecbd3a",,,,,650.0,17.0,14.0,12.0\n'
        '"a41e356c76fab66334f36de622ecbd3b",,,,,650.5,17.0,14.0,12.0\n'
    )
    items = list(read(products, contracts.entity("products")))
    assert isinstance(items[0], Row) and items[0].record["product_weight_g"] == 225
    assert isinstance(items[1], Row) and items[1].record["product_category_name"] is None
    assert isinstance(items[2], RowError) and "product_weight_g" in items[2].reason


def test_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "product_category_name_translation.jsonl"
    good = {
        "product_category_name": "beleza_saude",
        "product_category_name_english": "health_beauty",
    }
    path.write_bytes(orjson.dumps(good) + b"\nnot json\n" + orjson.dumps({**good, "x": 1}) + b"\n")
    found, fmt = dataset_file(tmp_path, contracts.entity("category_translation"))
    assert (found, fmt) == (path, "jsonl")
    items = list(read(found, contracts.entity("category_translation"), fmt))
    assert isinstance(items[0], Row) and items[0].record == good
    assert isinstance(items[1], RowError) and items[1].line == 2
    assert isinstance(items[2], RowError) and items[2].line == 3 and "x" in items[2].reason


def test_wrong_header_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "olist_sellers_dataset.csv"
    path.write_text('"seller_id","zip"\n')
    with pytest.raises(DatasetError, match="seller_zip_code_prefix"):
        list(read(path, contracts.entity("sellers")))
    with pytest.raises(DatasetError, match=r"olist_orders_dataset\.csv"):
        dataset_file(tmp_path, contracts.entity("orders"))
