import { describe, expect, it } from "vitest";
import { ApiFailure, failureOf, getJson, getText } from "../src/api";

function answer(status: number, body: string) {
  return async () => new Response(body, { status });
}

describe("api", () => {
  it("reads the server's error kinds", () => {
    expect(failureOf(503, '{"error":"gold_not_built","message":"run the transform"}')).toMatchObject({
      kind: "gold_not_built",
      message: "run the transform",
    });
    expect(failureOf(502, '{"error":"sink_unreachable","message":"down"}').kind).toBe("sink_unreachable");
    expect(failureOf(500, '{"error":"gold_failed","message":"boom"}').kind).toBe("failed");
    for (const kind of ["state_not_configured", "state_not_migrated", "state_unavailable"]) {
      expect(failureOf(503, JSON.stringify({ error: kind, message: "m" })).kind).toBe(kind);
    }
    expect(failureOf(500, '{"error":"state_failed","message":"denied"}').kind).toBe("failed");
    expect(failureOf(404, "Not Found")).toMatchObject({ kind: "failed", message: "HTTP 404: Not Found" });
  });

  it("returns JSON and text of good answers", async () => {
    expect(await getJson<{ a: number }>("/x", answer(200, '{"a":1}'))).toEqual({ a: 1 });
    expect(await getText("/metrics", answer(200, "m 1"))).toBe("m 1");
  });

  it("throws typed failures for bad answers and for no answer", async () => {
    await expect(getJson("/api/gold/summary", answer(503, '{"error":"gold_unavailable","message":"busy"}'))).rejects.toMatchObject({
      kind: "gold_unavailable",
    });
    const down = async (): Promise<Response> => {
      throw new TypeError("Failed to fetch");
    };
    const failure = await getText("/status", down).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ApiFailure);
    expect(failure).toMatchObject({ kind: "server_unreachable" });
  });
});
