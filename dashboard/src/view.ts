/** Rendering: the live section and the gold section, each with its empty and error states.
 * Text goes in through textContent only; nothing from the server becomes markup. */

import type { ApiFailure } from "./api";
import { type Bar, type Box, barList, lineChart } from "./charts";
import {
  formatAgo,
  formatInt,
  formatMoney,
  formatPercent,
  formatRate,
  formatScore,
  formatSeconds,
} from "./format";
import { type History, HOUR_MS, type PartitionRow, type Rates, type TopicRow } from "./live";
import type { GoldDelivery, GoldReviews, GoldSales, GoldSellers, GoldSummary, Grain, SinkStatus } from "./types";

export type SectionState = "loading" | "ok" | "empty" | "error" | "not-built" | "not-configured";

export interface Message {
  state: SectionState;
  title: string;
  detail: string;
}

/** What the live section says above its numbers, if anything. */
export function liveMessage(status: SinkStatus | null, failure: ApiFailure | null): Message {
  if (failure !== null) {
    const title =
      failure.kind === "server_unreachable" ? "Dashboard server unreachable" : "Sink unreachable";
    return { state: "error", title, detail: failure.message };
  }
  if (status === null) return { state: "loading", title: "Waiting for the sink…", detail: "" };
  if (status.partitions.length === 0) {
    return {
      state: "empty",
      title: "No data yet",
      detail: "The sink answers but owns no partitions yet: it is joining its consumer group, or the topics are empty.",
    };
  }
  return { state: "ok", title: "", detail: "" };
}

/** What the gold section says above its numbers, if anything. */
export function goldMessage(summary: GoldSummary | null, failure: ApiFailure | null): Message {
  if (failure !== null) {
    if (failure.kind === "gold_not_built") return { state: "not-built", title: "Gold is not built yet", detail: failure.message };
    const title = failure.kind === "server_unreachable" ? "Dashboard server unreachable" : "Gold cannot be read";
    return { state: "error", title, detail: failure.message };
  }
  if (summary === null) return { state: "loading", title: "Reading gold…", detail: "" };
  if (summary.orders === 0) {
    return { state: "empty", title: "No orders in gold yet", detail: "The gold tables exist but hold no sales: replay data and run the transform." };
  }
  return { state: "ok", title: "", detail: "" };
}

export function byId(root: ParentNode, id: string): HTMLElement {
  const node = root.querySelector<HTMLElement>(`#${id}`);
  if (node === null) throw new Error(`the page lacks #${id}`);
  return node;
}

export function showMessage(root: HTMLElement, box: HTMLElement, m: Message): void {
  root.dataset.state = m.state;
  box.hidden = m.title === "";
  box.className = `message ${m.state}`;
  box.replaceChildren();
  if (m.title !== "") {
    const strong = document.createElement("strong");
    strong.textContent = m.title;
    const detail = document.createElement("span");
    detail.textContent = m.detail;
    box.append(strong, detail);
  }
}

function setCard(root: ParentNode, id: string, value: number | null, text: string): void {
  const card = byId(root, id);
  card.textContent = text;
  if (value === null) delete card.dataset.value;
  else card.dataset.value = String(value);
}

export function cell(text: string, cls: string, value?: number | string | null): HTMLTableCellElement {
  const td = document.createElement("td");
  td.className = cls;
  td.textContent = text;
  if (value !== undefined && value !== null) td.dataset.value = String(value);
  return td;
}

export interface LiveView {
  status: SinkStatus | null;
  failure: ApiFailure | null;
  topics: TopicRow[];
  partitions: PartitionRow[];
  rates: Rates | null;
  lag: number | null;
  history: History;
  nowMs: number;
}

/** The span the live charts show: what the page has seen, at least a minute, at most an hour. */
export function chartWindow(history: History, nowMs: number): [number, number] {
  const first = history.readings[0]?.atMs ?? nowMs;
  return [Math.max(nowMs - HOUR_MS, Math.min(first, nowMs - 60_000)), nowMs];
}

export function renderLive(root: HTMLElement, v: LiveView): void {
  showMessage(root, byId(root, "live-message"), liveMessage(v.status, v.failure));
  const stale = v.failure !== null;
  setCard(root, "card-lag", stale ? null : v.lag, stale ? "–" : formatInt(v.lag));
  setCard(root, "card-in", stale ? null : (v.rates?.inPerS ?? null), stale ? "–" : formatRate(v.rates?.inPerS));
  setCard(root, "card-out", stale ? null : (v.rates?.outPerS ?? null), stale ? "–" : formatRate(v.rates?.outPerS));
  setCard(root, "card-dead", stale ? null : (v.rates?.deadPerS ?? null), stale ? "–" : formatRate(v.rates?.deadPerS));

  const h = v.history;
  const [t0, t1] = chartWindow(h, v.nowMs);
  byId(root, "chart-lag-box").replaceChildren(
    lineChart("chart-lag", "Offset lag, all partitions, last hour", [{ name: "lag", cls: "s-lag", points: h.series((r) => r.lag) }], t0, t1),
  );
  byId(root, "chart-rates-box").replaceChildren(
    lineChart(
      "chart-rates",
      "Events per second in and out, last hour",
      [
        { name: "in", cls: "s-in", points: h.series((r) => r.inPerS) },
        { name: "out", cls: "s-out", points: h.series((r) => r.outPerS) },
      ],
      t0,
      t1,
    ),
  );
  byId(root, "chart-dead-box").replaceChildren(
    lineChart("chart-dead", "Dead letters per second, last hour", [{ name: "dead", cls: "s-dead", points: h.series((r) => r.deadPerS) }], t0, t1),
  );

  const topics = byId(root, "topics");
  topics.replaceChildren(
    ...v.topics.map((t) => {
      const tr = document.createElement("tr");
      tr.dataset.topic = t.topic;
      tr.append(
        cell(t.topic, "name"),
        cell(formatInt(t.partitions), "num"),
        cell(formatInt(t.sumLag), "num sum-lag", t.sumLag),
        cell(formatInt(t.maxLag), "num max-lag", t.maxLag),
        cell(formatSeconds(t.timeLagS), "num time-lag", t.timeLagS),
        cell(formatRate(t.rates?.inPerS), "num in", t.rates?.inPerS),
        cell(formatRate(t.rates?.outPerS), "num out", t.rates?.outPerS),
        cell(formatRate(t.rates?.deadPerS), "num dead", t.rates?.deadPerS),
      );
      return tr;
    }),
  );

  const nowS = v.nowMs / 1000;
  byId(root, "partitions").replaceChildren(
    ...v.partitions.map((p) => {
      const tr = document.createElement("tr");
      tr.dataset.topic = p.topic;
      tr.dataset.partition = String(p.partition);
      tr.append(
        cell(p.topic, "name"),
        cell(String(p.partition), "num"),
        cell(formatInt(p.committed), "num committed", p.committed),
        cell(p.highWater === null ? "–" : formatInt(p.highWater), "num high-water", p.highWater),
        cell(formatInt(p.lag), "num lag", p.lag),
        cell(formatInt(p.buffered), "num buffered", p.buffered),
        cell(formatAgo(p.lastFlush, nowS), "last-flush", p.lastFlush),
        cell(p.state, `state ${p.state.startsWith("failing") ? "bad" : ""}`),
      );
      return tr;
    }),
  );
}

export interface GoldView {
  summary: GoldSummary | null;
  sales: GoldSales | null;
  delivery: GoldDelivery | null;
  sellers: GoldSellers | null;
  reviews: GoldReviews | null;
  failure: ApiFailure | null;
}

/** Bars of on-time delivery rate by state, best first (states with no delivered order left out). */
export function onTimeBars(delivery: GoldDelivery): Bar[] {
  return delivery.by_state
    .filter((s) => s.on_time_rate !== null && s.delivered_orders > 0)
    .map((s) => ({
      key: s.state,
      label: s.state,
      value: s.on_time_rate as number,
      text: formatPercent(s.on_time_rate),
      note: `${formatInt(s.delivered_orders)} delivered${s.avg_days_late === null ? "" : `, late ones ${s.avg_days_late.toFixed(1)} d late`}`,
    }));
}

export function gmvBars(sales: GoldSales, top = 10): Bar[] {
  return sales.by_state.slice(0, top).map((s) => ({
    key: s.state,
    label: s.state,
    value: s.gmv,
    text: formatMoney(s.gmv),
    note: `${formatInt(s.orders)} orders`,
  }));
}

export function reviewBars(reviews: GoldReviews): Bar[] {
  return reviews.scores.map((s) => ({
    key: String(s.score),
    label: "★".repeat(s.score),
    value: s.orders,
    text: formatInt(s.orders),
    note: formatPercent(reviews.total > 0 ? s.orders / reviews.total : null),
  }));
}

const WIDE: Box = { width: 1200, height: 220, pad: { left: 48, right: 8, top: 8, bottom: 20 } };

/** The grain the reader picked for GMV over time (the checked radio button), day if none. */
export function pickedGrain(root: ParentNode): Grain {
  const picked = root.querySelector<HTMLInputElement>('input[name="gmv-grain"]:checked')?.value;
  return picked === "week" || picked === "month" ? picked : "day";
}

function showGrain(root: ParentNode, grain: Grain): void {
  root.querySelectorAll<HTMLInputElement>('input[name="gmv-grain"]').forEach((input) => {
    input.checked = input.value === grain;
  });
}

function dayMs(date: string): number {
  return Date.parse(`${date}T00:00:00Z`);
}

export function renderGold(root: HTMLElement, v: GoldView): void {
  const m = goldMessage(v.summary, v.failure);
  showMessage(root, byId(root, "gold-message"), m);
  byId(root, "gold-body").hidden = m.state !== "ok";
  if (m.state !== "ok" || v.summary === null) return;
  const s = v.summary;
  setCard(root, "gold-orders", s.orders, formatInt(s.orders));
  setCard(root, "gold-gmv", s.gmv, formatMoney(s.gmv));
  setCard(root, "gold-delivered", s.delivered_orders, formatInt(s.delivered_orders));
  setCard(root, "gold-on-time", s.on_time_rate, formatPercent(s.on_time_rate));
  byId(root, "gold-days").textContent = s.first_day === null ? "" : `${s.first_day} to ${s.last_day}`;

  if (v.sales !== null) {
    const grain = v.sales.grain;
    const periods = v.sales.by_period;
    const points = periods.map((d) => ({ t: dayMs(d.start), v: d.gmv }));
    const t0 = points[0]?.t ?? 0;
    const t1 = points.at(-1)?.t ?? 1;
    const title = `GMV by purchase ${grain}`;
    const chart = lineChart("chart-gmv", title, [{ name: "gmv", cls: "s-gmv", points }], t0, t1, WIDE);
    chart.dataset.grain = grain;
    chart.querySelectorAll("text.axis").forEach((t) => {
      if (t.textContent === "now") t.textContent = periods.at(-1)?.start ?? "";
      else if (t.textContent?.startsWith("−")) t.textContent = periods[0]?.start ?? "";
    });
    byId(root, "chart-gmv-box").replaceChildren(chart);
    byId(root, "gmv-caption").textContent = title;
    showGrain(root, grain);
    byId(root, "gmv-by-state-box").replaceChildren(barList("gmv-by-state", gmvBars(v.sales)));
  }
  if (v.delivery !== null) {
    byId(root, "on-time-box").replaceChildren(barList("on-time-by-state", onTimeBars(v.delivery), 1));
  }
  if (v.reviews !== null) {
    byId(root, "reviews-box").replaceChildren(barList("reviews", reviewBars(v.reviews)));
  }
  if (v.sellers !== null) {
    byId(root, "sellers").replaceChildren(
      ...v.sellers.sellers.map((x) => {
        const tr = document.createElement("tr");
        tr.dataset.seller = x.seller_id;
        tr.append(
          cell(x.seller_id.slice(0, 12), "name mono", x.seller_id),
          cell([x.city, x.state].filter((p) => p).join(", "), "place"),
          cell(formatMoney(x.revenue), "num revenue", x.revenue),
          cell(formatInt(x.orders), "num orders", x.orders),
          cell(formatScore(x.avg_review_score), "num review", x.avg_review_score),
          cell(formatPercent(x.late_shipping_rate), "num late", x.late_shipping_rate),
        );
        return tr;
      }),
    );
  }
}
