"""What a person wants to see of gold after the journey, read from the DuckDB file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from keystone_nexus.lake import warehouse as warehouse_db

TOP_STATES = 5
SELLERS_SHOWN = 3


@dataclass(frozen=True, slots=True)
class StateSales:
    state: str
    orders: int
    gmv: float


@dataclass(frozen=True, slots=True)
class SellerScore:
    seller_id: str
    state: str
    orders: int
    avg_review_score: float


@dataclass(frozen=True, slots=True)
class GoldHighlights:
    orders: int  # orders counted in sales (not canceled or unavailable)
    gmv: float  # items plus freight of those orders
    top_states: list[StateSales]
    delivered_orders: int
    on_time_rate: float | None
    min_seller_orders: int  # sellers with fewer orders are not ranked
    best_sellers: list[SellerScore]
    worst_sellers: list[SellerScore]


def min_seller_orders(total_orders: int) -> int:
    """Sellers ranked by review need this many orders: 1 in 2,000 of all orders, at least 3."""
    return max(3, total_orders // 2000)


def read_highlights(warehouse: Path) -> GoldHighlights:
    with warehouse_db.open_read_only(warehouse) as con:
        by_state = con.execute(
            "select customer_state, sum(orders)::bigint, sum(gmv) from gold.agg_daily_sales "
            "group by 1 order by 3 desc, 1"
        ).fetchall()
        delivered = con.execute(
            "select count(*), avg(case when is_late then 0.0 else 1.0 end) "
            "from gold.fct_orders where delivered_at is not null"
        ).fetchone()
        orders = sum(int(r[1]) for r in by_state)
        floor = min_seller_orders(orders)
        ranked = (
            "select seller_id, state, orders, avg_review_score from gold.dim_sellers "
            f"where orders >= {floor} and avg_review_score is not null order by avg_review_score {{}}, "
            f"orders desc, seller_id limit {SELLERS_SHOWN}"
        )
        best = con.execute(ranked.format("desc")).fetchall()
        worst = con.execute(ranked.format("asc")).fetchall()
    assert delivered is not None
    return GoldHighlights(
        orders=orders,
        gmv=sum(float(r[2]) for r in by_state),
        top_states=[StateSales(str(s), int(n), float(g)) for s, n, g in by_state[:TOP_STATES]],
        delivered_orders=int(delivered[0]),
        on_time_rate=None if delivered[1] is None else float(delivered[1]),
        min_seller_orders=floor,
        best_sellers=[SellerScore(str(a), str(b), int(c), float(d)) for a, b, c, d in best],
        worst_sellers=[SellerScore(str(a), str(b), int(c), float(d)) for a, b, c, d in worst],
    )
