"""The Olist generator's sales: orders with the timestamps their status implies, their
items, the payments that add up to them, and reviews whose scores follow the delivery.

Internals of `keystone_nexus.olist.generate`, drawn after the parties
(`keystone_nexus.olist.draw_parties`), each from its own random stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray

from keystone_nexus.olist import reference as catalog
from keystone_nexus.olist.draw_parties import _Customers, _Products, _reference
from keystone_nexus.olist.draws import (
    DAY,
    HOUR,
    I64,
    Mask,
    _covering_choice,
    _draw,
    _epoch,
    _group_starts,
    _hex_ids,
    _labels,
    _midnight,
    _midnight_int,
    _normalised,
    _strings,
    _timestamps,
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
