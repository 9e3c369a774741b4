import { describe, expect, it } from "vitest";
import { parseExposition, sumBy } from "../src/prometheus";

const TEXT = `# HELP nexus_sink_records_consumed_total Records fetched from Kafka
# TYPE nexus_sink_records_consumed_total counter
nexus_sink_records_consumed_total{topic="olist.orders.v1"} 1500.0
nexus_sink_records_consumed_total{topic="olist.customers.v1"} 250.0
nexus_sink_records_consumed_created{topic="olist.orders.v1"} 1.7e+09
nexus_sink_assigned_partitions 6.0
odd_metric{reason="say \\"hi\\"",topic="t"} 1 1700000000000
nexus_sink_batch_flush_duration_seconds_bucket{le="+Inf"} +Inf
not a sample line
`;

describe("parseExposition", () => {
  it("reads samples with and without labels, skipping comments and junk", () => {
    const samples = parseExposition(TEXT);
    expect(samples).toHaveLength(6);
    expect(samples[0]).toEqual({ name: "nexus_sink_records_consumed_total", labels: { topic: "olist.orders.v1" }, value: 1500 });
    expect(samples.find((s) => s.name === "nexus_sink_assigned_partitions")?.value).toBe(6);
  });

  it("unescapes label values and ignores the optional timestamp", () => {
    const odd = parseExposition(TEXT).find((s) => s.name === "odd_metric");
    expect(odd?.labels).toEqual({ reason: 'say "hi"', topic: "t" });
    expect(odd?.value).toBe(1);
  });

  it("reads infinities", () => {
    expect(parseExposition(TEXT).find((s) => s.name.endsWith("_bucket"))?.value).toBe(Infinity);
  });

  it("sums one metric per label value and leaves other metrics out", () => {
    const by = sumBy(parseExposition(TEXT), "nexus_sink_records_consumed_total", "topic");
    expect([...by.entries()]).toEqual([
      ["olist.orders.v1", 1500],
      ["olist.customers.v1", 250],
    ]);
  });
});
