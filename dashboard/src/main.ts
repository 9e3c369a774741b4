/** The page's wiring: polls the sink (through the dashboard server) every few seconds, the
 * pipeline ledger every 15 s and gold every minute (and at once when the reader picks
 * another grain for GMV), keeps the last hour of readings, renders. Read-only: GETs only. */

import "./style.css";
import { ApiFailure, getJson, getText } from "./api";
import { renderLedger } from "./ledger";
import { type Counters, counters, History, partitionRows, rates, topicRows, totalLag } from "./live";
import { parseExposition } from "./prometheus";
import type {
  GoldDelivery,
  GoldReviews,
  GoldSales,
  GoldSellers,
  GoldSummary,
  PipelineBatches,
  PipelineFreshness,
  PipelineRuns,
  SinkStatus,
} from "./types";
import { pickedGrain, renderGold, renderLive } from "./view";

const LIVE_MS = 3_000;
const LEDGER_MS = 15_000;
const GOLD_MS = 60_000;
const RECENT_BATCHES = 15;
const RECENT_RUNS = 10;

const history = new History();
let previous: Counters | null = null;
let liveTicks = 0;
let goldAsked = 0; // the latest gold request: an older answer arriving later is not shown

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

async function ledgerTick(root: HTMLElement): Promise<void> {
  try {
    const [freshness, batches, runs] = await Promise.all([
      getJson<PipelineFreshness>("/api/pipeline/freshness"),
      getJson<PipelineBatches>(`/api/pipeline/batches?limit=${RECENT_BATCHES}`),
      getJson<PipelineRuns>(`/api/pipeline/runs?limit=${RECENT_RUNS}`),
    ]);
    renderLedger(root, { freshness, batches, runs, failure: null, nowS: freshness.now });
  } catch (reason) {
    renderLedger(root, { freshness: null, batches: null, runs: null, failure: failure(reason), nowS: Date.now() / 1000 });
  }
  document.body.dataset.ledgerLoaded = "true";
}

async function goldTick(root: HTMLElement): Promise<void> {
  const asked = ++goldAsked;
  const grain = pickedGrain(root);
  document.body.dataset.goldLoaded = "false";
  try {
    const [summary, sales, delivery, sellers, reviews] = await Promise.all([
      getJson<GoldSummary>("/api/gold/summary"),
      getJson<GoldSales>(`/api/gold/sales?grain=${grain}`),
      getJson<GoldDelivery>("/api/gold/delivery"),
      getJson<GoldSellers>("/api/gold/sellers?limit=10"),
      getJson<GoldReviews>("/api/gold/reviews"),
    ]);
    if (asked !== goldAsked) return;
    renderGold(root, { summary, sales, delivery, sellers, reviews, failure: null });
  } catch (reason) {
    if (asked !== goldAsked) return;
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
const ledger = document.getElementById("ledger");
const gold = document.getElementById("gold");
if (live !== null && ledger !== null && gold !== null) {
  every(LIVE_MS, () => liveTick(live));
  every(LEDGER_MS, () => ledgerTick(ledger));
  every(GOLD_MS, () => goldTick(gold));
  document.getElementById("gmv-grain")?.addEventListener("change", () => {
    goldTick(gold).catch((exc: unknown) => console.error(exc));
  });
}
