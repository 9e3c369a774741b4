"""The Olist generator's places and parties: the reference catalog as arrays, the
geolocation table, customers, sellers and products.

Internals of `keystone_nexus.olist.generate`: each function takes its entity's own
random stream and returns the columns of its table plus what later entities draw from
(zip prefixes and their cities, customer states, seller ids, product weights).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from keystone_nexus.olist import reference as catalog
from keystone_nexus.olist.draws import (
    F64,
    I64,
    _covering_choice,
    _draw,
    _group_starts,
    _hex_ids,
    _ints,
    _labels,
    _normalised,
    _strings,
    _zip_strings,
    scaled_count,
)

# Brazil's bounding box: (lat_min, lat_max), (lng_min, lng_max).
_BRAZIL_LAT = (-33.75, 5.27)
_BRAZIL_LNG = (-73.99, -34.80)


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
