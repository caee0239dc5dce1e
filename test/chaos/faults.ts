import { closeSync, copyFileSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import { backupStamp } from "../../src/lib/names.js";
import { copyUnderWay, type KillPoint, killAtCopyPoint } from "./incremental.js";
import { listBackups, type StepContext } from "./ops.js";
import type { Prng } from "./prng.js";
import { DAYS, type World } from "./world.js";

/** A fault's plan for one step: set up before the operation, run beside it, settled after it. */
export interface FaultPlan {
  name: string;
  detail: string;
  /** The fault only fits a CLI operation (the step picks one). */
  cliOnly?: boolean;
  /** The operations the fault fits (the step picks one of them); any when absent. */
  ops?: string[];
  /** The fault kills an incremental off-site copy: the checks then wait for it to be redone and rebuild it. */
  incremental?: boolean;
  /** Before the operation starts. */
  before?(world: World, ctx: StepContext): Promise<void> | void;
  /** Beside the operation (a kill at a random moment, a file copied in slowly). */
  beside?(world: World): Promise<void>;
  /** After the operation: restarts, for instance. `crashed` tells the checks to look for leftovers (I3). */
  after?(world: World): Promise<void>;
  crashed?: boolean;
  /** The kill-cli fault's delay. */
  cliKillAfterMs?: number;
}

export interface Fault {
  name: string;
  weight: number;
  plan(rng: Prng, world: World): FaultPlan;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Files placed by hand that the checks follow: a copy must end up `ok`, an empty one never `ok`. */
export const placedFiles = new Map<string, "copy" | "empty">();

export const FAULTS: Fault[] = [
  {
    name: "kill-server",
    weight: 4,
    plan: (rng) => {
      const at = rng.between(0, 600);
      return {
        name: "kill-server",
        detail: `SIGKILL at ${at} ms`,
        crashed: true,
        beside: async (world) => {
          await sleep(at);
          await world.killServer("SIGKILL");
        },
        after: async (world) => {
          await world.killServer("SIGKILL");
          await world.startServer();
        },
      };
    },
  },
  {
    name: "kill-cli",
    weight: 3,
    plan: (rng) => {
      const at = rng.between(150, 1_500);
      return {
        name: "kill-cli",
        detail: `SIGKILL at ${at} ms, then the server restarts`,
        cliOnly: true,
        crashed: true,
        cliKillAfterMs: at,
        // The next start is what sweeps what the killed command left.
        after: async (world) => world.restartServer("SIGTERM"),
      };
    },
  },
  {
    // A scheduled backup's incremental copy killed while its packs go up, once every pack is stored and its manifest
    // is being written, or right after the manifest is stored (before the record says done): by the server, or by
    // `offsite push` with the server stopped (the store was down when the backup was made, so its copy waited).
    name: "kill-during-incremental-copy",
    weight: 3,
    plan: (rng) => {
      const byCli = rng.chance(0.35);
      const point = rng.pick<KillPoint>(["packs", "packs", "manifest-written", "manifest-stored"]);
      const extraMs = point === "manifest-stored" ? 0 : rng.between(0, point === "packs" ? 80 : 15);
      const plan: FaultPlan = {
        name: "kill-during-incremental-copy",
        detail: `${byCli ? "CLI offsite push" : "server"} at ${point} +${extraMs} ms`,
        crashed: true,
        incremental: true,
        cliOnly: byCli,
        ops: [byCli ? "offsite-push-cli" : "schedule-run"],
        before: byCli ? (world, ctx) => copyUnderWay(world, ctx) : undefined,
        beside: async (world) => {
          plan.detail += `: ${await killAtCopyPoint(world, byCli ? "cli" : "server", point, extraMs)}`;
        },
        after: async (world) => {
          await world.killServer("SIGKILL");
          await world.startServer();
        },
      };
      return plan;
    },
  },
  {
    name: "store-outage",
    weight: 3,
    plan: (rng, world) => {
      const up = !world.storeUp;
      return {
        name: "store-outage",
        detail: up ? "store comes back" : "store goes down",
        before: async (w) => {
          if (!up) await sleep(rng.between(0, 200));
          await w.setStore(up);
        },
      };
    },
  },
  {
    name: "clock-jump",
    weight: 3,
    plan: (rng) => {
      const offset = rng.pick([-60, -3, -1, 0, 0, 1, 40].map(DAYS));
      return {
        name: "clock-jump",
        detail: `offset ${offset / DAYS(1)} days`,
        before: (world) => world.setClockOffset(offset),
      };
    },
  },
  {
    name: "disk-full",
    weight: 2,
    plan: (rng, world) => {
      const free = world.ballastBytes > 0 ? null : rng.pick([0, 256 * 1024, 2 * 1024 * 1024, 6 * 1024 * 1024]);
      return {
        name: "disk-full",
        detail: !world.mounted ? "skipped (no tmpfs)" : free === null ? "space freed" : `${free} bytes left`,
        before: (w) => w.fillDisk(free),
      };
    },
  },
  {
    name: "hand-placed-file",
    weight: 2,
    plan: (rng) => {
      const empty = rng.chance(0.3);
      const chunks = rng.between(3, 8);
      const pause = rng.between(50, 250);
      const back = rng.between(1, 400);
      return {
        name: "hand-placed-file",
        detail: empty ? "a 0-byte file" : `a backup copied in ${chunks} pieces, ${pause} ms apart`,
        beside: async (world) => {
          const name = `app_${backupStamp(new Date(Date.now() - DAYS(back)))}.db`;
          const target = path.join(world.backupDir, name);
          if (empty) {
            writeFileSync(target, "");
            placedFiles.set(name, "empty");
            return;
          }
          const listed = (await listBackups(world)) ?? [];
          const source = listed.find((b) => b.verification.state === "ok");
          if (!source) return;
          const copy = path.join(world.root, `placed-${name}`);
          copyFileSync(path.join(world.backupDir, source.filename), copy);
          const bytes = readFileSync(copy);
          placedFiles.set(name, "copy");
          const fd = openSync(target, "w");
          try {
            const size = Math.ceil(bytes.length / chunks);
            for (let at = 0; at < bytes.length; at += size) {
              const length = Math.min(size, bytes.length - at);
              // A nearly full disk takes part of a write without an error: the file stays partial, as with ENOSPC.
              if (writeSync(fd, bytes, at, length, at) < length)
                throw Object.assign(new Error("short write"), { code: "ENOSPC" });
              // Someone lists while the file is still being copied in.
              if (at === 0) void world.http("GET", "/backup");
              await sleep(pause);
            }
          } catch (error) {
            // A full disk stops the copy half-way, as it would stop an operator's `cp`: the file stays partial.
            if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
            placedFiles.delete(name);
          } finally {
            closeSync(fd);
          }
        },
      };
    },
  },
];
