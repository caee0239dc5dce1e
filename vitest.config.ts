import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two files at a time on two cores: ~8.5 min instead of ~11.5. Every step of a UI or process test waits with a
    // deadline made for a loaded machine (the suite passes beside a chaos run).
    maxWorkers: 2,
    globalSetup: ["test/setup/build-sources.ts"],
  },
});
