import { describe, expect, it } from "vitest";
import {
  backoffMs,
  type FailureKind,
  type Job,
  type KeptBackup,
  mayDeleteRemoteCopy,
  OffsiteQueue,
  type QueuePolicy,
} from "../../src/services/offsite/queue.js";

/** mulberry32: a small seeded PRNG, so a failing seed replays exactly. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KINDS: FailureKind[] = ["store_down", "checksum", "busy", "held", "other"];
const policy = (random: () => number, concurrency = 2): QueuePolicy => ({
  concurrency,
  retryBaseMs: 100,
  retryMaxMs: 1_000,
  random,
});

/**
 * Drives the queue with random operations from one seed and checks its rules after each; returns the trace
 * (every job started, with the time), which must be the same for the same seed.
 */
function fuzz(seed: number, steps: number): string[] {
  const random = prng(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const queue = new OffsiteQueue(policy(random, 1 + Math.floor(random() * 3)));
  const running: Job[] = [];
  const trace: string[] = [];
  let now = 1_000_000;
  const files = ["a.db", "b.db", "c.db", "d.db", "e.db"];
  for (let step = 0; step < steps; step++) {
    const op = random();
    if (op < 0.3) {
      queue.enqueue(
        random() < 0.8 ? "copy" : "delete",
        "db",
        pick(files),
        now + Math.floor(random() * 500),
        random() < 0.3,
      );
    } else if (op < 0.5) {
      for (const job of queue.take(now)) {
        expect(job.parked).toBe(false);
        expect(job.dueAt).toBeLessThanOrEqual(now);
        expect(running.some((r) => r.filename === job.filename)).toBe(false);
        running.push(job);
        trace.push(`${now} ${job.kind} ${job.filename}`);
      }
      expect(running.length).toBeLessThanOrEqual(queue.policy.concurrency);
      expect(queue.runningCount).toBe(running.length);
    } else if (op < 0.75 && running.length > 0) {
      const job = running.splice(Math.floor(random() * running.length), 1)[0] as Job;
      if (random() < 0.5) {
        queue.success(job, now);
        // The store answered: nothing that waited for it is still waiting out a backoff.
        expect(queue.jobs().filter((j) => j.wakeOnSuccess)).toEqual([]);
        expect(queue.jobs()).not.toContain(job);
      } else {
        const kind = pick(KINDS);
        const attempts = job.attempts;
        const due = queue.failure(job, kind, now);
        if (kind === "checksum") expect(due).toBeNull();
        else expect(due).toBeGreaterThan(now);
        expect(job.attempts).toBe(kind === "busy" ? attempts : attempts + 1);
        if (kind !== "busy" && kind !== "checksum") {
          const cap = Math.min(1_000, 100 * 2 ** (job.attempts - 1));
          expect(due).toBeGreaterThanOrEqual(now + Math.floor(cap * 0.8));
          expect(due).toBeLessThanOrEqual(now + cap);
        }
      }
    } else if (op < 0.8) {
      const filename = pick(files);
      queue.drop("db", filename);
    } else {
      now += Math.floor(random() * 700);
    }
    const next = queue.nextDue();
    if (next !== undefined) expect(queue.jobs().some((j) => j.dueAt === next && !j.parked)).toBe(true);
  }
  // Liveness: once every attempt succeeds, the queue drains, parked jobs aside, by following nextDue.
  for (const job of running.splice(0)) queue.success(job, now);
  for (let guard = 0; guard < 1_000; guard++) {
    const next = queue.nextDue();
    if (next === undefined) break;
    now = Math.max(now, next);
    for (const job of queue.take(now)) queue.success(job, now);
  }
  expect(queue.jobs().every((j) => j.parked)).toBe(true);
  expect(queue.idle(now)).toBe(true);
  return trace;
}

describe("the off-site job table (pure policy)", () => {
  it("keeps its rules under random operations, the same way for the same seed", () => {
    for (const seed of [1, 2, 3, 42, 2026, 31337]) {
      const trace = fuzz(seed, 400);
      expect(trace.length).toBeGreaterThan(0);
      expect(fuzz(seed, 400)).toEqual(trace);
    }
  });

  it("runs one attempt per backup at a time, even when its copy turns into a deletion", () => {
    const queue = new OffsiteQueue(policy(() => 0));
    const copy = queue.enqueue("copy", "db", "a.db", 0);
    expect(queue.take(0)).toEqual([copy]);
    queue.drop("db", "a.db");
    const deletion = queue.enqueue("delete", "db", "a.db", 0);
    expect(queue.take(0)).toEqual([]);
    queue.abandon(copy, { forget: false });
    expect(queue.take(0)).toEqual([deletion]);
  });

  it("backs off exponentially, capped, waits for the store, parks a checksum mismatch until pushed", () => {
    const p = policy(() => 0);
    expect([1, 2, 3, 4, 5].map((n) => backoffMs(p, n))).toEqual([100, 200, 400, 800, 1_000]);
    const queue = new OffsiteQueue(p);
    const down = queue.enqueue("copy", "db", "a.db", 0);
    const bad = queue.enqueue("copy", "db", "b.db", 0);
    const ok = queue.enqueue("copy", "db", "c.db", 0);
    expect(queue.take(0)).toEqual([down, bad]);
    expect(queue.failure(down, "store_down", 0)).toBe(100);
    expect(queue.failure(bad, "checksum", 0)).toBeNull();
    expect(queue.take(10)).toEqual([ok]);
    queue.success(ok, 10);
    expect(down.dueAt).toBe(10);
    expect(queue.take(10)).toEqual([down]);
    queue.success(down, 10);
    expect(queue.nextDue()).toBeUndefined();
    queue.enqueue("copy", "db", "b.db", 20, true);
    expect(queue.take(20)).toEqual([bad]);
  });
});

describe("the remote-deletion rule (I2 off-site)", () => {
  const pruned = { filename: "auto_20260101_020000.db", createdAt: "20260101_020000", sequence: 0 };
  const kept = (over: Partial<KeptBackup>): KeptBackup => ({
    filename: "auto_20260102_020000.db",
    createdAt: "20260102_020000",
    sequence: 0,
    offsiteDone: true,
    verified: true,
    ...over,
  });

  it("deletes a pruned copy only while a newer kept backup is verified and done off-site", () => {
    expect(mayDeleteRemoteCopy(pruned, [kept({})])).toBe(true);
    expect(mayDeleteRemoteCopy(pruned, [])).toBe(false);
    expect(mayDeleteRemoteCopy(pruned, [kept({ offsiteDone: false })])).toBe(false);
    expect(mayDeleteRemoteCopy(pruned, [kept({ verified: false })])).toBe(false);
    // An older kept backup, however safe, does not replace the newer one being removed.
    expect(
      mayDeleteRemoteCopy(pruned, [kept({ filename: "app_20251231_000000.db", createdAt: "20251231_000000" })]),
    ).toBe(false);
    const sameSecond = { filename: "auto_20260101_020000_2.db", createdAt: "20260101_020000", sequence: 2 };
    expect(mayDeleteRemoteCopy(pruned, [kept(sameSecond)])).toBe(true);
    expect(mayDeleteRemoteCopy(sameSecond, [kept({ ...pruned })])).toBe(false);
  });
});
