import { afterEach, describe, expect, it } from "vitest";
import { createTestApp, makeTempDir, removeDir } from "../helpers/app.js";
import { oneLine, parseJson, runCli } from "../helpers/cli.js";
import { inspect } from "../helpers/seed.js";

describe("the CLI consults the operation lock a restore holds", () => {
  let dir: string;
  afterEach(() => removeDir(dir));

  it("keys and auth commands refuse with 409 while another process restores default, and work after", async () => {
    dir = makeTempDir("cc-cli-lock-");
    const t = createTestApp({ dataDir: dir });
    const lock = t.services.locks.acquire("default", "restore");
    const cli = (...args: string[]) => runCli([...args, "--data-dir", dir]);
    const setup = await cli("auth", "setup", "--username", "operator", "--password", "correct horse", "--json");
    expect(setup.code).toBe(1);
    expect(parseJson(setup)).toMatchObject({ error: "OPERATION_IN_PROGRESS", details: { operation: "restore" } });
    expect(oneLine(setup)).toContain("restore");
    const users = () =>
      inspect(
        `${dir}/databases/default/app.db`,
        (s) => (s.prepare("SELECT count(*) AS n FROM users").get() as { n: number }).n,
      );
    expect(users()).toBe(0);
    lock.release();
    expect((await cli("auth", "setup", "--username", "operator", "--password", "correct horse")).code).toBe(0);
    const restoring = t.services.locks.acquire("default", "restore");
    const key = await cli("keys", "create", "--name", "ci", "--json");
    expect(parseJson(key)).toMatchObject({ error: "OPERATION_IN_PROGRESS" });
    restoring.release();
    await t.close();
  }, 60_000);
});
