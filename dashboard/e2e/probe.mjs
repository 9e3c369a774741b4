// What the page shows, read from headless Chromium (Debian's, driven by playwright-core).
// One page, driven by commands on stdin, one JSON object a line, each answered on stdout:
//   {"cmd": "open", "url": U}                         load the page
//   {"cmd": "wait", "ticks": N, "lag": L, "live": S}   until the live section refreshed N times
//                                                      in all, shows lag L, is in state S (each optional)
//       "ledger": S, "grain": G,                       ... the ledger section is in state S, GMV is
//       "records": {"topic": T, "value": V}            drawn by grain G, the freshness row of topic T
//                                                      shows V records (each optional)
//   {"cmd": "click", "selector": CSS}                  click an element (e.g. a GMV grain button)
//   {"cmd": "snapshot", "screenshot": PATH}            the shown values (the numbers behind each
//                                                      figure and its text), and a full-page screenshot
//   {"cmd": "quit"}
// The assertions are the caller's (tests/browser/test_dashboard.py).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const read = (page) => page.evaluate(() => {
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
      [...tr.querySelectorAll("td")].map((td) => [td.className.split(" ").filter(Boolean).at(-1), { text: td.textContent, value: td.dataset.value ?? null }]),
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
      gmvGrain: document.getElementById("chart-gmv")?.dataset.grain ?? null,
      gmvChartLast: num(document.getElementById("chart-gmv")?.getAttribute("data-last")),
      gmvCaption: document.getElementById("gmv-caption")?.textContent ?? null,
    },
    ledger: {
      state: document.getElementById("ledger")?.dataset.state,
      message: message("ledger-message"),
      bodyHidden: document.getElementById("ledger-body")?.hidden ?? null,
      // The rows' data attributes after their cells: a cell's class may name the same key.
      freshness: [...document.querySelectorAll("#freshness tr")].map((tr) => ({
        ...cells(tr),
        topic: tr.dataset.topic,
        freshness: tr.dataset.freshness,
      })),
      batches: [...document.querySelectorAll("#batches tr")].map((tr) => ({
        ...cells(tr),
        topic: tr.dataset.topic,
        partition: Number(tr.dataset.partition),
        first: Number(tr.dataset.first),
      })),
      runs: [...document.querySelectorAll("#runs tr")].map((tr) => ({ ...cells(tr), kind: tr.dataset.kind, run: tr.dataset.run })),
    },
  };
});

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
const requests = [];
const page = context.pages()[0] ?? (await context.newPage());
page.on("console", (m) => {
  if (m.type() === "error") problems.push(`console: ${m.text()}`);
});
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
page.on("request", (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));

async function run(command) {
  if (command.cmd === "open") {
    await page.goto(command.url, { waitUntil: "load" });
    return {};
  }
  if (command.cmd === "wait") {
    await page.waitForFunction(
      ({ ticks, lag, live, ledger, grain, records }) =>
        Number(document.body.dataset.liveTicks ?? "0") >= (ticks ?? 1) &&
        document.body.dataset.goldLoaded === "true" &&
        document.body.dataset.ledgerLoaded === "true" &&
        (lag === undefined || document.getElementById("card-lag")?.dataset.value === String(lag)) &&
        (live === undefined || document.getElementById("live")?.dataset.state === live) &&
        (ledger === undefined || document.getElementById("ledger")?.dataset.state === ledger) &&
        (grain === undefined || document.getElementById("chart-gmv")?.dataset.grain === grain) &&
        (records === undefined ||
          document.querySelector(`#freshness tr[data-topic="${records.topic}"] .records`)?.dataset.value === String(records.value)),
      { ticks: command.ticks, lag: command.lag, live: command.live, ledger: command.ledger, grain: command.grain, records: command.records },
      { timeout: command.timeout_ms ?? 30_000, polling: 100 },
    );
    return {};
  }
  if (command.cmd === "click") {
    await page.click(command.selector);
    return {};
  }
  if (command.cmd === "snapshot") {
    const shown = await read(page);
    if (command.screenshot) await page.screenshot({ path: command.screenshot, fullPage: true });
    return { shown, problems: problems.splice(0), requests: requests.splice(0) };
  }
  throw new Error(`unknown command ${JSON.stringify(command)}`);
}

try {
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === "") continue;
    const command = JSON.parse(line);
    if (command.cmd === "quit") break;
    try {
      process.stdout.write(JSON.stringify({ ok: true, ...(await run(command)) }) + "\n");
    } catch (exc) {
      process.stdout.write(JSON.stringify({ ok: false, error: String(exc) }) + "\n");
    }
  }
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
