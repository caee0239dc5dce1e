import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { OperationInProgressError } from "../../src/errors.js";
import { LOCK_INFO_FILE, OperationLocks } from "../../src/services/locks.js";
import { makeTempDir } from "../helpers/app.js";

const CONTENDER = fileURLToPath(new URL("./lock-contender.ts", import.meta.url));

function contender(dir: string, mode: string, rounds = 0) {
  const child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", CONTENDER, dir, mode, String(rounds)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (chunk) => {
    out += chunk;
  });
  return { child, out: () => out, done: once(child, "close").then(() => out) };
}

async function until(test: () => boolean) {
  while (!test()) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe("the operation lock is held by the kernel", () => {
  it("two processes contending thousands of times are never both inside", async () => {
    const dir = makeTempDir();
    const a = contender(dir, "contend", 3000);
    const b = contender(dir, "contend", 3000);
    const results = (await Promise.all([a.done, b.done])).map(
      (o) => JSON.parse(o) as { entered: number; overlaps: number },
    );
    for (const r of results) {
      expect(r.overlaps).toBe(0);
      expect(r.entered).toBeGreaterThan(0);
    }
  }, 60_000);

  it("a holder killed with SIGKILL releases the lock at once", async () => {
    const dir = makeTempDir();
    const locks = new OperationLocks(() => dir);
    const holder = contender(dir, "hold");
    await until(() => holder.out().includes("held"));
    expect(() => locks.acquire("default", "restore")).toThrow(OperationInProgressError);
    expect(locks.runningElsewhere("default")).toBe("backup");
    holder.child.kill("SIGKILL");
    await holder.done;
    expect(locks.runningElsewhere("default")).toBeNull();
    locks.acquire("default", "restore").release();
  }, 30_000);

  it("a lock whose handle was let go and collected is still held until its process ends", async () => {
    const dir = makeTempDir();
    const locks = new OperationLocks(() => dir);
    const holder = contender(dir, "drop");
    await until(() => holder.out().includes("held"));
    expect(() => locks.acquire("default", "restore")).toThrow(OperationInProgressError);
    holder.child.kill("SIGKILL");
    await holder.done;
    locks.acquire("default", "restore").release();
  }, 30_000);

  it("the info file a dead holder left, naming a live pid, does not block", async () => {
    const dir = makeTempDir();
    const holder = contender(dir, "hold");
    await until(() => holder.out().includes("held"));
    holder.child.kill("SIGKILL");
    await holder.done;
    const info = path.join(dir, LOCK_INFO_FILE);
    expect(existsSync(info)).toBe(true);
    // The pid is reused by a live process (this one): only the kernel lock on the SQLite file counts.
    writeFileSync(info, JSON.stringify({ pid: process.pid, operation: "backup" }));
    const locks = new OperationLocks(() => dir);
    expect(locks.runningElsewhere("default")).toBeNull();
    locks.acquire("default", "restore").release();
  }, 30_000);

  it("is exclusive within one process too, and released only by its holder", () => {
    const dir = makeTempDir();
    const first = new OperationLocks(() => dir);
    const second = new OperationLocks(() => dir);
    const lock = first.acquire("default", "backup");
    expect(() => second.acquire("default", "restore")).toThrow(OperationInProgressError);
    lock.release();
    lock.release();
    second.acquire("default", "restore").release();
  });
});
