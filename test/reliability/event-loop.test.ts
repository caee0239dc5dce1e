import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { useTestApps } from "../helpers/app.js";
import { seedDatabase } from "../helpers/seed.js";

const HOLDER = fileURLToPath(new URL("./sqlite-holder.mjs", import.meta.url));

/** Another process holding a read transaction or the write lock on `file` until `release()`. */
async function holdElsewhere(file: string, mode: "read" | "write") {
  const child = spawn(process.execPath, [HOLDER, file, mode], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  expect((await lines.next()).value).toBe("held");
  return {
    child,
    async release() {
      child.stdin.write("release\n");
      await lines.next();
    },
  };
}

describe("nothing on the main thread waits on a SQLite lock", () => {
  const newApp = useTestApps();
  const children: { child: ChildProcess }[] = [];
  afterEach(() => {
    for (const held of children.splice(0)) held.child.kill("SIGKILL");
  });

  it("a restore while another process holds a read transaction ends 409 or 200, and /verify keeps answering", async () => {
    const t = newApp();
    seedDatabase(t.dataDir, "kb");
    const operator = await t.setupOperator();
    const { filename } = await t.caller.backup.create({ database: "kb" });
    const reader = await holdElsewhere(t.services.paths.dbFile("kb"), "read");
    children.push(reader);
    let settled = false;
    const restore = t.request(`/api/v1/backup/${filename}/restore?database=kb`, { method: "POST" }).finally(() => {
      settled = true;
    });
    let answered = 0;
    while (!settled) {
      const verify = await t.app.request("/verify", { headers: { cookie: operator.cookie } });
      expect(verify.status).toBe(204);
      answered++;
      await new Promise((resolve) => setTimeout(resolve, 5)); // in-process requests settle without a macrotask
    }
    expect([200, 409]).toContain((await restore).status);
    expect(answered).toBeGreaterThan(0);
    // How long it waited is a bench row (bench/phases/restore.ts, --only restore-reader), not a timed assertion.
    await reader.release();
  }, 30_000);

  it("a write while another process holds the write lock is retried off the event loop and succeeds after", async () => {
    const t = newApp();
    await t.setupOperator();
    const writer = await holdElsewhere(t.services.paths.dbFile("default"), "write");
    children.push(writer);
    const minted = t.request("/api/v1/auth/keys", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "during a write" }),
    });
    // The server keeps answering while the key's insert waits; only then does the other process let go.
    for (let i = 0; i < 20; i++) {
      expect((await t.app.request("/api/v1/health")).status).toBe(200);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await writer.release();
    expect((await minted).status).toBe(201);
  }, 30_000);
});
