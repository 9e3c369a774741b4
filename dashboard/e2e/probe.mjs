// What the page shows, read from headless Chromium (Debian's, driven by playwright-core):
//   node e2e/probe.mjs URL OUT.json SCREENSHOT.png [MIN_LIVE_TICKS]
// Waits until the live section refreshed MIN_LIVE_TICKS times (default 2) and gold loaded,
// writes the shown values (the numbers behind each figure, and its text) as JSON, and a
// full-page screenshot. The assertions are the caller's (tests/e2e/test_dashboard_browser.py).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [url, out, screenshot, minTicksArg] = process.argv.slice(2);
if (!url || !out || !screenshot) {
  console.error("usage: node e2e/probe.mjs URL OUT.json SCREENSHOT.png [MIN_LIVE_TICKS]");
  process.exit(2);
}
const minTicks = Number(minTicksArg ?? "2");
const profile = mkdtempSync(join(tmpdir(), "nexus-dashboard-chromium-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1360, height: 900 },
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const problems = [];
try {
  const page = context.pages()[0] ?? (await context.newPage());
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  const requests = [];
  page.on("request", (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(
    (n) => Number(document.body.dataset.liveTicks ?? "0") >= n && document.body.dataset.goldLoaded === "true",
    minTicks,
    { timeout: 30_000, polling: 100 },
  );
  const shown = await page.evaluate(() => {
    const num = (v) => (v === undefined || v === null || v === "" ? null : Number(v));
    const card = (id) => {
      const el = document.getElementById(id);
      return { text: el?.textContent ?? null, value: num(el?.dataset.value) };
    };
    const bars = (id) =>
      [...document.querySelectorAll(`#${id} li`)].map((li) => ({
        key: li.dataset.key,
        value: num(li.dataset.value),
        text: li.querySelector(".bar-value")?.textContent ?? null,
      }));
    const cells = (tr) =>
      Object.fromEntries(
        [...tr.querySelectorAll("td")].map((td) => [td.className.split(" ").at(-1), { text: td.textContent, value: td.dataset.value ?? null }]),
      );
    const message = (id) => document.getElementById(id)?.textContent ?? "";
    return {
      title: document.title,
      liveTicks: Number(document.body.dataset.liveTicks),
      live: {
        state: document.getElementById("live")?.dataset.state,
        message: message("live-message"),
        lag: card("card-lag"),
        inPerS: card("card-in"),
        outPerS: card("card-out"),
        deadPerS: card("card-dead"),
        lagChartLast: num(document.getElementById("chart-lag")?.getAttribute("data-last")),
        lagChartPaths: document.querySelectorAll("#chart-lag path").length,
        topics: [...document.querySelectorAll("#topics tr")].map((tr) => ({ topic: tr.dataset.topic, ...cells(tr) })),
        partitions: [...document.querySelectorAll("#partitions tr")].map((tr) => ({
          topic: tr.dataset.topic,
          partition: Number(tr.dataset.partition),
          ...cells(tr),
        })),
      },
      gold: {
        state: document.getElementById("gold")?.dataset.state,
        message: message("gold-message"),
        orders: card("gold-orders"),
        gmv: card("gold-gmv"),
        delivered: card("gold-delivered"),
        onTime: card("gold-on-time"),
        gmvByState: bars("gmv-by-state"),
        onTimeByState: bars("on-time-by-state"),
        reviews: bars("reviews"),
        gmvChartPoints: (document.querySelector("#chart-gmv path")?.getAttribute("d") ?? "").split(/[ML]/).filter(Boolean).length,
        sellers: [...document.querySelectorAll("#sellers tr")].map((tr) => ({ seller: tr.dataset.seller, ...cells(tr) })),
      },
    };
  });
  await page.screenshot({ path: screenshot, fullPage: true });
  writeFileSync(out, JSON.stringify({ ...shown, problems, requests }, null, 2));
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
