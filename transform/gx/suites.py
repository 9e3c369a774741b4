"""The Great Expectations suites of each layer: table name -> expectations.

Bronze is checked as the sink wrote it (raw strings, Kafka coordinates), silver as typed and
deduplicated, gold as the business marts. The same suites run on DuckDB (local) and Athena.
"""

from __future__ import annotations

import great_expectations.expectations as gxe

ID = r"^[0-9a-f]{32}$"
OLIST_TS = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
STATUSES = ["created", "approved", "invoiced", "processing", "shipped", "delivered", "canceled"]
STATUSES += ["unavailable"]
STATES = [
    "AC", "AL", "AP", "AM", "BA", "CE", "DF", "ES", "GO", "MA", "MT", "MS", "MG", "PA",
    "PB", "PR", "PE", "PI", "RJ", "RN", "RS", "RO", "RR", "SC", "SP", "SE", "TO",
]  # fmt: skip
ENTITIES = {
    "customers": "customer_id",
    "geolocation": "geolocation_zip_code_prefix",
    "order_items": "order_id",
    "payments": "order_id",
    "reviews": "review_id",
    "orders": "order_id",
    "products": "product_id",
    "sellers": "seller_id",
    "category_translation": "product_category_name",
}


def _bronze() -> dict[str, list[gxe.Expectation]]:
    suites: dict[str, list[gxe.Expectation]] = {}
    for entity, key in ENTITIES.items():
        suites[entity] = [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            gxe.ExpectColumnValuesToNotBeNull(column=key),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["_topic", "_partition", "_offset"]),
            gxe.ExpectColumnValuesToNotBeNull(column="_ingested_at"),
        ]
    suites["orders"] += [
        gxe.ExpectColumnValuesToMatchRegex(column="order_id", regex=ID),
        gxe.ExpectColumnValuesToBeInSet(column="order_status", value_set=STATUSES),
        gxe.ExpectColumnValuesToMatchRegex(column="order_purchase_timestamp", regex=OLIST_TS),
    ]
    suites["order_items"] += [
        gxe.ExpectColumnValuesToBeBetween(column="price", min_value=0, max_value=100_000),
        gxe.ExpectColumnValuesToBeBetween(column="freight_value", min_value=0, max_value=10_000),
    ]
    suites["payments"] += [gxe.ExpectColumnValuesToBeBetween(column="payment_value", min_value=0)]
    suites["reviews"] += [gxe.ExpectColumnValuesToBeBetween(column="review_score", min_value=1, max_value=5)]
    suites["customers"] += [
        gxe.ExpectColumnValuesToMatchRegex(column="customer_state", regex=r"^\s*[A-Za-z]{2}\s*$")
    ]
    return suites


def _silver() -> dict[str, list[gxe.Expectation]]:
    return {
        "stg_orders": [
            gxe.ExpectColumnValuesToBeUnique(column="order_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="purchased_at"),
            gxe.ExpectColumnValuesToBeInSet(column="order_status", value_set=STATUSES),
        ],
        "stg_order_items": [
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["order_id", "order_item_id"]),
            gxe.ExpectColumnValuesToBeBetween(column="price", min_value=0),
        ],
        "stg_payments": [
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["order_id", "payment_sequential"]),
            gxe.ExpectColumnValuesToBeBetween(column="payment_value", min_value=0),
        ],
        "stg_customers": [
            gxe.ExpectColumnValuesToBeUnique(column="customer_id"),
            gxe.ExpectColumnValuesToBeInSet(column="customer_state", value_set=STATES),
        ],
        "stg_products": [gxe.ExpectColumnValuesToBeUnique(column="product_id")],
        "stg_sellers": [
            gxe.ExpectColumnValuesToBeUnique(column="seller_id"),
            gxe.ExpectColumnValuesToBeInSet(column="seller_state", value_set=STATES),
        ],
        "stg_geolocation": [
            gxe.ExpectColumnValuesToBeUnique(column="zip_code_prefix"),
            gxe.ExpectColumnValuesToBeBetween(column="lat", min_value=-35, max_value=6),
            gxe.ExpectColumnValuesToBeBetween(column="lng", min_value=-75, max_value=-33),
        ],
    }


def _gold() -> dict[str, list[gxe.Expectation]]:
    return {
        "fct_orders": [
            gxe.ExpectTableRowCountToBeBetween(min_value=1),
            gxe.ExpectColumnValuesToBeUnique(column="order_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="customer_unique_id"),
            gxe.ExpectColumnValuesToBeBetween(column="review_score", min_value=1, max_value=5),
            gxe.ExpectColumnValuesToBeBetween(column="delivery_days", min_value=0, max_value=365),
            gxe.ExpectColumnValuesToBeBetween(column="items_value", min_value=0),
        ],
        "agg_daily_sales": [
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["purchase_date", "customer_state"]),
            gxe.ExpectColumnValuesToBeBetween(column="orders", min_value=1),
            gxe.ExpectColumnValuesToBeBetween(column="gmv", min_value=0),
        ],
        "agg_delivery_performance": [
            gxe.ExpectColumnValuesToBeBetween(column="on_time_rate", min_value=0, max_value=1),
        ],
        "dim_customers": [gxe.ExpectColumnValuesToBeUnique(column="customer_unique_id")],
        "dim_sellers": [
            gxe.ExpectColumnValuesToBeUnique(column="seller_id"),
            gxe.ExpectColumnValuesToBeBetween(column="late_shipping_rate", min_value=0, max_value=1),
        ],
        "dim_products": [gxe.ExpectColumnValuesToBeUnique(column="product_id")],
    }


LAYERS = ("bronze", "silver", "gold")


def suites(layer: str) -> dict[str, list[gxe.Expectation]]:
    """The expectations of every table of `layer`."""
    return {"bronze": _bronze, "silver": _silver, "gold": _gold}[layer]()
