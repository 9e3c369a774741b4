import { defineConfig } from "vitest/config";

// The page is served by `nexus dashboard` (one origin with the JSON API); `pnpm dev` proxies
// the API to a running one on 127.0.0.1:8788.
export default defineConfig({
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, target: "es2022" },
  server: {
    host: "127.0.0.1",
    proxy: Object.fromEntries(["/api", "/status", "/metrics"].map((p) => [p, "http://127.0.0.1:8788"])),
  },
  test: { environment: "happy-dom", include: ["test/**/*.test.ts"] },
});
