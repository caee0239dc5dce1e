import { copyFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { corrupt, sha256Of } from "../backup/lifecycle-helpers.js";
import { makeTempDir, removeDir } from "../helpers/app.js";
import { oneLine, parseJson, runCli } from "../helpers/cli.js";
import { seedDatabase, seedDatabaseFile } from "../helpers/seed.js";

describe("chaoscypher backup import and verify", () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = makeTempDir("cc-cli-life-");
    dirs.push(dir);
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) removeDir(dir);
  });
  const visible = (dir: string, db = "default") =>
    readdirSync(path.join(dir, "backups", db)).filter((f) => !f.startsWith("."));

  it("imports a good file as upload_… and refuses a bad one with nothing kept", async () => {
    const dir = tempDir();
    seedDatabase(dir, "default", { titles: ["here"] });
    const source = path.join(tempDir(), "from-elsewhere.db");
    seedDatabaseFile(source, { titles: ["elsewhere"], wal: false });

    const imported = await runCli(["backup", "import", source, "--data-dir", dir, "--json"]);
    expect(imported.code).toBe(0);
    const body = parseJson<{ filename: string }>(imported);
    expect(body).toMatchObject({ database: "default", kind: "uploaded", sha256: sha256Of(source) });
    expect(body.filename).toMatch(/^upload_\d{8}_\d{6}\.db$/);

    const bad = path.join(tempDir(), "bad.db");
    copyFileSync(source, bad);
    corrupt(bad);
    const refused = await runCli(["backup", "import", bad, "--data-dir", dir]);
    expect(refused.code).toBe(1);
    expect(oneLine(refused)).toMatch(/^chaoscypher: (integrity check failed|the file cannot be read)/);
    const missing = await runCli(["backup", "import", path.join(dir, "nope.db"), "--data-dir", dir]);
    expect(missing.code).toBe(1);
    expect(oneLine(missing)).toMatch(/^chaoscypher: no such file/);
    expect(visible(dir)).toEqual([body.filename]);

    const listed = await runCli(["backup", "list", "--data-dir", dir]);
    expect(listed.stdout).toMatch(/^FILENAME .*KIND +VERIFIED +SHA-256$/m);
    expect(listed.stdout).toMatch(new RegExp(`^${body.filename.replace(".", "\\.")} .* uploaded +pending +`, "m"));
  });

  it("verify exits non-zero for a backup whose bytes changed", async () => {
    const dir = tempDir();
    seedDatabase(dir, "default", { titles: ["here"] });
    const { filename } = parseJson<{ filename: string }>(
      await runCli(["backup", "create", "--data-dir", dir, "--json"]),
    );
    corrupt(path.join(dir, "backups", "default", filename));
    const verified = await runCli(["backup", "verify", filename, "--data-dir", dir, "--json"]);
    expect(verified.code).toBe(1);
    expect(parseJson(verified)).toMatchObject({ filename, verification: { state: "failed" } });
    expect(oneLine(verified)).toBe(`chaoscypher: ${filename} failed verification`);
    const human = await runCli(["backup", "list", "--data-dir", dir]);
    expect(human.stdout).toMatch(new RegExp(`^${filename.replace(".", "\\.")} .* backup +FAILED +`, "m"));
  });
});
