import type { PartitionStatus, SinkStatus } from "../src/types";

export function partition(topic: string, n: number, over: Partial<PartitionStatus> = {}): PartitionStatus {
  return {
    topic,
    partition: n,
    committed: 100,
    high_water: 100,
    offset_lag: 0,
    time_lag_s: 0,
    buffered: 0,
    in_flight: false,
    paused: false,
    failures: 0,
    last_flush: null,
    ...over,
  };
}

export function status(partitions: PartitionStatus[]): SinkStatus {
  const topics: SinkStatus["topics"] = {};
  for (const p of partitions) {
    const t = (topics[p.topic] ??= { sum_offset_lag: 0, max_offset_lag: 0, estimated_max_time_lag_s: 0 });
    t.sum_offset_lag += p.offset_lag;
    t.max_offset_lag = Math.max(t.max_offset_lag, p.offset_lag);
    t.estimated_max_time_lag_s = Math.max(t.estimated_max_time_lag_s, p.time_lag_s);
  }
  return { version: "0.1.0", partitions, topics, totals: { records_valid: 0, records_dead: 0 } };
}
