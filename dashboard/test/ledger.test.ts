import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeEach, describe, expect, it } from "vitest";
import { ApiFailure } from "../src/api";
import { freshnessOf, type LedgerView, ledgerMessage, renderLedger, windowText } from "../src/ledger";
import type { LedgerBatch, LedgerRun, PipelineFreshness, TopicFreshness } from "../src/types";

const PAGE = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "index.html"), "utf8");
const NOW_S = 1_790_000_000;
const el = (id: string) => document.getElementById(id) as HTMLElement;

function topic(name: string, secondsSince: number | null, over: Partial<TopicFreshness> = {}): TopicFreshness {
  return {
    topic: name,
    entity: name.split(".")[1] ?? null,
    partitions: secondsSince === null ? 0 : 3,
    last_committed_at: secondsSince === null ? null : NOW_S - secondsSince,
    seconds_since: secondsSince,
    batches: 0,
    records: 0,
    dead_letters: 0,
    ...over,
  };
}

function freshness(topics: TopicFreshness[]): PipelineFreshness {
  return { now: NOW_S, window_s: 3600, topics };
}

const BATCH: LedgerBatch = {
  topic: "olist.orders.v1",
  partition: 2,
  first_offset: 1000,
  last_offset: 1499,
  valid_records: 498,
  dead_records: 2,
  skipped_records: 0,
  objects: 2,
  bytes: 90_000,
  owner: "sink-1",
  committed_at: NOW_S - 12,
  source: "sink",
};

const RUN: LedgerRun = {
  kind: "transform",
  run_id: "t-2026-12-03",
  status: "failed",
  started_at: NOW_S - 600,
  finished_at: NOW_S - 420,
  duration_s: 180,
  steps: 14,
  summary: {},
};

function view(over: Partial<LedgerView>): LedgerView {
  return { freshness: null, batches: null, runs: null, failure: null, nowS: NOW_S, ...over };
}

beforeEach(() => {
  document.body.innerHTML = new DOMParser().parseFromString(PAGE, "text/html").body.innerHTML;
});

describe("the ledger section", () => {
  it("says 'not configured' without a state database and shows no table", () => {
    const failure = new ApiFailure("state_not_configured", "NEXUS_STATE__DSN is not set: the pipeline ledger lives in the state database");
    renderLedger(el("ledger"), view({ failure }));
    expect(el("ledger").dataset.state).toBe("not-configured");
    expect(el("ledger-message").hidden).toBe(false);
    expect(el("ledger-message").textContent).toContain("Not configured");
    expect(el("ledger-message").textContent).toContain("NEXUS_STATE__DSN is not set");
    expect(el("ledger-body").hidden).toBe(true);
  });

  it("tells a missing schema and an unreachable database apart", () => {
    expect(ledgerMessage(null, new ApiFailure("state_not_migrated", "run `nexus state migrate`")).title).toContain("do not exist");
    expect(ledgerMessage(null, new ApiFailure("state_unavailable", "down")).state).toBe("error");
    expect(ledgerMessage(null, new ApiFailure("server_unreachable", "x")).title).toBe("Dashboard server unreachable");
    expect(ledgerMessage(null, null).state).toBe("loading");
  });

  it("shows each bronze table's last commit, freshness and last hour", () => {
    const f = freshness([
      topic("olist.orders.v1", 30, { batches: 4, records: 1234, dead_letters: 3 }),
      topic("olist.payments.v1", 1800),
      topic("olist.reviews.v1", 7200),
      topic("olist.sellers.v1", null),
    ]);
    renderLedger(el("ledger"), view({ freshness: f, batches: { batches: [BATCH] }, runs: { runs: [RUN] } }));
    expect(el("ledger").dataset.state).toBe("ok");
    expect(el("ledger-message").hidden).toBe(true);
    expect(el("ledger-body").hidden).toBe(false);
    const rows = [...document.querySelectorAll<HTMLElement>("#freshness tr")];
    expect(rows.map((r) => r.dataset.freshness)).toEqual(["fresh", "quiet", "stale", "never"]);
    const orders = rows[0];
    expect(orders?.querySelector(".entity")?.textContent).toBe("orders");
    expect(orders?.querySelector(".last-commit")?.textContent).toBe("30 s ago");
    expect(orders?.querySelector<HTMLElement>(".last-commit")?.dataset.value).toBe("30");
    expect(orders?.querySelector(".records")?.textContent).toBe("1,234");
    expect(orders?.querySelector(".dead")?.textContent).toBe("3");
    expect(rows[3]?.querySelector(".last-commit")?.textContent).toBe("never");
    expect(el("ledger-window").textContent).toBe("(batches, records and dead letters of the last hour)");

    const batch = document.querySelector<HTMLElement>("#batches tr");
    expect(batch?.dataset.first).toBe("1000");
    expect(batch?.querySelector(".offsets")?.textContent).toBe("1,000–1,499");
    expect(batch?.querySelector(".committed")?.textContent).toBe("12 s ago");
    expect(batch?.querySelector(".valid")?.textContent).toBe("498");
    expect(el("batches-empty").hidden).toBe(true);

    const run = document.querySelector<HTMLElement>("#runs tr");
    expect(run?.querySelector(".status")?.className).toContain("bad");
    expect(run?.querySelector(".took")?.textContent).toBe("3 min");
    expect(run?.querySelector(".started")?.textContent).toBe("10 min ago");
    expect(el("runs-empty").hidden).toBe(true);
  });

  it("says so when no batch was recorded yet, still listing the tables", () => {
    renderLedger(el("ledger"), view({ freshness: freshness([topic("olist.orders.v1", null)]), batches: { batches: [] }, runs: { runs: [] } }));
    expect(el("ledger").dataset.state).toBe("empty");
    expect(el("ledger-message").textContent).toContain("No batch recorded yet");
    expect(document.querySelectorAll("#freshness tr")).toHaveLength(1);
    expect(el("batches-empty").hidden).toBe(false);
    expect(el("runs-empty").hidden).toBe(false);
  });

  it("marks a run still going as running", () => {
    renderLedger(el("ledger"), view({ freshness: freshness([topic("olist.orders.v1", 5)]), runs: { runs: [{ ...RUN, status: "succeeded", finished_at: null, duration_s: null }] } }));
    const run = document.querySelector<HTMLElement>("#runs tr");
    expect(run?.querySelector(".took")?.textContent).toBe("running");
    expect(run?.querySelector(".status")?.className).not.toContain("bad");
  });

  it("puts names in as text, never as markup", () => {
    renderLedger(el("ledger"), view({ freshness: freshness([topic('<img src=x onerror="alert(1)">', 5)]) }));
    expect(document.querySelector("#freshness img")).toBeNull();
  });

  it("says the window in words", () => {
    expect([3600, 21_600, 1800, 90].map(windowText)).toEqual(["hour", "6 hours", "30 min", "90 s"]);
  });

  it("draws the line between fresh, quiet and stale", () => {
    expect(freshnessOf(topic("t", 300), 3600)).toBe("fresh");
    expect(freshnessOf(topic("t", 301), 3600)).toBe("quiet");
    expect(freshnessOf(topic("t", 3600), 3600)).toBe("quiet");
    expect(freshnessOf(topic("t", 3601), 3600)).toBe("stale");
    expect(freshnessOf(topic("t", null), 3600)).toBe("never");
  });
});
