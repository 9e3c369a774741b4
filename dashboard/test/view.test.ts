import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeEach, describe, expect, it } from "vitest";
import { ApiFailure } from "../src/api";
import { History, partitionRows, topicRows, totalLag } from "../src/live";
import type { GoldView, LiveView } from "../src/view";
import { chartWindow, goldMessage, liveMessage, onTimeBars, pickedGrain, renderGold, renderLive, reviewBars } from "../src/view";
import { partition, status } from "./fixtures";

const PAGE = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "index.html"), "utf8");
const NOW = 1_700_000_000_000;

function live(over: Partial<LiveView>): LiveView {
  return { status: null, failure: null, topics: [], partitions: [], rates: null, lag: null, history: new History(), nowMs: NOW, ...over };
}

function gold(over: Partial<GoldView>): GoldView {
  return { summary: null, sales: null, delivery: null, sellers: null, reviews: null, failure: null, ...over };
}

const el = (id: string) => document.getElementById(id) as HTMLElement;

beforeEach(() => {
  document.body.innerHTML = new DOMParser().parseFromString(PAGE, "text/html").body.innerHTML;
});

describe("the live section", () => {
  it("shows the sink's partitions, lag and last flush", () => {
    const s = status([
      partition("olist.orders.v1", 0, { offset_lag: 12, high_water: 112, last_flush: NOW / 1000 - 30 }),
      partition("olist.orders.v1", 1, { offset_lag: 1234, high_water: 1334 }),
    ]);
    const history = new History();
    history.push({ atMs: NOW - 3000, lag: 5, inPerS: null, outPerS: null, deadPerS: null });
    history.push({ atMs: NOW, lag: totalLag(s), inPerS: 10, outPerS: 8, deadPerS: 0.5 });
    renderLive(el("live"), live({
      status: s,
      topics: topicRows(s, null, null),
      partitions: partitionRows(s),
      rates: { inPerS: 10, outPerS: 8, deadPerS: 0.5 },
      lag: totalLag(s),
      history,
    }));
    expect(el("live").dataset.state).toBe("ok");
    expect(el("live-message").hidden).toBe(true);
    expect(el("card-lag").textContent).toBe("1,246");
    expect(el("card-lag").dataset.value).toBe("1246");
    expect(el("card-dead").textContent).toBe("0.5");
    const rows = [...document.querySelectorAll<HTMLElement>("#partitions tr")];
    expect(rows.map((r) => r.querySelector(".lag")?.textContent)).toEqual(["12", "1,234"]);
    expect(rows[0]?.querySelector(".last-flush")?.textContent).toBe("30 s ago");
    expect(rows[1]?.querySelector(".last-flush")?.textContent).toBe("never");
    expect(document.querySelector('#topics tr[data-topic="olist.orders.v1"] .sum-lag')?.textContent).toBe("1,246");
    expect(el("chart-lag").getAttribute("data-last")).toBe("1246");
    expect(document.querySelectorAll("#chart-rates path")).toHaveLength(2);
  });

  it("says the sink is unreachable and shows no stale numbers", () => {
    const failure = new ApiFailure("sink_unreachable", "the sink's health server at http://127.0.0.1:8787/status did not answer");
    renderLive(el("live"), live({ failure }));
    expect(el("live").dataset.state).toBe("error");
    expect(el("live-message").hidden).toBe(false);
    expect(el("live-message").textContent).toContain("Sink unreachable");
    expect(el("live-message").textContent).toContain("8787/status");
    expect(el("card-lag").textContent).toBe("–");
    expect(el("card-lag").dataset.value).toBeUndefined();
  });

  it("says there is no data yet while the sink owns no partition", () => {
    renderLive(el("live"), live({ status: status([]), lag: 0 }));
    expect(el("live").dataset.state).toBe("empty");
    expect(el("live-message").textContent).toContain("No data yet");
    expect(document.querySelectorAll("#partitions tr")).toHaveLength(0);
  });

  it("puts names in as text, never as markup", () => {
    const s = status([partition('<img src=x onerror="alert(1)">', 0)]);
    renderLive(el("live"), live({ status: s, topics: topicRows(s, null, null), partitions: partitionRows(s), lag: 0 }));
    expect(document.querySelector("#partitions img")).toBeNull();
    expect(document.querySelector("#partitions .name")?.textContent).toContain("<img");
  });

  it("names the dashboard server when it is the one down", () => {
    expect(liveMessage(null, new ApiFailure("server_unreachable", "x")).title).toBe("Dashboard server unreachable");
    expect(liveMessage(null, null).state).toBe("loading");
  });
});

const SUMMARY = { orders: 979, gmv: 141465.27, first_day: "2016-10-31", last_day: "2018-08-31", delivered_orders: 965, on_time_rate: 0.9337 };

describe("the gold section", () => {
  it("says gold is not built and hides the numbers", () => {
    const failure = new ApiFailure("gold_not_built", "no warehouse at /x.duckdb: build gold with `nexus transform`");
    renderGold(el("gold"), gold({ failure }));
    expect(el("gold").dataset.state).toBe("not-built");
    expect(el("gold-message").textContent).toContain("Gold is not built yet");
    expect(el("gold-message").textContent).toContain("nexus transform");
    expect(el("gold-body").hidden).toBe(true);
  });

  it("says when gold holds no orders, and when it cannot be read", () => {
    expect(goldMessage({ ...SUMMARY, orders: 0, gmv: 0 }, null).state).toBe("empty");
    expect(goldMessage(null, new ApiFailure("gold_unavailable", "locked")).title).toBe("Gold cannot be read");
  });

  it("shows the summary, GMV by day and state, on-time ranking, sellers and reviews", () => {
    renderGold(el("gold"), gold({
      summary: SUMMARY,
      sales: {
        grain: "day",
        by_period: [{ start: "2017-01-01", orders: 1, gmv: 10 }, { start: "2017-01-02", orders: 2, gmv: 30.5 }],
        by_state: [{ state: "SP", orders: 2, gmv: 30.5 }, { state: "RJ", orders: 1, gmv: 10 }],
      },
      delivery: {
        by_state: [
          { state: "PE", delivered_orders: 11, on_time_rate: 1, avg_days_late: null },
          { state: "SP", delivered_orders: 400, on_time_rate: 0.95, avg_days_late: 3.5 },
          { state: "RR", delivered_orders: 0, on_time_rate: null, avg_days_late: null },
        ],
      },
      sellers: { sellers: [{ seller_id: "826456dd335371dc92bc6efdca30bc9e", city: "sao paulo", state: "SP", revenue: 49762.18, orders: 443, items: 488, avg_review_score: 3.9546, late_shipping_rate: 0.1077 }] },
      reviews: { scores: [1, 2, 3, 4, 5].map((s) => ({ score: s, orders: s * 10 })), total: 150 },
    }));
    expect(el("gold").dataset.state).toBe("ok");
    expect(el("gold-body").hidden).toBe(false);
    expect(el("gold-gmv").textContent).toBe("R$ 141,465.27");
    expect(el("gold-on-time").textContent).toBe("93.4%");
    expect(el("gold-days").textContent).toBe("2016-10-31 to 2018-08-31");
    expect([...document.querySelectorAll<HTMLElement>("#on-time-by-state li")].map((li) => li.dataset.key)).toEqual(["PE", "SP"]);
    expect(document.querySelector('#gmv-by-state li[data-key="SP"] .bar-value')?.textContent).toBe("R$ 30.50");
    expect(el("chart-gmv").getAttribute("data-last")).toBe("30.5");
    const seller = document.querySelector<HTMLElement>("#sellers tr");
    expect(seller?.querySelector(".revenue")?.textContent).toBe("R$ 49,762.18");
    expect(seller?.querySelector(".review")?.textContent).toBe("3.95");
    expect(seller?.querySelector(".late")?.textContent).toBe("10.8%");
    expect(document.querySelector('#reviews li[data-key="5"] .bar-value')?.textContent).toBe("50");
  });

  it("draws GMV by the grain of the answer and says which in the caption and the picker", () => {
    expect(pickedGrain(el("gold"))).toBe("day");
    renderGold(el("gold"), gold({
      summary: SUMMARY,
      sales: {
        grain: "month",
        by_period: [
          { start: "2017-01-01", orders: 40, gmv: 1000 },
          { start: "2017-02-01", orders: 55, gmv: 1500.5 },
          { start: "2017-03-01", orders: 20, gmv: 700 },
        ],
        by_state: [],
      },
    }));
    expect(el("chart-gmv").dataset.grain).toBe("month");
    expect(el("chart-gmv").getAttribute("data-last")).toBe("700");
    expect(document.querySelector("#chart-gmv path")?.getAttribute("d")?.split(/[ML]/).filter(Boolean)).toHaveLength(3);
    expect(el("gmv-caption").textContent).toBe("GMV by purchase month");
    const axis = [...document.querySelectorAll("#chart-gmv text.axis")].map((t) => t.textContent);
    expect(axis).toContain("2017-01-01");
    expect(axis).toContain("2017-03-01");
    expect(pickedGrain(el("gold"))).toBe("month");
  });

  it("reads the grain the reader picked", () => {
    const week = document.querySelector<HTMLInputElement>('input[name="gmv-grain"][value="week"]');
    if (week === null) throw new Error("no week button");
    week.checked = true;
    expect(pickedGrain(el("gold"))).toBe("week");
    expect([...document.querySelectorAll<HTMLInputElement>('input[name="gmv-grain"]')].map((i) => i.value)).toEqual(["day", "week", "month"]);
  });

  it("shapes on-time and review bars", () => {
    const bars = onTimeBars({ by_state: [{ state: "SP", delivered_orders: 4, on_time_rate: 0.75, avg_days_late: 2 }] });
    expect(bars).toEqual([{ key: "SP", label: "SP", value: 0.75, text: "75.0%", note: "4 delivered, late ones 2.0 d late" }]);
    const reviews = reviewBars({ scores: [{ score: 1, orders: 0 }, { score: 5, orders: 4 }], total: 4 });
    expect(reviews.map((b) => [b.label, b.note])).toEqual([["★", "0.0%"], ["★★★★★", "100.0%"]]);
  });
});

describe("the live charts' window", () => {
  it("spans what the page has seen: at least a minute, at most an hour", () => {
    const h = new History();
    expect(chartWindow(h, NOW)).toEqual([NOW - 60_000, NOW]);
    h.push({ atMs: NOW - 10 * 60_000, lag: 1, inPerS: null, outPerS: null, deadPerS: null });
    expect(chartWindow(h, NOW)).toEqual([NOW - 10 * 60_000, NOW]);
    expect(chartWindow(h, NOW + 2 * 3_600_000)).toEqual([NOW - 3_600_000 + 2 * 3_600_000, NOW + 2 * 3_600_000]);
  });
});
