/** The page's wiring: polls the sink (through the dashboard server) every few seconds and
 * gold every minute, keeps the last hour of readings, renders. Read-only: GETs only. */

import "./style.css";
import { ApiFailure, getJson, getText } from "./api";
import { type Counters, counters, History, partitionRows, rates, topicRows, totalLag } from "./live";
import { parseExposition } from "./prometheus";
import type { GoldDelivery, GoldReviews, GoldSales, GoldSellers, GoldSummary, SinkStatus } from "./types";
import { renderGold, renderLive } from "./view";

const LIVE_MS = 3_000;
const GOLD_MS = 60_000;

const history = new History();
let previous: Counters | null = null;
let liveTicks = 0;

function failure(reason: unknown): ApiFailure {
  return reason instanceof ApiFailure ? reason : new ApiFailure("failed", String(reason));
}

async function liveTick(root: HTMLElement): Promise<void> {
  const [status, metrics] = await Promise.allSettled([getJson<SinkStatus>("/status"), getText("/metrics")]);
  const now = Date.now();
  if (status.status === "rejected") {
    previous = null;
    renderLive(root, { status: null, failure: failure(status.reason), topics: [], partitions: [], rates: null, lag: null, history, nowMs: now });
  } else {
    const current = metrics.status === "fulfilled" ? counters(parseExposition(metrics.value), now) : null;
    const total = current === null ? null : rates(previous, current);
    const lag = totalLag(status.value);
    history.push({ atMs: now, lag, inPerS: total?.inPerS ?? null, outPerS: total?.outPerS ?? null, deadPerS: total?.deadPerS ?? null });
    renderLive(root, {
      status: status.value,
      failure: null,
      topics: topicRows(status.value, previous, current),
      partitions: partitionRows(status.value),
      rates: total,
      lag,
      history,
      nowMs: now,
    });
    previous = current;
    const version = document.getElementById("version");
    if (version !== null && status.value.version) version.textContent = `sink ${status.value.version}`;
  }
  liveTicks += 1;
  document.body.dataset.liveTicks = String(liveTicks);
  const updated = document.getElementById("updated");
  if (updated !== null) updated.textContent = `updated ${new Date(now).toLocaleTimeString("en-GB")}`;
}

async function goldTick(root: HTMLElement): Promise<void> {
  try {
    const [summary, sales, delivery, sellers, reviews] = await Promise.all([
      getJson<GoldSummary>("/api/gold/summary"),
      getJson<GoldSales>("/api/gold/sales"),
      getJson<GoldDelivery>("/api/gold/delivery"),
      getJson<GoldSellers>("/api/gold/sellers?limit=10"),
      getJson<GoldReviews>("/api/gold/reviews"),
    ]);
    renderGold(root, { summary, sales, delivery, sellers, reviews, failure: null });
  } catch (reason) {
    renderGold(root, { summary: null, sales: null, delivery: null, sellers: null, reviews: null, failure: failure(reason) });
  }
  document.body.dataset.goldLoaded = "true";
}

function every(ms: number, tick: () => Promise<void>): void {
  const run = (): void => {
    tick()
      .catch((exc: unknown) => console.error(exc))
      .finally(() => window.setTimeout(run, ms));
  };
  run();
}

const live = document.getElementById("live");
const gold = document.getElementById("gold");
if (live !== null && gold !== null) {
  every(LIVE_MS, () => liveTick(live));
  every(GOLD_MS, () => goldTick(gold));
}
