import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { emptyUpgradeState, type UpgradeState, UpgradeStateStore } from "../../src/db/upgrade-state.js";
import { makeTempDir, removeDir } from "../helpers/app.js";

const blocked: UpgradeState = {
  ...emptyUpgradeState,
  blocked: { reason: "migration_failed", revision: "0002_x", error: "boom", backup: null, at: "2025-01-01T00:00:00Z" },
};

describe("upgrade state reads", () => {
  let dir: string;
  afterEach(() => removeDir(dir));

  function store(): UpgradeStateStore {
    dir = makeTempDir();
    mkdirSync(path.join(dir, "kb"), { recursive: true });
    return new UpgradeStateStore((name) => path.join(dir, name));
  }

  it("a write from this process reaches the lease guard's cached read at once", async () => {
    const states = store();
    expect(states.snapshot("kb", 60_000).state.blocked).toBeNull();
    await states.write("kb", blocked);
    expect(states.snapshot("kb", 60_000).state.blocked?.reason).toBe("migration_failed");
  });

  it("a change another process wrote is seen by a fresh read at once", () => {
    const states = store();
    expect(states.read("kb").blocked).toBeNull();
    const temp = path.join(dir, "kb", "state.tmp");
    writeFileSync(temp, JSON.stringify(blocked));
    renameSync(temp, states.file("kb"));
    expect(states.read("kb").blocked?.reason).toBe("migration_failed");
  });
});
