import { describe, expect, it } from "vitest";
import { type Box, barList, lineChart, linePath, niceMax } from "../src/charts";

const BOX: Box = { width: 110, height: 60, pad: { left: 10, right: 0, top: 0, bottom: 10 } };

describe("charts", () => {
  it("rounds an axis up to 1, 2 or 5 times a power of ten", () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(7)).toBe(10);
    expect(niceMax(130)).toBe(200);
    expect(niceMax(4100)).toBe(5000);
    expect(niceMax(1000)).toBe(1000);
    expect(niceMax(Number.NaN)).toBe(1);
  });

  it("draws points into the box: time left to right, values bottom to top", () => {
    const d = linePath([{ t: 0, v: 0 }, { t: 50, v: 5 }, { t: 100, v: 10 }], 0, 100, 10, BOX);
    expect(d).toBe("M10.0,50.0 L60.0,25.0 L110.0,0.0");
  });

  it("clamps values outside [0, max]", () => {
    expect(linePath([{ t: 0, v: -3 }, { t: 100, v: 99 }], 0, 100, 10, BOX)).toBe("M10.0,50.0 L110.0,0.0");
  });

  it("marks the last value of the first series, and draws nothing for empty series", () => {
    const svg = lineChart("c", "lag", [
      { name: "lag", cls: "s-lag", points: [{ t: 1, v: 4 }, { t: 2, v: 9 }] },
      { name: "none", cls: "x", points: [] },
    ], 0, 3);
    expect(svg.getAttribute("data-last")).toBe("9");
    expect(svg.querySelectorAll("path")).toHaveLength(1);
    expect(svg.getAttribute("aria-label")).toBe("lag");
    expect(lineChart("e", "empty", [{ name: "lag", cls: "s", points: [] }], 0, 1).hasAttribute("data-last")).toBe(false);
  });

  it("scales bars to the largest value, or to a given maximum", () => {
    const list = barList("b", [
      { key: "SP", label: "SP", value: 200, text: "200" },
      { key: "RJ", label: "RJ", value: 50, text: "50", note: "n" },
    ]);
    const fills = [...list.querySelectorAll<HTMLElement>(".bar-fill")].map((f) => f.style.width);
    expect(fills).toEqual(["100.0%", "25.0%"]);
    expect(list.querySelector('[data-key="RJ"] .bar-note')?.textContent).toBe("n");
    const rates = barList("r", [{ key: "SP", label: "SP", value: 0.9, text: "90%" }], 1);
    expect(rates.querySelector<HTMLElement>(".bar-fill")?.style.width).toBe("90.0%");
  });
});
