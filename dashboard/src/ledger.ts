/** The ledger section: bronze freshness per topic, the recent batches and the recent runs,
 * read from the pipeline ledger in PostgreSQL (/api/pipeline/*). Without a state database
 * the section says "not configured" and shows nothing else. */

import type { ApiFailure } from "./api";
import { formatAgo, formatInt, formatSeconds } from "./format";
import type { LedgerBatch, LedgerRun, PipelineBatches, PipelineFreshness, PipelineRuns, TopicFreshness } from "./types";
import { byId, cell, type Message, showMessage } from "./view";

/** A topic that committed within this many seconds is fresh. */
export const FRESH_S = 300;

export type Freshness = "fresh" | "quiet" | "stale" | "never";

/** Fresh: committed in the last five minutes; quiet: within the window (an hour); stale:
 * not within it; never: no batch recorded. */
export function freshnessOf(t: TopicFreshness, windowS: number): Freshness {
  if (t.seconds_since === null) return "never";
  if (t.seconds_since <= FRESH_S) return "fresh";
  return t.seconds_since <= windowS ? "quiet" : "stale";
}

/** What the ledger section says above its tables, if anything. */
export function ledgerMessage(freshness: PipelineFreshness | null, failure: ApiFailure | null): Message {
  if (failure !== null) {
    switch (failure.kind) {
      case "state_not_configured":
        return { state: "not-configured", title: "Not configured", detail: failure.message };
      case "state_not_migrated":
        return { state: "not-built", title: "The ledger's tables do not exist yet", detail: failure.message };
      case "server_unreachable":
        return { state: "error", title: "Dashboard server unreachable", detail: failure.message };
      default:
        return { state: "error", title: "The ledger cannot be read", detail: failure.message };
    }
  }
  if (freshness === null) return { state: "loading", title: "Reading the ledger…", detail: "" };
  if (freshness.topics.every((t) => t.last_committed_at === null)) {
    return { state: "empty", title: "No batch recorded yet", detail: "The ledger is there but holds no committed batch: is the sink running with NEXUS_STATE__DSN?" };
  }
  return { state: "ok", title: "", detail: "" };
}

/** The window in words: "hour", "6 hours", else as seconds of lag read ("90 s", "30 min"). */
export function windowText(seconds: number): string {
  if (seconds === 3600) return "hour";
  return seconds % 3600 === 0 ? `${seconds / 3600} hours` : formatSeconds(seconds);
}

export interface LedgerView {
  freshness: PipelineFreshness | null;
  batches: PipelineBatches | null;
  runs: PipelineRuns | null;
  failure: ApiFailure | null;
  nowS: number;
}

function row(data: Record<string, string>, ...cells: HTMLTableCellElement[]): HTMLTableRowElement {
  const tr = document.createElement("tr");
  Object.assign(tr.dataset, data);
  tr.append(...cells);
  return tr;
}

function freshnessRow(t: TopicFreshness, windowS: number, nowS: number): HTMLTableRowElement {
  const state = freshnessOf(t, windowS);
  return row(
    { topic: t.topic, freshness: state },
    cell(t.entity ?? "–", "name entity"),
    cell(t.topic, "mono topic"),
    cell(formatInt(t.partitions), "num partitions", t.partitions),
    cell(formatAgo(t.last_committed_at, nowS), "last-commit", t.seconds_since),
    cell(state, `${state} freshness`),
    cell(formatInt(t.batches), "num batches", t.batches),
    cell(formatInt(t.records), "num records", t.records),
    cell(formatInt(t.dead_letters), "num dead", t.dead_letters),
  );
}

function batchRow(b: LedgerBatch, nowS: number): HTMLTableRowElement {
  return row(
    { topic: b.topic, partition: String(b.partition), first: String(b.first_offset) },
    cell(formatAgo(b.committed_at, nowS), "committed", b.committed_at),
    cell(b.topic, "mono topic"),
    cell(String(b.partition), "num partition"),
    cell(`${formatInt(b.first_offset)}–${formatInt(b.last_offset)}`, "num offsets"),
    cell(formatInt(b.valid_records), "num valid", b.valid_records),
    cell(formatInt(b.dead_records), "num dead", b.dead_records),
    cell(formatInt(b.objects), "num objects", b.objects),
    cell(b.source, "source"),
  );
}

function runRow(r: LedgerRun, nowS: number): HTMLTableRowElement {
  return row(
    { kind: r.kind, run: r.run_id },
    cell(formatAgo(r.started_at, nowS), "started", r.started_at),
    cell(r.kind, "kind"),
    cell(r.run_id, "mono run"),
    cell(r.status, `${r.status === "succeeded" ? "" : "bad"} status`),
    cell(r.finished_at === null ? "running" : formatSeconds(r.duration_s), "num took", r.duration_s),
    cell(formatInt(r.steps), "num steps", r.steps),
  );
}

export function renderLedger(root: HTMLElement, v: LedgerView): void {
  const m = ledgerMessage(v.freshness, v.failure);
  showMessage(root, byId(root, "ledger-message"), m);
  const shown = v.failure === null && v.freshness !== null;
  byId(root, "ledger-body").hidden = !shown;
  if (!shown || v.freshness === null) return;
  const f = v.freshness;
  byId(root, "ledger-window").textContent = `(batches, records and dead letters of the last ${windowText(f.window_s)})`;
  byId(root, "freshness").replaceChildren(...f.topics.map((t) => freshnessRow(t, f.window_s, v.nowS)));
  const batches = v.batches?.batches ?? [];
  byId(root, "batches").replaceChildren(...batches.map((b) => batchRow(b, v.nowS)));
  byId(root, "batches-empty").hidden = batches.length > 0;
  const runs = v.runs?.runs ?? [];
  byId(root, "runs").replaceChildren(...runs.map((r) => runRow(r, v.nowS)));
  byId(root, "runs-empty").hidden = runs.length > 0;
}
