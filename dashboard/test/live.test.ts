import { describe, expect, it } from "vitest";
import { counters, History, partitionRows, rates, topicRows, totalLag } from "../src/live";
import { parseExposition } from "../src/prometheus";
import { partition, status } from "./fixtures";

function scrape(atMs: number, consumed: Record<string, number>, written: Record<string, number>, dead: Record<string, number>) {
  const lines = [
    ...Object.entries(consumed).map(([t, v]) => `nexus_sink_records_consumed_total{topic="${t}"} ${v}`),
    ...Object.entries(written).map(([t, v]) => `nexus_sink_records_written_total{topic="${t}"} ${v}`),
    ...Object.entries(dead).map(([t, v]) => `nexus_sink_records_dead_lettered_total{topic="${t}"} ${v}`),
  ];
  return counters(parseExposition(lines.join("\n")), atMs);
}

describe("rates", () => {
  const a = scrape(0, { o: 100, c: 50 }, { o: 90, c: 50 }, { o: 0, c: 0 });
  const b = scrape(2000, { o: 300, c: 70 }, { o: 280, c: 60 }, { o: 10, c: 2 });

  it("is the counters' increase per second, all topics or one", () => {
    expect(rates(a, b)).toEqual({ inPerS: 110, outPerS: (190 + 10 + 10 + 2) / 2, deadPerS: 6 });
    expect(rates(a, b, "o")).toEqual({ inPerS: 100, outPerS: 100, deadPerS: 5 });
  });

  it("is unknown without an earlier scrape or when no time passed", () => {
    expect(rates(null, b)).toBeNull();
    expect(rates(b, b)).toBeNull();
  });

  it("treats a counter that went down as restarted from zero", () => {
    const restarted = scrape(4000, { o: 40, c: 70 }, { o: 280, c: 60 }, { o: 10, c: 2 });
    expect(rates(b, restarted, "o")?.inPerS).toBe(20);
  });
});

describe("rows from /status", () => {
  const s = status([
    partition("olist.orders.v1", 1, { offset_lag: 7, high_water: 107, buffered: 7 }),
    partition("olist.customers.v1", 0, { failures: 2 }),
    partition("olist.orders.v1", 0, { offset_lag: 3, high_water: 103, in_flight: true, last_flush: 1700000000 }),
    partition("olist.customers.v1", 1, { paused: true }),
  ]);

  it("sorts partitions by topic then number and names their state", () => {
    const rows = partitionRows(s);
    expect(rows.map((r) => `${r.topic}/${r.partition}`)).toEqual([
      "olist.customers.v1/0",
      "olist.customers.v1/1",
      "olist.orders.v1/0",
      "olist.orders.v1/1",
    ]);
    expect(rows.map((r) => r.state)).toEqual(["failing ×2", "paused", "writing", "buffering"]);
    expect(rows[2]).toMatchObject({ lag: 3, highWater: 103, lastFlush: 1700000000 });
  });

  it("gives each topic its partitions, lag sum and maximum, and rates", () => {
    const prev = scrape(0, { "olist.orders.v1": 0 }, {}, {});
    const cur = scrape(1000, { "olist.orders.v1": 50 }, { "olist.orders.v1": 40 }, {});
    const rows = topicRows(s, prev, cur);
    expect(rows.map((r) => [r.topic, r.partitions, r.sumLag, r.maxLag])).toEqual([
      ["olist.customers.v1", 2, 0, 0],
      ["olist.orders.v1", 2, 10, 7],
    ]);
    expect(rows[1]?.rates).toEqual({ inPerS: 50, outPerS: 40, deadPerS: 0 });
    expect(topicRows(s, null, null)[0]?.rates).toBeNull();
  });

  it("adds the lag of every partition", () => {
    expect(totalLag(s)).toBe(10);
    expect(totalLag(status([]))).toBe(0);
  });
});

describe("History", () => {
  it("keeps the readings of the window, oldest first", () => {
    const h = new History(10_000);
    for (const t of [0, 4000, 8000, 12000, 16000]) h.push({ atMs: t, lag: t / 1000, inPerS: null, outPerS: 1, deadPerS: 0 });
    expect(h.readings.map((r) => r.atMs)).toEqual([8000, 12000, 16000]);
    expect(h.series((r) => r.lag)).toEqual([
      { t: 8000, v: 8 },
      { t: 12000, v: 12 },
      { t: 16000, v: 16 },
    ]);
  });

  it("leaves unknown values out of a series and ignores readings out of order", () => {
    const h = new History();
    h.push({ atMs: 5, lag: 1, inPerS: null, outPerS: null, deadPerS: null });
    h.push({ atMs: 3, lag: 2, inPerS: 4, outPerS: 4, deadPerS: 0 });
    h.push({ atMs: 9, lag: 3, inPerS: 6, outPerS: 5, deadPerS: 1 });
    expect(h.series((r) => r.inPerS)).toEqual([{ t: 9, v: 6 }]);
    expect(h.readings).toHaveLength(2);
  });
});
