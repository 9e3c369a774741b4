/** Number, money, rate and age formatting: one locale, so the page reads the same everywhere. */

const LOCALE = "en-US";
const integer = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const money = new Intl.NumberFormat(LOCALE, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export const DASH = "–";

export function formatInt(n: number | null | undefined): string {
  return n == null || !Number.isFinite(n) ? DASH : integer.format(Math.round(n));
}

/** Events per second: one decimal below 10, whole numbers above. */
export function formatRate(perSecond: number | null | undefined): string {
  if (perSecond == null || !Number.isFinite(perSecond)) return DASH;
  return Math.abs(perSecond) < 10 ? oneDecimal.format(perSecond) : integer.format(Math.round(perSecond));
}

/** A share in [0, 1] as a percentage with one decimal. */
export function formatPercent(share: number | null | undefined): string {
  return share == null || !Number.isFinite(share) ? DASH : `${oneDecimal.format(share * 100)}%`;
}

/** Brazilian reais (Olist sells in BRL). */
export function formatMoney(amount: number | null | undefined): string {
  return amount == null || !Number.isFinite(amount) ? DASH : `R$ ${money.format(amount)}`;
}

/** Large amounts on chart axes: 1.2k, 3.4M. */
export function formatCompact(n: number): string {
  const abs = Math.abs(n);
  if (abs >= 1e6) return `${oneDecimal.format(n / 1e6)}M`;
  if (abs >= 1e3) return `${oneDecimal.format(n / 1e3)}k`;
  return formatRate(n);
}

export function formatScore(score: number | null | undefined): string {
  return score == null || !Number.isFinite(score) ? DASH : score.toFixed(2);
}

/** How long ago an epoch-seconds instant was, from `nowS`: "never", "4 s ago", "3 min ago", "2 h ago". */
export function formatAgo(epochS: number | null | undefined, nowS: number): string {
  if (epochS == null) return "never";
  const age = Math.max(0, nowS - epochS);
  if (age < 90) return `${Math.round(age)} s ago`;
  if (age < 90 * 60) return `${Math.round(age / 60)} min ago`;
  return `${Math.round(age / 3600)} h ago`;
}

/** Seconds of lag: "0 s", "12.5 s", "3 min". */
export function formatSeconds(s: number | null | undefined): string {
  if (s == null || !Number.isFinite(s)) return DASH;
  if (s < 10) return `${oneDecimal.format(s)} s`;
  if (s < 120) return `${integer.format(Math.round(s))} s`;
  return `${integer.format(Math.round(s / 60))} min`;
}
