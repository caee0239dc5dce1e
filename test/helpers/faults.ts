import path from "node:path";
import { DB_FILE, STAGED_PREFIX } from "../../src/db/paths.js";
import { type FileOps, nodeFileOps } from "../../src/lib/durable-fs.js";

/** The swap's own renames: app.db moved (no hard links) and the staged copy renamed over app.db. */
const isSwapRename = (from: string) => path.basename(from) === DB_FILE || path.basename(from).startsWith(STAGED_PREFIX);

/**
 * File operations (hard links work) whose `failOn`-th swap rename (counting from 1) fails with EIO; every other
 * call is real (the rollback's renames included, so the failure is what is tested, not a second one).
 */
export function failingRename(failOn: number): FileOps {
  let calls = 0;
  return {
    ...nodeFileOps,
    rename: async (from, to) => {
      if (isSwapRename(from) && ++calls === failOn) {
        throw Object.assign(new Error("injected rename failure"), { code: "EIO" });
      }
      await nodeFileOps.rename(from, to);
    },
  };
}

/** What a crashing wrapper throws: the "process" died at this call; nothing after it reaches the disk. */
export class Crash extends Error {
  constructor(readonly call: string) {
    super(`crashed at ${call}`);
    this.name = "Crash";
  }
}

/**
 * Real file operations until the `crashAt`-th call (counting from 1), which throws Crash before it does anything,
 * as does every call after it: the process died there. `calls` counts every call, so a loop over crashAt =
 * 1, 2, … covers every mutating step of the code under test, and ends once a run makes fewer calls than crashAt.
 */
export function crashingFileOps(crashAt: number, base: FileOps = nodeFileOps) {
  let calls = 0;
  let crashed: Crash | null = null;
  /** Throws if the "process" is dead or dies at this call. */
  const count = (name: string, args: unknown[]) => {
    if (crashed) throw crashed;
    calls++;
    if (calls === crashAt) {
      // Paths by their base name; an atomic write's content is left out of the label.
      const paths = name === "writeFileAtomic" ? args.slice(0, 1) : args;
      crashed = new Crash(`${name}(${paths.map((a) => path.basename(String(a))).join(", ")})`);
      throw crashed;
    }
  };
  const step =
    <A extends unknown[]>(name: string, real: (...args: A) => Promise<void>) =>
    async (...args: A): Promise<void> => {
      count(name, args);
      await real(...args);
    };
  const stepSync =
    <A extends unknown[]>(name: string, real: (...args: A) => void) =>
    (...args: A): void => {
      count(name, args);
      real(...args);
    };
  const ops: FileOps = {
    rename: step("rename", base.rename),
    link: step("link", base.link),
    rm: step("rm", base.rm),
    writeFileAtomic: step("writeFileAtomic", base.writeFileAtomic),
    fsyncDir: step("fsyncDir", base.fsyncDir),
    renameSync: stepSync("renameSync", base.renameSync),
    rmSync: stepSync("rmSync", base.rmSync),
    fsyncDirSync: stepSync("fsyncDirSync", base.fsyncDirSync),
  };
  return { ops, calls: () => calls, crashed: () => crashed };
}
