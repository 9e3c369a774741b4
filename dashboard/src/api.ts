/** Reading the dashboard server (one origin): typed answers, typed failures. */

export type FailureKind =
  | "sink_unreachable" // the sink's health server did not answer the pass-through
  | "gold_not_built" // no gold tables: run the transform
  | "gold_unavailable" // the warehouse is busy or slow: try again
  | "state_not_configured" // no state database (NEXUS_STATE__DSN): no pipeline ledger
  | "state_not_migrated" // the state database has no schema nexus yet
  | "state_unavailable" // the state database is unreachable or slow: try again
  | "server_unreachable" // the dashboard server itself did not answer
  | "failed"; // anything else, with the server's message

export class ApiFailure extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
    this.name = "ApiFailure";
  }
}

const KINDS: ReadonlySet<string> = new Set([
  "sink_unreachable",
  "gold_not_built",
  "gold_unavailable",
  "state_not_configured",
  "state_not_migrated",
  "state_unavailable",
]);

/** The failure a non-2xx answer stands for: the server's JSON `{error, message}` when it sent one. */
export function failureOf(status: number, body: string): ApiFailure {
  try {
    const doc = JSON.parse(body) as { error?: unknown; message?: unknown };
    if (typeof doc.error === "string" && typeof doc.message === "string") {
      return new ApiFailure(KINDS.has(doc.error) ? (doc.error as FailureKind) : "failed", doc.message);
    }
  } catch {
    // not JSON: fall through
  }
  return new ApiFailure("failed", `HTTP ${status}${body ? `: ${body.slice(0, 200)}` : ""}`);
}

type Fetch = (input: string, init?: RequestInit) => Promise<Response>;

async function get(path: string, fetcher: Fetch, timeoutMs: number): Promise<Response> {
  try {
    return await fetcher(path, { signal: AbortSignal.timeout(timeoutMs), cache: "no-store" });
  } catch (exc) {
    throw new ApiFailure("server_unreachable", `the dashboard server did not answer ${path}: ${String(exc)}`);
  }
}

export async function getJson<T>(path: string, fetcher: Fetch = fetch, timeoutMs = 8000): Promise<T> {
  const response = await get(path, fetcher, timeoutMs);
  const body = await response.text();
  if (!response.ok) throw failureOf(response.status, body);
  return JSON.parse(body) as T;
}

export async function getText(path: string, fetcher: Fetch = fetch, timeoutMs = 8000): Promise<string> {
  const response = await get(path, fetcher, timeoutMs);
  const body = await response.text();
  if (!response.ok) throw failureOf(response.status, body);
  return body;
}
