import { fileURLToPath } from "node:url";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

/** The maintenance UI: built from src/web into dist/web, which the Hono server serves at `/`. */
export default defineConfig({
  root,
  plugins: [react()],
  // Relative to the repo, not to the caller's working directory.
  build: { outDir: fileURLToPath(new URL("../../dist/web", import.meta.url)), emptyOutDir: true },
  server: {
    proxy: { "/trpc": "http://127.0.0.1:8080", "/api": "http://127.0.0.1:8080" },
  },
  logLevel: "warn",
});
