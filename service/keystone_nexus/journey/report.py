"""The journey's summary, as a person wants to read it: pure formatting of a JourneyResult."""

from __future__ import annotations

from keystone_nexus.contracts import entities as contracts
from keystone_nexus.journey.run import JourneyResult

RULE = "-" * 72


def _pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.2f}%" if whole else "-"


def render(result: JourneyResult) -> str:
    via = result.via
    out = [
        RULE,
        f"Keystone Nexus journey: Olist scale {result.options.scale} (seed {result.options.seed})",
        RULE,
    ]
    out.append(f"events through the {result.server}")
    out.append(f"  {'entity':<22}{'sent':>10}{'accepted':>10}{'rejected':>10}{'bronze rows':>13}{'dead':>6}")
    for spec in contracts.entities():
        name = spec.name
        out.append(
            f"  {name:<22}{via.sent[name]:>10,}{via.accepted[name]:>10,}{via.rejected[name]:>10,}"
            f"{result.lake.bronze_rows[name]:>13,}{result.lake.dlq_rows[name]:>6,}"
        )
    bad_accepted = sum(a for _, a, _ in result.bad_events)
    out.append(
        f"  {'bad events':<22}{len(result.bad_events):>10,}{bad_accepted:>10,}"
        f"{len(result.bad_events) - bad_accepted:>10,}"
    )
    out.append(
        f"  {'total':<22}{result.sent:>10,}{result.accepted:>10,}{result.rejected:>10,}"
        f"{result.bronze_rows:>13,}{result.dead_lettered:>6,}"
    )
    out.append(
        f"  + {len(result.bad_records)} malformed records produced straight to the topics (past the server)"
    )
    balanced = result.in_kafka == result.bronze_rows + result.dead_lettered
    out.append(
        f"  accounting: {result.accepted:,} accepted + {len(result.bad_records)} straight = "
        f"{result.in_kafka:,} in Kafka; {result.bronze_rows:,} in bronze + {result.dead_lettered:,} "
        f"dead-lettered = {result.bronze_rows + result.dead_lettered:,}  "
        f"{'(balanced)' if balanced else '(NOT BALANCED)'}"
    )
    out.append("")
    out.append("rejected at the ingestion server")
    for defect, accepted, reason in result.bad_events:
        out.append(f"  {defect:<46} {'ACCEPTED' if accepted else reason}")
    out.append("dead-lettered by the bronze sink (entity: reason)")
    for (entity, reason), count in result.lake.dlq_reasons.most_common():
        out.append(f"  {count:>4} {entity}: {reason}")
    if result.gold is not None:
        g = result.gold
        out += ["", f"gold: {g.orders:,} orders sold, GMV R$ {g.gmv:,.2f}"]
        out.append("  GMV by customer state, top 5")
        for s in g.top_states:
            out.append(f"    {s.state}  R$ {s.gmv:>14,.2f}  {s.orders:>7,} orders  {_pct(s.gmv, g.gmv)}")
        if g.on_time_rate is not None:
            out.append(f"  on-time delivery: {g.on_time_rate:.1%} of {g.delivered_orders:,} delivered orders")
        out.append(f"  sellers by average review (at least {g.min_seller_orders} orders)")
        for label, sellers in (("best ", g.best_sellers), ("worst", g.worst_sellers)):
            for seller in sellers:
                out.append(
                    f"    {label} {seller.seller_id}  {seller.state}  {seller.avg_review_score:.2f}"
                    f"  ({seller.orders} orders)"
                )
    if result.transform is not None:
        t = result.transform
        out.append(
            f"  dbt: {t.tests_passed}/{t.tests_total} tests passed; Great Expectations: "
            f"{'all checkpoints passed' if t.gx_success else 'FAILED'}"
        )
    out += ["", "timings"]
    out.append("  " + ", ".join(f"{stage} {s:.1f} s" for stage, s in result.seconds.items()))
    out.append(f"  total {sum(result.seconds.values()):.1f} s")
    if result.samples:
        peak = max(result.samples, key=lambda s: s.offset_lag)
        out.append(f"  sink: peak lag {peak.offset_lag:,} records at {peak.t_s:.0f} s after it started")
    out += ["", "where to look"]
    labels = {
        "status": "/status (while the sink ran)",
        "lake": "lake",
        "duckdb": "DuckDB file",
        "data docs": "GX Data Docs",
        "dataset": "generated dataset",
        "logs": "logs",
    }
    for key, label in labels.items():
        if result.paths.get(key):
            out.append(f"  {label:<30}{result.paths[key]}")
    out.append(RULE)
    return "\n".join(out)
