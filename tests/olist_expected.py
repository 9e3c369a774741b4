"""Gold computed independently, in plain Python over the generated Olist CSVs: what the
transform's gold tables must hold. Shared by the transform and the end-to-end tests."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

TS = "%Y-%m-%d %H:%M:%S"
ORDERS = "olist_orders_dataset.csv"
NOT_SOLD = ("canceled", "unavailable")


def csv_rows(csvs: Path, name: str) -> list[dict[str, str]]:
    with (csvs / name).open(newline="") as f:
        return list(csv.DictReader(f))


def _ts(value: str) -> datetime | None:
    return datetime.strptime(value, TS) if value.strip() else None


def expected_orders(csvs: Path, orders_csv: Path) -> dict[str, dict[str, Any]]:
    """fct_orders computed from the source CSVs (the orders from `orders_csv`)."""
    customers = {c["customer_id"]: c for c in csv_rows(csvs, "olist_customers_dataset.csv")}
    items: dict[str, list[dict[str, str]]] = defaultdict(list)
    for item in csv_rows(csvs, "olist_order_items_dataset.csv"):
        items[item["order_id"]].append(item)
    paid: dict[str, float] = defaultdict(float)
    for payment in csv_rows(csvs, "olist_order_payments_dataset.csv"):
        paid[payment["order_id"]] += float(payment["payment_value"])
    reviews: dict[str, list[dict[str, str]]] = defaultdict(list)
    for review in csv_rows(csvs, "olist_order_reviews_dataset.csv"):
        reviews[review["order_id"]].append(review)
    out = {}
    for order in csv_rows(orders_csv.parent, orders_csv.name):
        oid = order["order_id"]
        purchased = _ts(order["order_purchase_timestamp"])
        delivered = _ts(order["order_delivered_customer_date"])
        estimated = _ts(order["order_estimated_delivery_date"])
        assert purchased is not None and estimated is not None
        customer = customers[order["customer_id"]]
        latest = max(
            reviews[oid],
            key=lambda r: (r["review_answer_timestamp"], r["review_creation_date"], r["review_id"]),
            default=None,
        )
        out[oid] = {
            "customer_unique_id": customer["customer_unique_id"],
            "customer_state": customer["customer_state"].strip().upper(),
            "order_status": order["order_status"],
            "purchased_at": purchased,
            "delivered_at": delivered,
            "estimated_delivery_at": estimated,
            "delivery_days": (delivered.date() - purchased.date()).days if delivered else None,
            "is_late": delivered.date() > estimated.date() if delivered else None,
            "item_count": len(items[oid]),
            "items_value": sum(float(i["price"]) for i in items[oid]),
            "freight_value": sum(float(i["freight_value"]) for i in items[oid]),
            "payment_value": paid[oid],
            "review_score": int(latest["review_score"]) if latest else None,
        }
    return out


def expected_daily_sales(orders: dict[str, dict[str, Any]]) -> dict[tuple[date, str], tuple[int, float]]:
    """agg_daily_sales: (purchase date, customer state) -> (orders, GMV = items + freight)."""
    cells: dict[tuple[date, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for row in orders.values():
        if row["order_status"] not in NOT_SOLD:
            cell = cells[(row["purchased_at"].date(), row["customer_state"])]
            cell[0] += 1
            cell[1] += row["items_value"] + row["freight_value"]
    return {k: (int(v[0]), v[1]) for k, v in cells.items()}


def expected_state_gmv(orders: dict[str, dict[str, Any]]) -> dict[str, tuple[int, float]]:
    """State -> (orders sold, GMV)."""
    states: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for (_, state), (count, gmv) in expected_daily_sales(orders).items():
        states[state][0] += count
        states[state][1] += gmv
    return {k: (int(v[0]), v[1]) for k, v in states.items()}


def expected_on_time(orders: dict[str, dict[str, Any]]) -> tuple[int, float]:
    """(delivered orders, the share of them delivered by the estimated date)."""
    delivered = [r for r in orders.values() if r["delivered_at"] is not None]
    return len(delivered), sum(not r["is_late"] for r in delivered) / len(delivered)


def expected_seller_reviews(csvs: Path, orders: dict[str, dict[str, Any]]) -> dict[str, tuple[int, float]]:
    """Seller -> (orders sold, the average review score over the seller's items whose order
    has a review), as dim_sellers scores them."""
    sold: dict[str, set[str]] = defaultdict(set)
    scores: dict[str, list[int]] = defaultdict(list)
    for item in csv_rows(csvs, "olist_order_items_dataset.csv"):
        order = orders[item["order_id"]]
        if order["order_status"] not in NOT_SOLD:
            sold[item["seller_id"]].add(item["order_id"])
        if order["review_score"] is not None:
            scores[item["seller_id"]].append(order["review_score"])
    return {s: (len(sold[s]), sum(v) / len(v)) for s, v in scores.items()}
