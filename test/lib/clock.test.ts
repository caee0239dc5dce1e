import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { offsetFileClock, systemClock } from "../../src/lib/clock.js";
import { seededIds } from "../../src/lib/ids.js";
import { createLogger } from "../../src/logger.js";
import { createServiceDeps } from "../../src/services/create-deps.js";
import { makeTempDir, removeDir } from "../helpers/app.js";

const DAY = 86_400_000;

describe("the injected clock", () => {
  const dir = makeTempDir("cc-clock-");
  afterAll(() => removeDir(dir));

  it("a test clock follows the offset its file holds, re-read while the process runs", async () => {
    const file = path.join(dir, "offset");
    const clock = offsetFileClock(file);
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(DAY / 2);
    writeFileSync(file, String(-60 * DAY));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(Date.now() - clock.now()).toBeGreaterThan(59 * DAY);
    writeFileSync(file, String(30 * DAY));
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(clock.date().getTime() - Date.now()).toBeGreaterThan(29 * DAY);
  });

  it("the server's deps read the test clock file from CHAOSCYPHER_TEST_CLOCK_FILE, and production refuses it", async () => {
    const file = path.join(dir, "deps-offset");
    writeFileSync(file, String(-2 * DAY));
    const env = { CHAOSCYPHER_DATA_DIR: path.join(dir, "data"), CHAOSCYPHER_TEST_CLOCK_FILE: file };
    const deps = createServiceDeps(loadConfig(env), createLogger("silent"));
    try {
      expect(Date.now() - deps.now().getTime()).toBeGreaterThan(DAY);
      expect(Date.now() - deps.clock.now()).toBeGreaterThan(DAY);
    } finally {
      deps.registry.closeAll();
    }
    expect(() => loadConfig({ ...env, NODE_ENV: "production" })).toThrow(ConfigError);
    expect(Math.abs(systemClock.now() - Date.now())).toBeLessThan(1_000);
  });

  it("seeded ids repeat for the same seed and differ for another", () => {
    const a = seededIds(7);
    const b = seededIds(7);
    expect([a.hex(4), a.hex(6)]).toEqual([b.hex(4), b.hex(6)]);
    expect(seededIds(8).hex(8)).not.toBe(seededIds(7).hex(8));
    expect(a.hex(4)).toMatch(/^[0-9a-f]{8}$/);
  });
});
