import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { type StepContext, scheduleOnce } from "./ops.js";
import type { World } from "./world.js";

/**
 * Incremental (page) copies in the chaos run: where the kill-during-incremental-copy fault strikes, and what the
 * checks read of the bucket (s3rver's files, read directly: a manifest's packs, its header).
 */

/** `packs`: while packs go up; `manifest-written`: every pack stored, the manifest being written; `manifest-stored`: the manifest stored, the record not yet done. */
export type KillPoint = "packs" | "manifest-written" | "manifest-stored";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** The s3 prefix the chaos world runs with (the default). */
const PREFIX = "chaoscypher/";

export const manifestKeyOf = (world: World, filename: string, install = world.installId() ?? "") =>
  `${PREFIX}v2/${install}/db/default/${filename}.pages`;

function offsiteState(world: World, filename: string): string | null {
  try {
    const file = path.join(world.backupDir, `.${filename}.offsite.json`);
    return (JSON.parse(readFileSync(file, "utf8")) as { state?: string }).state ?? null;
  } catch {
    return null;
  }
}

/** A scheduled backup whose record says `uploading`, written at or after `since` (this attempt's, not a stale one). */
function uploadingNow(world: World, since: number): string | null {
  let names: string[];
  try {
    names = readdirSync(world.backupDir);
  } catch {
    return null;
  }
  for (const name of names) {
    const m = /^\.(auto_.+\.db)\.offsite\.json$/.exec(name);
    if (!m?.[1]) continue;
    try {
      if (statSync(path.join(world.backupDir, name)).mtimeMs < since - 5) continue;
    } catch {
      continue;
    }
    if (offsiteState(world, m[1]) === "uploading") return m[1];
  }
  return null;
}

/** The newest scheduled backup here and its copy's state, for the step log. */
function newestScheduled(world: World): string {
  try {
    const newest = readdirSync(world.backupDir)
      .filter((n) => /^auto_.+\.db$/.test(n))
      .sort()
      .at(-1);
    return newest ? `${newest}, copy ${offsiteState(world, newest) ?? "not recorded"}` : "none";
  } catch {
    return "none";
  }
}

/** The manifest temp of `filename`'s copy holds bytes: every pack is stored and the manifest is being written. */
function manifestBeingWritten(world: World, filename: string): boolean {
  try {
    return readdirSync(world.backupDir).some(
      (n) => n.startsWith(`.${filename}.pages.tmp-`) && statSync(path.join(world.backupDir, n)).size > 0,
    );
  } catch {
    return false;
  }
}

const manifestStored = (world: World, filename: string) =>
  existsSync(world.store.objectFile(manifestKeyOf(world, filename)));

/**
 * For the CLI variant: a scheduled backup made while the store is down (its copy cannot go), then the server
 * stopped (SIGTERM) and the store back, so the step's `offsite push` is the one that copies it.
 */
export async function copyUnderWay(world: World, ctx: StepContext): Promise<void> {
  if (world.storeUp) await world.setStore(false);
  const run = await scheduleOnce(ctx, { keep_daily: 7, keep_weekly: 4 });
  ctx.detail.push(
    run === "refused" ? "schedule refused" : run ? `${run.outcome} ${run.filename ?? ""}`.trim() : "no run",
  );
  await world.killServer("SIGTERM");
  await world.setStore(true);
}

/**
 * Waits for a scheduled backup's copy to be under way (its record `uploading`, by the server or the step's CLI
 * push), then for the kill point, then SIGKILLs that process. Says what it saw, for the step log.
 */
export async function killAtCopyPoint(
  world: World,
  who: "server" | "cli",
  point: KillPoint,
  extraMs: number,
): Promise<string> {
  const since = Date.now();
  const deadline = since + 20_000;
  const alive = () => (who === "server" ? world.server !== null && world.server.exitCode === null : true);
  let filename: string | null = null;
  let cliSeen = false;
  while (!filename && Date.now() < deadline && alive()) {
    if (who === "cli") {
      if (world.cliChild) cliSeen = true;
      else if (cliSeen) return "the push ended before a copy was under way";
    }
    filename = uploadingNow(world, since);
    if (!filename) await sleep(3);
  }
  const kill = async () => {
    if (who === "server") await world.killServer("SIGKILL");
    else world.cliChild?.kill("SIGKILL");
  };
  if (!filename) {
    const state = newestScheduled(world);
    await kill();
    return `no copy under way in 20 s (newest scheduled backup: ${state}); killed anyway`;
  }
  const began = Date.now();
  const reached = () =>
    point === "packs"
      ? true
      : point === "manifest-written"
        ? manifestBeingWritten(world, filename as string) || manifestStored(world, filename as string)
        : manifestStored(world, filename as string);
  while (!reached() && offsiteState(world, filename) === "uploading" && Date.now() < deadline) await sleep(2);
  if (extraMs > 0) await sleep(extraMs);
  const killedAfter = Date.now() - began;
  await kill();
  const stored = manifestStored(world, filename) ? "manifest stored" : "no manifest";
  return `${filename} killed ${killedAfter} ms into its copy (${stored}, record ${offsiteState(world, filename)})`;
}

/** What a stored page manifest says: its header, the pack keys it names, and a digest of its bytes. */
export interface StoredManifest {
  key: string;
  install: string;
  filename: string;
  sha256: string;
  size: number;
  packs: string[];
  digest: string;
}

const MANIFEST = /(?:^|\/)v2\/([^/]+)\/db\/default\/([^/]+\.db)\.pages$/;

/** Every page manifest in the bucket (every install's), parsed from s3rver's files; one that vanished is skipped. */
export function storedManifests(world: World): StoredManifest[] {
  const out: StoredManifest[] = [];
  for (const key of world.store.keys()) {
    const m = MANIFEST.exec(key);
    if (!m?.[1] || !m[2]) continue;
    const parsed = readManifest(world, key);
    if (parsed) out.push({ key, install: m[1], filename: m[2], ...parsed });
  }
  return out;
}

export function readManifest(world: World, key: string): Omit<StoredManifest, "key" | "install" | "filename"> | null {
  let bytes: Buffer;
  try {
    bytes = readFileSync(world.store.objectFile(key));
  } catch {
    return null;
  }
  // A manifest s3rver is still writing (a copy in flight) reads as not there yet.
  try {
    const lines = bytes.toString("utf8").split("\n").filter(Boolean);
    const header = JSON.parse(lines[0] ?? "{}") as { sha256: string; size: number; pack_suffix?: string };
    const root = key.slice(0, key.indexOf("/db/default/"));
    const ids = new Set<string>();
    for (const line of lines.slice(1)) {
      for (const [, id] of (JSON.parse(line) as { runs: [number, string, number][] }).runs) ids.add(id);
    }
    const packs = [...ids].map((id) => `${root}/packs/default/${id.slice(0, 2)}/${id}${header.pack_suffix ?? ""}`);
    const digest = createHash("sha256").update(bytes).digest("hex");
    return { sha256: header.sha256, size: header.size, packs, digest };
  } catch {
    return null;
  }
}

export const sha256Of = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
