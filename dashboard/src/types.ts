/** The documents the page reads: the sink's /status, the JSON API's gold views and its
 * pipeline ledger views (times in seconds since the epoch). */

export interface PartitionStatus {
  topic: string;
  partition: number;
  committed: number;
  high_water: number | null;
  offset_lag: number;
  time_lag_s: number;
  buffered: number;
  in_flight: boolean;
  paused: boolean;
  failures: number;
  last_flush: number | null; // epoch seconds
}

export interface TopicStatus {
  sum_offset_lag: number;
  max_offset_lag: number;
  estimated_max_time_lag_s: number;
}

export interface SinkStatus {
  version?: string;
  started?: number;
  owner?: string;
  partitions: PartitionStatus[];
  topics: Record<string, TopicStatus>;
  totals: Record<string, number>;
}

export interface GoldSummary {
  orders: number;
  gmv: number;
  first_day: string | null;
  last_day: string | null;
  delivered_orders: number;
  on_time_rate: number | null;
}

export const GRAINS = ["day", "week", "month"] as const;
export type Grain = (typeof GRAINS)[number];

export interface GoldSales {
  grain: Grain;
  by_period: { start: string; orders: number; gmv: number }[]; // start: the period's first day
  by_state: { state: string; orders: number; gmv: number }[];
}

export interface GoldDelivery {
  by_state: { state: string; delivered_orders: number; on_time_rate: number | null; avg_days_late: number | null }[];
}

export interface SellerScore {
  seller_id: string;
  city: string | null;
  state: string | null;
  revenue: number;
  orders: number;
  items: number;
  avg_review_score: number | null;
  late_shipping_rate: number | null;
}

export interface GoldSellers {
  sellers: SellerScore[];
}

export interface GoldReviews {
  scores: { score: number; orders: number }[];
  total: number;
}

export interface TopicFreshness {
  topic: string;
  entity: string | null; // bronze/<entity>/ in the lake
  partitions: number;
  last_committed_at: number | null;
  seconds_since: number | null;
  batches: number; // in the window
  records: number;
  dead_letters: number;
}

export interface PipelineFreshness {
  now: number;
  window_s: number;
  topics: TopicFreshness[];
}

export interface LedgerBatch {
  topic: string;
  partition: number;
  first_offset: number;
  last_offset: number;
  valid_records: number;
  dead_records: number;
  skipped_records: number;
  objects: number;
  bytes: number;
  owner: string;
  committed_at: number;
  source: string; // sink | checkpoint | rebuild
}

export interface PipelineBatches {
  batches: LedgerBatch[];
}

export interface LedgerRun {
  kind: string; // redrive | reprocess | transform
  run_id: string;
  status: string; // succeeded | failed
  started_at: number;
  finished_at: number | null;
  duration_s: number | null;
  steps: number;
  summary: Record<string, unknown>;
}

export interface PipelineRuns {
  runs: LedgerRun[];
}
