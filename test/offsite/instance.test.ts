import { statSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadInstallIdentity } from "../../src/services/instance/index.js";
import { makeTempDir, removeDir, useTestApps } from "../helpers/app.js";

describe("the install's identity", () => {
  const newApp = useTestApps();
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) removeDir(dir);
  });

  it("is made once at first start, kept in the data dir (key 0600), shown by /status, overridable", async () => {
    const dir = makeTempDir();
    dirs.push(dir);
    const first = loadInstallIdentity(dir);
    expect(first.id).toMatch(/^[a-z0-9][a-z0-9-]*-[0-9a-f]{8}$/);
    expect(loadInstallIdentity(dir)).toEqual(first);
    expect(statSync(path.join(dir, "offsite.key")).mode & 0o777).toBe(0o600);
    const other = "CHAOSCYPHER-OFFSITE-KEY-1-".concat("ab".repeat(32));
    const overridden = loadInstallIdentity(dir, { instance: "replacement-1", offsiteKey: other });
    expect(overridden).toMatchObject({ id: "replacement-1", source: "env" });
    expect(overridden.keyId).not.toBe(first.keyId);

    const t = newApp({ dataDir: dir });
    const status = (await (await t.request("/api/v1/status")).json()) as { instance: string };
    expect(status.instance).toBe(first.id);
  });
});
