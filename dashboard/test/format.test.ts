import { describe, expect, it } from "vitest";
import { DASH, formatAgo, formatCompact, formatInt, formatMoney, formatPercent, formatRate, formatScore, formatSeconds } from "../src/format";

describe("format", () => {
  it("writes integers with thousands separators and a dash for nothing", () => {
    expect(formatInt(1234567)).toBe("1,234,567");
    expect(formatInt(0)).toBe("0");
    expect(formatInt(null)).toBe(DASH);
    expect(formatInt(Number.NaN)).toBe(DASH);
  });

  it("writes rates with one decimal below 10 and whole numbers above", () => {
    expect(formatRate(0)).toBe("0.0");
    expect(formatRate(3.14159)).toBe("3.1");
    expect(formatRate(12345.6)).toBe("12,346");
    expect(formatRate(undefined)).toBe(DASH);
  });

  it("writes shares as percentages and money in reais", () => {
    expect(formatPercent(0.9336)).toBe("93.4%");
    expect(formatPercent(1)).toBe("100.0%");
    expect(formatPercent(null)).toBe(DASH);
    expect(formatMoney(141465.27)).toBe("R$ 141,465.27");
    expect(formatMoney(0.5)).toBe("R$ 0.50");
  });

  it("shortens axis numbers", () => {
    expect(formatCompact(2_500_000)).toBe("2.5M");
    expect(formatCompact(1500)).toBe("1.5k");
    expect(formatCompact(5)).toBe("5.0");
  });

  it("says how long ago a flush was", () => {
    expect(formatAgo(null, 1000)).toBe("never");
    expect(formatAgo(990, 1000)).toBe("10 s ago");
    expect(formatAgo(1000 - 600, 1000)).toBe("10 min ago");
    expect(formatAgo(1000 - 7200, 1000)).toBe("2 h ago");
    expect(formatAgo(1005, 1000)).toBe("0 s ago"); // a clock a little ahead is not "in the future"
  });

  it("writes lag seconds and review scores", () => {
    expect(formatSeconds(2.25)).toBe("2.3 s");
    expect(formatSeconds(45)).toBe("45 s");
    expect(formatSeconds(600)).toBe("10 min");
    expect(formatScore(4.0606)).toBe("4.06");
    expect(formatScore(null)).toBe(DASH);
  });
});
