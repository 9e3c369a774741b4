"""Which objects a reprocess rewrites: the pure planning of `keystone_nexus.repair.reprocess`."""

from __future__ import annotations

import pytest

from keystone_nexus.repair.redrive import marker_key, redrive_name
from keystone_nexus.repair.reprocess import LakeObject, Plan, ReprocessError, plan_reprocess

T = "olist.orders.v1"


def obj(first: int, last: int, kind: str = "bronze", hr: str = "10") -> LakeObject:
    return LakeObject(f"{kind}/orders/dt=2026-01-01/hr={hr}/{T}+0+{first:019d}.parquet", first, last, kind)


# Three batches of the sink: [0..39] (two hours and a dead-letter object), [40..79], [80..99].
BATCH_1 = [obj(0, 20, hr="10"), obj(21, 39, hr="11"), obj(5, 33, "dlq")]
BATCH_2 = [obj(40, 79), obj(47, 47, "dlq")]
BATCH_3 = [obj(80, 99)]
LAKE = [*BATCH_1, *BATCH_2, *BATCH_3]


def test_a_range_inside_one_object_widens_to_the_objects_it_shares_offsets_with() -> None:
    plan = plan_reprocess(T, 0, 50, 60, LAKE, next_offset=100)
    assert (plan.start, plan.end) == (40, 79)
    assert plan.units == [(40, 79)]
    assert plan.old == sorted(o.key for o in BATCH_2)


def test_an_object_overlapping_the_dead_letters_pulls_in_the_whole_batch() -> None:
    # 25 is in the hour-11 object [21..39]; the dead-letter object [5..33] overlaps the
    # hour-10 object too, so the closure is the whole first batch.
    plan = plan_reprocess(T, 0, 25, 25, LAKE, next_offset=100)
    assert (plan.start, plan.end) == (0, 39)
    assert plan.units == [(0, 39)]
    assert plan.old == sorted(o.key for o in BATCH_1)


def test_a_range_across_objects_keeps_one_unit_per_run_no_object_crosses() -> None:
    plan = plan_reprocess(T, 0, 30, 85, LAKE, next_offset=100)
    assert (plan.start, plan.end) == (0, 99)
    assert plan.units == [(0, 39), (40, 79), (80, 99)]
    assert len(plan.old) == len(LAKE)


def test_objects_that_do_not_overlap_are_separate_units_even_within_a_batch() -> None:
    lake = [obj(0, 20, hr="10"), obj(21, 39, hr="11")]
    plan = plan_reprocess(T, 0, 10, 30, lake, next_offset=40)
    assert plan.units == [(0, 20), (21, 39)]


def test_offsets_held_by_no_object_still_form_a_unit() -> None:
    # Skipped tombstones, say: nothing in the lake for 100..109, but below the checkpoint.
    plan = plan_reprocess(T, 0, 95, 105, [*LAKE], next_offset=110)
    assert (plan.start, plan.end) == (80, 105)
    assert plan.units == [(80, 105)]
    gap = plan_reprocess(T, 0, 101, 105, LAKE, next_offset=110)
    assert (gap.start, gap.end, gap.units, gap.old) == (101, 105, [(101, 105)], [])


def test_redriven_objects_inside_the_range_are_replaced_too() -> None:
    redriven = LakeObject(redrive_name(obj(5, 5).key), 5, 33, "redrive")
    plan = plan_reprocess(T, 0, 0, 0, [*LAKE, redriven], next_offset=100)
    assert redriven.key in plan.old
    assert plan.units == [(0, 39)]


@pytest.mark.parametrize("start,end", [(90, 100), (100, 120)])
def test_a_range_reaching_the_checkpoint_is_refused(start: int, end: int) -> None:
    with pytest.raises(ReprocessError, match="running sink"):
        plan_reprocess(T, 0, start, end, LAKE, next_offset=100)


def test_an_object_reaching_beyond_the_checkpoint_is_refused() -> None:
    # A written but not yet committed cut (the sink's pending one) straddling the edge.
    with pytest.raises(ReprocessError, match="beyond the checkpoint"):
        plan_reprocess(T, 0, 95, 98, [*LAKE, obj(96, 130)], next_offset=100)


def test_an_empty_range_is_refused() -> None:
    with pytest.raises(ReprocessError, match="empty"):
        plan_reprocess(T, 0, 10, 9, LAKE, next_offset=100)


def test_the_plan_round_trips_through_its_json() -> None:
    plan = plan_reprocess(T, 0, 30, 85, LAKE, next_offset=100)
    assert Plan.from_bytes(plan.to_bytes()) == plan


def test_redriven_names_and_markers_are_derived_from_the_dead_letter_coordinates() -> None:
    key = f"bronze/orders/dt=2026-01-01/hr=10/{T}+2+{7:019d}.parquet"
    assert redrive_name(key) == f"bronze/orders/dt=2026-01-01/hr=10/redrive+{T}+2+{7:019d}.parquet"
    dlq = f"dlq/orders/dt=2026-01-01/hr=10/{T}+2+{7:019d}.parquet"
    assert marker_key(dlq) == f"_redriven/orders/dt=2026-01-01/hr=10/{T}+2+{7:019d}.json"
