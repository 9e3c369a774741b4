/** The pipeline live, shaped from /status and /metrics (pure): topic and partition rows,
 * event rates between two scrapes, and the last hour of readings kept in the page. */

import { type Sample, sumBy } from "./prometheus";
import type { PartitionStatus, SinkStatus } from "./types";

export const METRIC_IN = "nexus_sink_records_consumed_total";
export const METRIC_WRITTEN = "nexus_sink_records_written_total";
export const METRIC_DEAD = "nexus_sink_records_dead_lettered_total";
export const HOUR_MS = 3_600_000;

/** Counters per topic at one instant (records fetched, written to bronze, dead-lettered). */
export interface Counters {
  atMs: number;
  consumed: Map<string, number>;
  written: Map<string, number>;
  dead: Map<string, number>;
}

export interface Rates {
  inPerS: number;
  outPerS: number; // written + dead-lettered: every record that left the sink
  deadPerS: number;
}

export interface TopicRow {
  topic: string;
  partitions: number;
  sumLag: number;
  maxLag: number;
  timeLagS: number;
  rates: Rates | null;
}

export interface PartitionRow {
  topic: string;
  partition: number;
  committed: number;
  highWater: number | null;
  lag: number;
  buffered: number;
  lastFlush: number | null;
  state: string;
}

export interface Reading {
  atMs: number;
  lag: number;
  inPerS: number | null;
  outPerS: number | null;
  deadPerS: number | null;
}

export function counters(samples: Sample[], atMs: number): Counters {
  return {
    atMs,
    consumed: sumBy(samples, METRIC_IN, "topic"),
    written: sumBy(samples, METRIC_WRITTEN, "topic"),
    dead: sumBy(samples, METRIC_DEAD, "topic"),
  };
}

function total(m: Map<string, number>, topic?: string): number {
  if (topic !== undefined) return m.get(topic) ?? 0;
  let sum = 0;
  for (const v of m.values()) sum += v;
  return sum;
}

/** A counter's increase; a counter that went down was reset (the sink restarted). */
function increase(before: number, after: number): number {
  return after >= before ? after - before : after;
}

/** Events per second between two scrapes, for one topic or (no topic) all of them;
 * null when there is no earlier scrape or no time passed. */
export function rates(prev: Counters | null, cur: Counters, topic?: string): Rates | null {
  if (prev === null) return null;
  const dt = (cur.atMs - prev.atMs) / 1000;
  if (dt <= 0) return null;
  const d = (m: (c: Counters) => Map<string, number>) => increase(total(m(prev), topic), total(m(cur), topic)) / dt;
  const dead = d((c) => c.dead);
  return { inPerS: d((c) => c.consumed), outPerS: d((c) => c.written) + dead, deadPerS: dead };
}

function partitionState(p: PartitionStatus): string {
  if (p.failures > 0) return `failing ×${p.failures}`;
  if (p.paused) return "paused";
  if (p.in_flight) return "writing";
  return p.buffered > 0 ? "buffering" : "idle";
}

export function partitionRows(status: SinkStatus): PartitionRow[] {
  return [...status.partitions]
    .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1))
    .map((p) => ({
      topic: p.topic,
      partition: p.partition,
      committed: p.committed,
      highWater: p.high_water,
      lag: p.offset_lag,
      buffered: p.buffered,
      lastFlush: p.last_flush,
      state: partitionState(p),
    }));
}

export function topicRows(status: SinkStatus, prev: Counters | null, cur: Counters | null): TopicRow[] {
  const counts = new Map<string, number>();
  for (const p of status.partitions) counts.set(p.topic, (counts.get(p.topic) ?? 0) + 1);
  return Object.keys(status.topics)
    .sort()
    .map((topic) => {
      const t = status.topics[topic]!;
      return {
        topic,
        partitions: counts.get(topic) ?? 0,
        sumLag: t.sum_offset_lag,
        maxLag: t.max_offset_lag,
        timeLagS: t.estimated_max_time_lag_s,
        rates: cur === null ? null : rates(prev, cur, topic),
      };
    });
}

/** The lag of every partition, as /status reports it. */
export function totalLag(status: SinkStatus): number {
  return status.partitions.reduce((sum, p) => sum + p.offset_lag, 0);
}

/** Readings of the last hour, oldest first; what is older than `windowMs` is dropped. */
export class History {
  readonly readings: Reading[] = [];

  constructor(readonly windowMs: number = HOUR_MS) {}

  push(r: Reading): void {
    const last = this.readings[this.readings.length - 1];
    if (last !== undefined && r.atMs <= last.atMs) return; // out of order: keep time increasing
    this.readings.push(r);
    const oldest = r.atMs - this.windowMs;
    let drop = 0;
    while (drop < this.readings.length && this.readings[drop]!.atMs < oldest) drop++;
    if (drop > 0) this.readings.splice(0, drop);
  }

  series(pick: (r: Reading) => number | null): { t: number; v: number }[] {
    const out: { t: number; v: number }[] = [];
    for (const r of this.readings) {
      const v = pick(r);
      if (v !== null) out.push({ t: r.atMs, v });
    }
    return out;
  }
}
