"""A fast, deterministic synthetic Olist dataset.

`generate(out)` writes the nine files of the public Olist Brazilian e-commerce dataset
(Kaggle "olistbr/brazilian-ecommerce") with the contract's file names and columns, at
the real dataset's size (scale 1.0) or any fraction or multiple of it. Everything is
drawn with numpy's PCG64 from `seed`, one independent stream per entity, in vectorised
form: the same seed and scale always give byte-identical files.

The data keeps the dataset's shape: referential integrity between the files, Brazilian
states, cities and postal code prefixes that agree with each other, order statuses and
the timestamps each status implies, items, payments that add up to the items, and
reviews whose scores follow the delivery experience.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from numpy.typing import NDArray

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.contracts.entities import EntitySpec, FieldType
from keystone_nexus.olist import reference as catalog

Fmt = Literal["csv", "jsonl"]
I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
Mask = NDArray[np.bool_]

DAY = 86_400
HOUR = 3_600
_ARROW_TYPES = {
    FieldType.STRING: pa.string(),
    FieldType.INTEGER: pa.int64(),
    FieldType.NUMBER: pa.float64(),
}
# Brazil's bounding box: (lat_min, lat_max), (lng_min, lng_max).
_BRAZIL_LAT = (-33.75, 5.27)
_BRAZIL_LNG = (-73.99, -34.80)
_STREAMS = ("geo", "customers", "sellers", "products", "orders", "items", "payments", "reviews")


# ------------------------------------------------------------------------ public API


def generate(out: Path, *, scale: float = 1.0, seed: int = 42, fmt: Fmt = "csv") -> dict[str, int]:
    """Write the nine Olist files into `out`; return rows written per file name."""
    if fmt not in ("csv", "jsonl"):
        raise ValueError(f"fmt must be 'csv' or 'jsonl', not {fmt!r}")
    tables = build_tables(scale=scale, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, int] = {}
    for spec in contracts.entities():
        name = file_name(spec, fmt)
        table = tables[spec.name]
        if fmt == "csv":
            pacsv.write_csv(table, out / name)
        else:
            write_jsonl(table, out / name)
        written[name] = table.num_rows
    return written


def file_name(spec: EntitySpec, fmt: Fmt) -> str:
    """The entity's file name: the dataset's CSV name, or its stem + ".jsonl"."""
    return spec.csv_file if fmt == "csv" else f"{Path(spec.csv_file).stem}.jsonl"


def scaled_count(real: int, scale: float) -> int:
    """`real` rows scaled linearly, at least 1."""
    return max(1, round(real * scale))


def build_tables(*, scale: float = 1.0, seed: int = 42) -> dict[str, pa.Table]:
    """The nine tables in memory, keyed by entity name, columns as the contract says."""
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number, not {scale!r}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, not {seed}")
    geo = _geography(_rng(seed, "geo"), scale)
    customers = _customers(_rng(seed, "customers"), scale, geo)
    sellers = _sellers(_rng(seed, "sellers"), scale, geo)
    products = _products(_rng(seed, "products"), scale, len(sellers.ids))
    orders = _orders(_rng(seed, "orders"), customers)
    items = _items(_rng(seed, "items"), orders, products, sellers.ids)
    payments = _payments(_rng(seed, "payments"), orders, items)
    reviews = _reviews(_rng(seed, "reviews"), orders)
    columns = {
        "customers": customers.columns,
        "geolocation": geo.columns,
        "order_items": items.columns,
        "payments": payments,
        "reviews": reviews,
        "orders": orders.columns,
        "products": products.columns,
        "sellers": sellers.columns,
        "category_translation": {
            "product_category_name": pa.array([c.name for c in catalog.CATEGORIES]),
            "product_category_name_english": pa.array([c.english for c in catalog.CATEGORIES]),
        },
    }
    return {spec.name: _table(spec, columns[spec.name]) for spec in contracts.entities()}


def write_jsonl(table: pa.Table, path: Path, *, chunk_rows: int = 100_000) -> None:
    """Write `table` as JSON lines: one object per row, every column, typed values."""
    with path.open("wb") as f:
        for start in range(0, table.num_rows, chunk_rows):
            lines = _json_lines(table.slice(start, chunk_rows))
            offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
            first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
            f.write(memoryview(lines.buffers()[2])[first:last])


# --------------------------------------------------------------------- reference data


@dataclass(frozen=True)
class _Reference:
    """The catalog as arrays."""

    uf: tuple[str, ...]
    state_customers: F64
    state_sellers: F64
    state_geo: F64
    state_days: F64  # median purchase-to-delivery days
    city_names: tuple[str, ...]
    city_state: I64
    city_lat: F64
    city_lng: F64
    city_share: F64  # the city's share of its state's customers
    city_capacity: I64  # how many zip prefixes the city owns
    candidate_zip: I64  # every zip prefix of every city
    candidate_city: I64


@cache
def _reference() -> _Reference:
    uf = tuple(s.uf for s in catalog.STATES)
    state_of = {u: i for i, u in enumerate(uf)}
    city_state = np.array([state_of[c.state] for c in catalog.CITIES], dtype=np.int64)
    weight = np.array([c.weight for c in catalog.CITIES], dtype=np.float64)
    state_total = np.bincount(city_state, weights=weight, minlength=len(uf))
    zips: list[I64] = []
    owner: list[I64] = []
    for i, city in enumerate(catalog.CITIES):
        for lo, hi in city.zip_ranges:
            zips.append(np.arange(lo, hi + 1, dtype=np.int64))
            owner.append(np.full(hi - lo + 1, i, dtype=np.int64))
    candidate_city = np.concatenate(owner)
    return _Reference(
        uf=uf,
        state_customers=np.array([s.customers for s in catalog.STATES], dtype=np.float64),
        state_sellers=np.array([s.sellers for s in catalog.STATES], dtype=np.float64),
        state_geo=np.array([s.geolocation for s in catalog.STATES], dtype=np.float64),
        state_days=np.array([s.delivery_days for s in catalog.STATES], dtype=np.float64),
        city_names=tuple(c.name for c in catalog.CITIES),
        city_state=city_state,
        city_lat=np.array([c.lat for c in catalog.CITIES], dtype=np.float64),
        city_lng=np.array([c.lng for c in catalog.CITIES], dtype=np.float64),
        city_share=weight / state_total[city_state],
        city_capacity=np.bincount(candidate_city, minlength=len(catalog.CITIES)),
        candidate_zip=np.concatenate(zips),
        candidate_city=candidate_city,
    )


# ---------------------------------------------------------------------- geolocation


@dataclass(frozen=True)
class _Geo:
    zips: I64  # the distinct zip prefixes, ascending
    zip_city: I64  # the city of each
    columns: dict[str, pa.Array]

    def weights(self, state_weight: F64) -> F64:
        """P(zip) for a population spread over states by `state_weight`, and within a
        state over its cities by their share, evenly over each city's zips."""
        ref = _reference()
        per_city = np.bincount(self.zip_city, minlength=len(ref.city_names))
        state = ref.city_state[self.zip_city]
        w = state_weight[state] * ref.city_share[self.zip_city] / per_city[self.zip_city]
        return _normalised(w)


def _geography(rng: np.random.Generator, scale: float) -> _Geo:
    ref = _reference()
    n_zips = min(scaled_count(catalog.REAL_COUNTS["zip_prefixes"], scale), len(ref.candidate_zip))
    n_rows = max(n_zips, scaled_count(catalog.REAL_COUNTS["geolocation"], scale))

    # Distinct prefixes: weighted sampling without replacement (Gumbel top-k), each
    # state by its share of the real file, each city by its share of the state.
    cand_city = ref.candidate_city
    w = ref.state_geo[ref.city_state[cand_city]] * ref.city_share[cand_city] / ref.city_capacity[cand_city]
    keys = np.log(w) + rng.gumbel(size=len(w))
    chosen = np.sort(np.argsort(-keys, kind="stable")[:n_zips])
    zips, zip_city = ref.candidate_zip[chosen], cand_city[chosen]

    # Each prefix gets a centre near its city (bigger cities spread wider) and at least
    # one row; the other rows follow the state shares with a heavy tail per prefix.
    spread = np.clip(0.01 * np.sqrt(ref.city_capacity[zip_city] / 10), 0.01, 0.06)
    centre_lat = ref.city_lat[zip_city] + spread * np.clip(rng.normal(size=n_zips), -2, 2)
    centre_lng = ref.city_lng[zip_city] + spread * np.clip(rng.normal(size=n_zips), -2, 2)
    state = ref.city_state[zip_city]
    per_state = np.bincount(state, minlength=len(ref.uf))
    row_w = ref.state_geo[state] / per_state[state] * rng.lognormal(0.0, 0.8, size=n_zips)
    counts = 1 + rng.multinomial(n_rows - n_zips, _normalised(row_w))
    zip_of_row = np.repeat(np.arange(n_zips), counts)
    starts = _group_starts(counts)
    rank = np.arange(n_rows) - starts[zip_of_row]

    lat = centre_lat[zip_of_row] + rng.normal(0.0, 0.006, size=n_rows)
    lng = centre_lng[zip_of_row] + rng.normal(0.0, 0.006, size=n_rows)
    # Like the real file, about a quarter of the rows repeat a point of their prefix:
    # a copy of one of its first three rows (resolved to an original by pointer jumps).
    repeat = (rank > 0) & (rng.random(n_rows) < 0.27)
    source = starts[zip_of_row] + np.floor(rng.random(n_rows) * np.minimum(rank, 3))
    point = np.where(repeat, source.astype(np.int64), np.arange(n_rows))
    for _ in range(3):
        point = point[point]
    lat = np.clip(lat[point], *_BRAZIL_LAT)
    lng = np.clip(lng[point], *_BRAZIL_LNG)

    city_idx = zip_city[zip_of_row]
    columns = {
        "geolocation_zip_code_prefix": _strings(_zip_strings(zips)[zip_of_row]),
        "geolocation_lat": pa.array(lat),
        "geolocation_lng": pa.array(lng),
        "geolocation_city": _labels(ref.city_names, city_idx),
        "geolocation_state": _labels(ref.uf, ref.city_state[city_idx]),
    }
    return _Geo(zips=zips, zip_city=zip_city, columns=columns)


def _place_columns(prefix: str, geo: _Geo, zip_idx: I64) -> dict[str, pa.Array]:
    ref = _reference()
    city = geo.zip_city[zip_idx]
    return {
        f"{prefix}_zip_code_prefix": _strings(_zip_strings(geo.zips[zip_idx])),
        f"{prefix}_city": _labels(ref.city_names, city),
        f"{prefix}_state": _labels(ref.uf, ref.city_state[city]),
    }


# ------------------------------------------------------------------ customers, sellers


@dataclass(frozen=True)
class _Customers:
    ids: NDArray[np.bytes_]  # one customer_id per order
    state: I64  # state index of each
    columns: dict[str, pa.Array]


def _customers(rng: np.random.Generator, scale: float, geo: _Geo) -> _Customers:
    n = scaled_count(catalog.REAL_COUNTS["orders"], scale)
    n_people = min(n, scaled_count(catalog.REAL_COUNTS["unique_customers"], scale))
    person_zip = _draw(rng, geo.weights(_reference().state_customers), n_people)
    # Every person has a customer_id row; returning customers have more than one.
    person = np.concatenate([np.arange(n_people), rng.integers(0, n_people, size=n - n_people)])
    person = rng.permutation(person)
    ids = _hex_ids(rng, n)
    zip_idx = person_zip[person]
    columns = {
        "customer_id": _strings(ids),
        "customer_unique_id": _strings(_hex_ids(rng, n_people)[person]),
        **_place_columns("customer", geo, zip_idx),
    }
    state = _reference().city_state[geo.zip_city[zip_idx]]
    return _Customers(ids=ids, state=state, columns=columns)


@dataclass(frozen=True)
class _Sellers:
    ids: NDArray[np.bytes_]
    columns: dict[str, pa.Array]


def _sellers(rng: np.random.Generator, scale: float, geo: _Geo) -> _Sellers:
    n = scaled_count(catalog.REAL_COUNTS["sellers"], scale)
    zip_idx = _draw(rng, geo.weights(_reference().state_sellers), n)
    ids = _hex_ids(rng, n)
    columns = {"seller_id": _strings(ids), **_place_columns("seller", geo, zip_idx)}
    return _Sellers(ids=ids, columns=columns)


# ------------------------------------------------------------------------- products


@dataclass(frozen=True)
class _Products:
    ids: NDArray[np.bytes_]
    seller: I64  # the seller index of each product
    popularity: F64  # P(an order line is this product)
    price_cents: I64
    freight_base: F64  # freight in BRL to a nearby customer
    columns: dict[str, pa.Array]


def _products(rng: np.random.Generator, scale: float, n_sellers: int) -> _Products:
    n = scaled_count(catalog.REAL_COUNTS["products"], scale)
    cats = catalog.CATEGORIES
    category = _draw(rng, [c.products for c in cats], n)
    uncategorised = rng.random(n) < catalog.UNCATEGORISED_PRODUCT_SHARE
    no_size = rng.random(n) < 2 / 32_951

    name_len = np.clip(np.rint(rng.normal(48.5, 10.0, size=n)), 5, 76)
    description_len = np.clip(np.rint(rng.lognormal(math.log(600), 0.75, size=n)), 4, 3992)
    photos = np.clip(rng.geometric(0.48, size=n), 1, 20)
    weight = np.clip(np.rint(rng.lognormal(math.log(700), 1.25, size=n)), 0, 40_425)
    weight = np.where((weight >= 100) & (rng.random(n) < 0.6), np.rint(weight / 50) * 50, weight)
    length = np.clip(np.rint(rng.lognormal(math.log(25), 0.45, size=n)), 7, 105)
    height = np.clip(np.rint(rng.lognormal(math.log(13), 0.65, size=n)), 2, 105)
    width = np.clip(np.rint(rng.lognormal(math.log(20), 0.45, size=n)), 6, 118)

    median_price = np.array([c.median_price for c in cats], dtype=np.float64)[category]
    median_price = np.where(uncategorised, 75.0, median_price)
    price = np.clip(median_price * rng.lognormal(0.04, 0.9, size=n), 0.85, 6735.0)
    kg = np.where(no_size, 1.0, weight / 1000)
    freight_base = (10.0 + 5.0 * kg**0.7) * (1 + 0.2 * (length * height * width > 20_000))

    # Every seller has at least one product; sellers' sizes are heavy-tailed.
    seller = _covering_choice(rng, n, n_sellers, rng.lognormal(0.0, 1.6, size=n_sellers))
    ids = _hex_ids(rng, n)
    columns = {
        "product_id": _strings(ids),
        "product_category_name": _labels(tuple(c.name for c in cats), category, present=~uncategorised),
        "product_name_lenght": _ints(name_len, ~uncategorised),
        "product_description_lenght": _ints(description_len, ~uncategorised),
        "product_photos_qty": _ints(photos, ~uncategorised),
        "product_weight_g": _ints(weight, ~no_size),
        "product_length_cm": _ints(length, ~no_size),
        "product_height_cm": _ints(height, ~no_size),
        "product_width_cm": _ints(width, ~no_size),
    }
    return _Products(
        ids=ids,
        seller=seller,
        popularity=_normalised(rng.lognormal(0.0, 1.3, size=n)),
        price_cents=np.rint(price * 100).astype(np.int64),
        freight_base=freight_base,
        columns=columns,
    )


# --------------------------------------------------------------------------- orders

_STATUS = tuple(catalog.ORDER_STATUS)
_PAYMENT = tuple(catalog.PRIMARY_PAYMENT)
_PAY_KINDS = (*_PAYMENT, "not_defined")


@dataclass(frozen=True)
class _Orders:
    ids: NDArray[np.bytes_]
    state: I64  # the customer's state index
    status: I64  # index into _STATUS
    payment: I64  # the primary payment type, index into _PAYMENT
    purchase: I64  # epoch seconds
    approved: I64
    has_approved: Mask
    delivered: I64
    has_delivered: Mask
    estimated: I64
    columns: dict[str, pa.Array]

    def is_status(self, *names: str) -> Mask:
        return _status_in(self.status, *names)


def _status_in(status: I64, *names: str) -> Mask:
    return np.isin(status, [_STATUS.index(s) for s in names])


def _orders(rng: np.random.Generator, customers: _Customers) -> _Orders:
    ref = _reference()
    n = len(customers.ids)
    which = rng.permutation(n)  # the customer_id row of each order
    state = customers.state[which]
    status = _draw(rng, list(catalog.ORDER_STATUS.values()), n)
    if not np.any(status == _STATUS.index("delivered")):
        status[0] = _STATUS.index("delivered")
    payment = _draw(rng, list(catalog.PRIMARY_PAYMENT.values()), n)
    purchase = _purchase_times(rng, n)

    # Approval: minutes for cards (sometimes hours), about a day for a boleto.
    boleto = payment == _PAYMENT.index("boleto")
    slow_card = rng.random(n) < 0.15
    approval = np.where(
        boleto,
        rng.lognormal(math.log(30 * HOUR), 0.6, size=n),
        np.where(
            slow_card,
            rng.lognormal(math.log(8 * HOUR), 1.0, size=n),
            60 + rng.exponential(10 * 60, size=n),
        ),
    )
    approved = purchase + approval.astype(np.int64)
    handover = np.maximum(rng.lognormal(math.log(2.2 * DAY), 0.7, size=n), HOUR)
    carrier = approved + handover.astype(np.int64)
    days = ref.state_days[state]
    transit = rng.lognormal(np.log(np.maximum(days - 3.0, 1.5) * DAY), 0.6)
    delivered = carrier + np.maximum(transit, HOUR).astype(np.int64)
    promised = np.ceil(days * 1.9 * rng.lognormal(0.0, 0.2, size=n)).astype(np.int64) + 2
    estimated = _midnight(purchase) + promised * DAY

    # Which timestamps each status has: canceled orders may have got some way.
    canceled = _status_in(status, "canceled")
    has_approved = ~_status_in(status, "created") & ~(canceled & (rng.random(n) < 0.2))
    has_carrier = _status_in(status, "delivered", "shipped") | (
        canceled & has_approved & (rng.random(n) < 0.12)
    )
    has_delivered = _status_in(status, "delivered")
    # The dataset is a snapshot: nothing after the last purchase has happened yet.
    cutoff = _epoch(catalog.LAST_PURCHASE)
    late_delivery = has_delivered & (delivered > cutoff)
    status[late_delivery] = _STATUS.index("shipped")
    has_delivered &= ~late_delivery
    late_carrier = has_carrier & (carrier > cutoff)
    status[late_carrier & _status_in(status, "shipped")] = _STATUS.index("invoiced")
    has_carrier &= ~late_carrier
    late_approval = has_approved & (approved > cutoff)
    status[late_approval] = _STATUS.index("created")
    has_approved &= ~late_approval

    ids = _hex_ids(rng, n)
    columns = {
        "order_id": _strings(ids),
        "customer_id": _strings(customers.ids[which]),
        "order_status": _labels(_STATUS, status),
        "order_purchase_timestamp": _timestamps(purchase),
        "order_approved_at": _timestamps(approved, has_approved),
        "order_delivered_carrier_date": _timestamps(carrier, has_carrier),
        "order_delivered_customer_date": _timestamps(delivered, has_delivered),
        "order_estimated_delivery_date": _timestamps(estimated),
    }
    return _Orders(
        ids=ids,
        state=state,
        status=status,
        payment=payment,
        purchase=purchase,
        approved=approved,
        has_approved=has_approved,
        delivered=delivered,
        has_delivered=has_delivered,
        estimated=estimated,
        columns=columns,
    )


def _purchase_times(rng: np.random.Generator, n: int) -> I64:
    """Purchase times that follow the dataset's monthly growth and daily rhythm."""
    first, last = _epoch(catalog.FIRST_PURCHASE), _epoch(catalog.LAST_PURCHASE)
    months = [f"{y:04d}-{m:02d}" for (y, m), _ in catalog.MONTHLY_ORDERS]
    begin = np.array(months, dtype="datetime64[M]")
    lo = np.maximum(begin.astype("datetime64[s]").astype(np.int64), _midnight_int(first))
    end = (begin + 1).astype("datetime64[s]").astype(np.int64)
    hi = np.minimum(end, _midnight_int(last) + DAY)
    month = _draw(rng, [c for _, c in catalog.MONTHLY_ORDERS], n)
    n_days = (hi - lo) // DAY
    day = np.floor(rng.random(n) * n_days[month]).astype(np.int64)
    hour = _draw(rng, catalog.HOURLY_ORDERS, n)
    second = rng.integers(0, HOUR, size=n)
    purchase: I64 = lo[month] + day * DAY + hour * HOUR + second
    return np.clip(purchase, first, last)


# ---------------------------------------------------------------------------- items


@dataclass(frozen=True)
class _Items:
    order: I64  # order index of each item row (grouped by order)
    cents: I64  # price + freight
    columns: dict[str, pa.Array]


def _items(
    rng: np.random.Generator, orders: _Orders, products: _Products, seller_ids: NDArray[np.bytes_]
) -> _Items:
    n_orders = len(orders.ids)
    # Unavailable and just-created orders have no items, nor do a quarter of the
    # canceled ones; the others have 1 item (90%) up to 6.
    has_items = ~orders.is_status("unavailable", "created") & ~(
        orders.is_status("canceled") & (rng.random(n_orders) < 0.26)
    )
    k = 1 + _draw(rng, catalog.ITEMS_PER_ORDER, n_orders)
    k = np.where(has_items, k, 0)
    order = np.repeat(np.arange(n_orders), k)
    n = len(order)
    first = _group_starts(k)[order]
    item_no = np.arange(n) - first + 1

    # Half the extra lines of an order repeat its first product; every product sells.
    fresh = (item_no == 1) | (rng.random(n) < 0.5)
    product = np.zeros(n, dtype=np.int64)
    product[fresh] = _covering_choice(rng, int(fresh.sum()), len(products.ids), products.popularity)
    product = np.where(fresh, product, product[first])

    # A product's price moves a little between orders, not within one.
    varies = rng.random(n) < 0.25
    price = products.price_cents[product] * np.where(varies, rng.lognormal(0, 0.08, size=n), 1.0)
    price_cents = np.maximum(np.rint(price), 85).astype(np.int64)
    price_cents = np.where(fresh, price_cents, price_cents[first])
    distance = (_reference().state_days[orders.state[order]] / 8.0) ** 0.7
    freight = products.freight_base[product] * distance * rng.lognormal(0.0, 0.35, size=n)
    freight = np.where(rng.random(n) < 0.003, 0.0, np.minimum(freight, 409.68))
    freight_cents = np.rint(freight * 100).astype(np.int64)

    handed_from = np.where(orders.has_approved, orders.approved, orders.purchase)
    limit = handed_from + rng.lognormal(math.log(6 * DAY), 0.25, size=n_orders).astype(np.int64)

    # The real file is sorted by order_id, then order_item_id.
    rows = np.lexsort((item_no, orders.ids[order]))
    order, product, item_no = order[rows], product[rows], item_no[rows]
    price_cents, freight_cents = price_cents[rows], freight_cents[rows]
    columns = {
        "order_id": _strings(orders.ids[order]),
        "order_item_id": pa.array(item_no),
        "product_id": _strings(products.ids[product]),
        "seller_id": _strings(seller_ids[products.seller[product]]),
        "shipping_limit_date": _timestamps(limit[order]),
        "price": pa.array(price_cents / 100),
        "freight_value": pa.array(freight_cents / 100),
    }
    return _Items(order=order, cents=price_cents + freight_cents, columns=columns)


# ------------------------------------------------------------------------- payments


def _payments(rng: np.random.Generator, orders: _Orders, items: _Items) -> dict[str, pa.Array]:
    n_orders = len(orders.ids)
    total = np.bincount(items.order, weights=items.cents, minlength=n_orders)
    no_items = np.bincount(items.order, minlength=n_orders) == 0
    # Orders without items were still paid for (and refunded) in the dataset.
    stand_in = rng.lognormal(math.log(10_000), 0.8, size=n_orders)
    total_cents = np.rint(np.where(no_items, stand_in, total)).astype(np.int64)
    kind = orders.payment.copy()
    not_defined = orders.is_status("canceled") & (rng.random(n_orders) < 0.005)
    kind[not_defined] = _PAY_KINDS.index("not_defined")
    total_cents[not_defined] = 0
    voucher, card = _PAY_KINDS.index("voucher"), _PAY_KINDS.index("credit_card")

    # Some card and voucher orders add vouchers: one payment row each, after the first.
    splittable = (kind == card) | (kind == voucher)
    extra = np.where(
        splittable & (rng.random(n_orders) < catalog.VOUCHER_SPLIT_SHARE),
        np.minimum(rng.geometric(2 / 3, size=n_orders), 28),
        0,
    )
    n_rows = 1 + extra
    order = np.repeat(np.arange(n_orders), n_rows)
    starts = _group_starts(n_rows)
    sequential = np.arange(len(order)) - starts[order] + 1
    voucher_only = kind == voucher
    is_voucher = (sequential > 1) | voucher_only[order]

    # Vouchers cover a fraction of the order (all of it for voucher-only orders), split
    # at random between them; integer cents so the rows add up to the items exactly.
    fraction = np.where(voucher_only, 1.0, rng.uniform(0.05, 0.6, size=n_orders))
    fraction = np.where(extra > 0, fraction, voucher_only.astype(np.float64))
    share_w = np.where(is_voucher, rng.exponential(1.0, size=len(order)), 0.0)
    share_sum = np.bincount(order, weights=share_w, minlength=n_orders)
    share = np.where(
        is_voucher,
        fraction[order] * share_w / np.where(share_sum > 0, share_sum, 1.0)[order],
        1.0 - fraction[order],
    )
    cumulative = np.cumsum(share)
    before = np.concatenate([[0.0], cumulative])[starts]
    bound = np.rint(total_cents[order] * np.minimum(cumulative - before[order], 1.0))
    last = np.append(sequential[1:] == 1, True)
    bound = np.where(last, total_cents[order], bound).astype(np.int64)
    cents = bound - np.where(sequential > 1, np.roll(bound, 1), 0)
    cents = np.maximum(cents, 0)

    row_kind = np.where(is_voucher, voucher, kind[order])
    installments = np.ones(len(order), dtype=np.int64)
    by_card = row_kind == card
    installments[by_card] = _installments(rng, cents[by_card])

    rows = rng.permutation(len(order))
    return {
        "order_id": _strings(orders.ids[order[rows]]),
        "payment_sequential": pa.array(sequential[rows]),
        "payment_type": _labels(_PAY_KINDS, row_kind[rows]),
        "payment_installments": pa.array(installments[rows]),
        "payment_value": pa.array(cents[rows] / 100),
    }


def _installments(rng: np.random.Generator, cents: I64) -> I64:
    """Credit-card installments (1..24) drawn from the dataset's frequencies, more of
    them for bigger payments (a rank correlation with the value)."""
    n = len(cents)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    size = np.log1p(cents.astype(np.float64))
    size = (size - size.mean()) / (size.std() or 1.0)
    score = 0.6 * size + 0.8 * rng.normal(size=n)
    quantile = (np.argsort(np.argsort(score, kind="stable"), kind="stable") + 0.5) / n
    cdf = np.cumsum(_normalised(np.array(catalog.INSTALLMENTS, dtype=np.float64)))
    return (np.searchsorted(cdf, quantile) + 1).astype(np.int64)


# -------------------------------------------------------------------------- reviews

_SENTIMENTS = ("bad", "neutral", "good")
_SENTIMENT_OF_SCORE = np.array([0, 0, 1, 2, 2], dtype=np.int64)  # scores 1..5


def _reviews(rng: np.random.Generator, orders: _Orders) -> dict[str, pa.Array]:
    n_orders = len(orders.ids)
    reviewed = rng.random(n_orders) >= catalog.UNREVIEWED_SHARE
    if not reviewed.any():
        reviewed[0] = True
    second = reviewed & (rng.random(n_orders) < catalog.SECOND_REVIEW_SHARE)
    order = np.repeat(np.arange(n_orders), reviewed.astype(np.int64) + second)
    n = len(order)
    is_second = np.append(False, order[1:] == order[:-1])

    # The score follows the delivery: on time, late, or not delivered at all.
    late = orders.has_delivered & (orders.delivered > orders.estimated)
    experience = np.where(orders.has_delivered, np.where(late, 1, 0), 2)[order]
    table = np.array([catalog.REVIEW_SCORES[k] for k in ("on_time", "late", "not_delivered")])
    cdf = np.cumsum(table / table.sum(axis=1, keepdims=True), axis=1)
    score = 1 + (rng.random(n)[:, None] > cdf[experience]).sum(axis=1)
    score = np.minimum(score, 5)

    # The survey goes out the day after delivery (or the promised date, when late);
    # for an undelivered order, some days after purchase. Creation dates are midnights.
    purchase = orders.purchase[order]
    waited = rng.uniform(2, 1 + (orders.estimated - orders.purchase) / DAY)[order] * DAY
    sent = np.where(
        orders.has_delivered[order],
        np.minimum(orders.delivered, orders.estimated)[order],
        purchase + waited.astype(np.int64),
    )
    again = np.where(is_second, rng.integers(1, 30, size=n) * DAY, 0)
    created = np.maximum(_midnight(sent) + DAY, _midnight(purchase) + DAY) + again
    answer_delay = np.clip(rng.lognormal(math.log(1.2 * DAY), 1.0, size=n), 600, 60 * DAY)
    answered = created + answer_delay.astype(np.int64)

    sentiment = _SENTIMENT_OF_SCORE[score - 1]
    has_title = rng.random(n) < np.array(catalog.REVIEW_TITLE_SHARE)[score - 1]
    has_message = rng.random(n) < np.array(catalog.REVIEW_MESSAGE_SHARE)[score - 1]
    rows = rng.permutation(n)
    return {
        "review_id": _strings(_hex_ids(rng, n)),
        "order_id": _strings(orders.ids[order[rows]]),
        "review_score": pa.array(score[rows].astype(np.int64)),
        "review_comment_title": _phrases(rng, catalog.REVIEW_TITLES, sentiment[rows], has_title[rows]),
        "review_comment_message": _phrases(rng, catalog.REVIEW_MESSAGES, sentiment[rows], has_message[rows]),
        "review_creation_date": _timestamps(created[rows]),
        "review_answer_timestamp": _timestamps(answered[rows]),
    }


def _phrases(
    rng: np.random.Generator,
    phrases: dict[str, tuple[str, ...]],
    sentiment: I64,
    present: Mask,
) -> pa.Array:
    """A phrase of the row's sentiment where `present`, else null."""
    flat = [p for s in _SENTIMENTS for p in phrases[s]]
    sizes = np.array([len(phrases[s]) for s in _SENTIMENTS], dtype=np.int64)
    offset = _group_starts(sizes)
    pick = offset[sentiment] + np.floor(rng.random(len(sentiment)) * sizes[sentiment])
    return _labels(tuple(flat), pick.astype(np.int64), present=present)


# -------------------------------------------------------------------------- helpers


def _rng(seed: int, stream: str) -> np.random.Generator:
    """An independent PCG64 stream per entity, so each one's draws are stable."""
    entropy = np.random.SeedSequence([seed, _STREAMS.index(stream)])
    return np.random.Generator(np.random.PCG64(entropy))


def _draw(rng: np.random.Generator, weights: Sequence[float] | F64, n: int) -> I64:
    """`n` indices into `weights`, drawn with probability proportional to them."""
    return rng.choice(len(weights), size=n, p=_normalised(np.asarray(weights))).astype(np.int64)


def _normalised(w: NDArray[np.floating] | NDArray[np.integer]) -> F64:
    w = np.asarray(w, dtype=np.float64)
    total = w.sum()
    return np.full(len(w), 1.0 / len(w)) if total <= 0 else w / total


def _group_starts(sizes: I64) -> I64:
    """The first row of each group when groups of `sizes` rows are laid end to end."""
    return np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)


def _covering_choice(rng: np.random.Generator, n: int, k: int, weights: F64) -> I64:
    """`n` draws from range(k) by `weights`, where each of the k values appears at
    least once when n >= k."""
    covered = min(n, k)
    head = rng.permutation(k)[:covered]
    tail = rng.choice(k, size=n - covered, p=_normalised(weights))
    return rng.permutation(np.concatenate([head, tail])).astype(np.int64)


def _epoch(timestamp: str) -> int:
    return int(np.datetime64(timestamp, "s").astype(np.int64))


def _midnight(seconds: I64) -> I64:
    return seconds - seconds % DAY


def _midnight_int(seconds: int) -> int:
    return seconds - seconds % DAY


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _hex_ids(rng: np.random.Generator, n: int) -> NDArray[np.bytes_]:
    """`n` md5-like ids: 32 lower-case hex characters from 16 random bytes each."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    chars = np.empty((n, 32), dtype=np.uint8)
    chars[:, 0::2] = _HEX[raw >> 4]
    chars[:, 1::2] = _HEX[raw & 15]
    return chars.view("S32").ravel()


def _zip_strings(zips: I64) -> NDArray[np.bytes_]:
    """Zip prefixes as 5-digit strings, leading zeros kept."""
    digits = (zips[:, None] // 10 ** np.arange(4, -1, -1)) % 10
    return (digits + ord("0")).astype(np.uint8).view("S5").ravel()


def _strings(fixed: NDArray[np.bytes_]) -> pa.Array:
    """A fixed-width ASCII numpy array as an Arrow string array, without copying per row."""
    n, width = len(fixed), fixed.dtype.itemsize
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(fixed).view(np.uint8)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _labels(values: Sequence[str], index: I64, present: Mask | None = None) -> pa.Array:
    """`values[index]` as an Arrow string array; null where not `present`."""
    indices = pa.array(index.astype(np.int32), mask=None if present is None else ~present)
    return pc.take(pa.array(values, pa.string()), indices)


def _ints(values: F64 | I64, present: Mask) -> pa.Array:
    return pa.array(values.astype(np.int64), mask=~present)


def _timestamps(seconds: I64, present: Mask | None = None) -> pa.Array:
    """Epoch seconds as "YYYY-MM-DD HH:MM:SS" strings; null where not `present`."""
    mask = None if present is None else ~present
    return pa.array(seconds, pa.timestamp("s"), mask=mask).cast(pa.string())


def _table(spec: EntitySpec, columns: dict[str, pa.Array]) -> pa.Table:
    """The columns in the contract's order, with the contract's Arrow types."""
    if set(columns) != set(spec.columns):
        raise RuntimeError(f"{spec.name}: columns {sorted(columns)} != {spec.columns}")
    arrays = [columns[f.name].cast(_ARROW_TYPES[f.type]) for f in spec.fields]
    return pa.Table.from_arrays(arrays, names=list(spec.columns))


# ---------------------------------------------------------------------------- JSONL

_SAFE_STRING = r'^[^"\\\x00-\x1f]*$'


def _json_lines(table: pa.Table) -> pa.Array:
    """One JSON object per row plus a newline, built column-wise by Arrow kernels."""
    parts: list[object] = []
    for i, name in enumerate(table.column_names):
        key = orjson.dumps(name).decode()
        parts.append(("{" if i == 0 else ",") + key + ":")
        parts.append(_json_values(table.column(i).combine_chunks()))
    parts.append("}\n")
    return pc.binary_join_element_wise(*parts, "")


def _json_values(column: pa.Array) -> pa.Array:
    """Each value of `column` as JSON text, "null" for nulls."""
    if pa.types.is_string(column.type):
        if pc.all(pc.match_substring_regex(column, _SAFE_STRING)).as_py() is False:
            # Escape each distinct value once.
            encoded = column.dictionary_encode()
            escaped = [orjson.dumps(v).decode() for v in encoded.dictionary.to_pylist()]
            text = pc.take(pa.array(escaped, pa.string()), encoded.indices)
        else:
            text = pc.binary_join_element_wise('"', column, '"', "")
    elif pa.types.is_integer(column.type):
        text = column.cast(pa.string())
    elif pa.types.is_floating(column.type):
        if pc.all(pc.is_finite(column)).as_py() is False:
            raise ValueError("JSON has no NaN or infinity")
        text = column.cast(pa.string())
        # Keep floats floats: "12" -> "12.0", as orjson and json.dumps write them.
        integral = pc.match_substring_regex(text, r"^-?\d+$")
        text = pc.if_else(integral, pc.binary_join_element_wise(text, ".0", ""), text)
    else:
        raise TypeError(f"no JSON encoding for {column.type}")
    return pc.fill_null(text, "null")
