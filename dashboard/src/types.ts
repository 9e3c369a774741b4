/** The documents the page reads: the sink's /status and the JSON API's gold views. */

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

export interface GoldSales {
  by_day: { date: string; orders: number; gmv: number }[];
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
