import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openSqlite } from "../../src/db/sqlite.js";
import { prepareSwap } from "../../src/workers/sqlite-tasks.js";

describe("prepareSwap", () => {
  let dir = "";
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("fails instead of creating an empty live database when app.db is gone", () => {
    dir = mkdtempSync(path.join(tmpdir(), "prepare-swap-"));
    const staged = path.join(dir, "staged.db");
    const live = path.join(dir, "app.db");
    openSqlite(staged).close();
    expect(() => prepareSwap({ staged, live })).toThrow();
    expect(existsSync(live)).toBe(false);
  });

  it("fails instead of creating an empty staged copy when it is gone", () => {
    dir = mkdtempSync(path.join(tmpdir(), "prepare-swap-"));
    const staged = path.join(dir, "staged.db");
    const live = path.join(dir, "app.db");
    openSqlite(live).close();
    expect(() => prepareSwap({ staged, live })).toThrow();
    expect(existsSync(staged)).toBe(false);
  });
});
