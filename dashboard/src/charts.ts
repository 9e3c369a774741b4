/** Hand-drawn charts: SVG line charts for time series, HTML bars for rankings.
 * The geometry (`linePath`, `niceMax`) is pure; the builders make DOM nodes. */

import { formatCompact } from "./format";

const SVG = "http://www.w3.org/2000/svg";

export interface Point {
  t: number;
  v: number;
}

export interface Series {
  name: string;
  cls: string; // CSS class giving the colour
  points: Point[];
}

export interface Box {
  width: number;
  height: number;
  pad: { left: number; right: number; top: number; bottom: number };
}

export const DEFAULT_BOX: Box = { width: 560, height: 160, pad: { left: 44, right: 8, top: 8, bottom: 20 } };

/** A round upper bound for an axis: 1, 2 or 5 times a power of ten, at least `max`. */
export function niceMax(max: number): number {
  if (!(max > 0) || !Number.isFinite(max)) return 1;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

/** Where a point in [t0, t1] x [0, yMax] falls in the box (values clamped to the axis). */
export function place(p: Point, t0: number, t1: number, yMax: number, box: Box): [number, number] {
  const w = box.width - box.pad.left - box.pad.right;
  const h = box.height - box.pad.top - box.pad.bottom;
  const span = t1 > t0 ? t1 - t0 : 1;
  const x = box.pad.left + ((p.t - t0) / span) * w;
  const y = box.pad.top + h - (Math.min(Math.max(p.v, 0), yMax) / yMax) * h;
  return [x, y];
}

/** The SVG path of points in [t0, t1] x [0, yMax] drawn into the box. */
export function linePath(points: Point[], t0: number, t1: number, yMax: number, box: Box): string {
  return points
    .map((p, i) => {
      const [x, y] = place(p, t0, t1, yMax, box);
      return `${i === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(" ");
}

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** A line chart of `series` over [t0, t1]; the last value of the first series is in `data-last`. */
export function lineChart(id: string, title: string, series: Series[], t0: number, t1: number, box = DEFAULT_BOX): SVGSVGElement {
  const svg = el("svg", { id, viewBox: `0 0 ${box.width} ${box.height}`, role: "img", class: "chart" });
  svg.setAttribute("aria-label", title);
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.v))));
  const bottom = box.height - box.pad.bottom;
  for (const frac of [0, 0.5, 1]) {
    const y = box.pad.top + (bottom - box.pad.top) * (1 - frac);
    svg.append(el("line", { x1: box.pad.left, x2: box.width - box.pad.right, y1: y, y2: y, class: "grid" }));
    const label = el("text", { x: box.pad.left - 4, y: y + 4, class: "axis", "text-anchor": "end" });
    label.textContent = formatCompact(max * frac);
    svg.append(label);
  }
  const minutes = Math.round((t1 - t0) / 60_000);
  const left = el("text", { x: box.pad.left, y: box.height - 4, class: "axis" });
  left.textContent = minutes > 0 ? `−${minutes} min` : "";
  const right = el("text", { x: box.width - box.pad.right, y: box.height - 4, class: "axis", "text-anchor": "end" });
  right.textContent = "now";
  svg.append(left, right);
  for (const s of series) {
    if (s.points.length === 0) continue;
    const path = el("path", { d: linePath(s.points, t0, t1, max, box), class: `line ${s.cls}` });
    path.setAttribute("data-series", s.name);
    svg.append(path);
    const [x, y] = place(s.points[s.points.length - 1] as Point, t0, t1, max, box);
    svg.append(el("circle", { cx: x.toFixed(1), cy: y.toFixed(1), r: 2.5, class: `dot ${s.cls}` }));
  }
  const last = series[0]?.points.at(-1);
  if (last !== undefined) svg.setAttribute("data-last", String(last.v));
  return svg;
}

export interface Bar {
  key: string;
  label: string;
  value: number; // what the bar's length shows
  text: string; // the value as the page shows it
  note?: string;
}

/** Ranked horizontal bars (HTML), longest = `max` (default: the largest value). */
export function barList(id: string, bars: Bar[], max?: number): HTMLOListElement {
  const list = document.createElement("ol");
  list.id = id;
  list.className = "bars";
  const top = max ?? Math.max(0, ...bars.map((b) => b.value));
  for (const b of bars) {
    const item = document.createElement("li");
    item.dataset.key = b.key;
    item.dataset.value = String(b.value);
    const label = document.createElement("span");
    label.className = "bar-label";
    label.textContent = b.label;
    const track = document.createElement("span");
    track.className = "bar-track";
    const fill = document.createElement("span");
    fill.className = "bar-fill";
    fill.style.width = `${top > 0 ? Math.max(0, (b.value / top) * 100).toFixed(1) : 0}%`;
    track.append(fill);
    const value = document.createElement("span");
    value.className = "bar-value";
    value.textContent = b.text;
    item.append(label, track, value);
    if (b.note !== undefined) {
      const note = document.createElement("span");
      note.className = "bar-note";
      note.textContent = b.note;
      item.append(note);
    }
    list.append(item);
  }
  return list;
}
