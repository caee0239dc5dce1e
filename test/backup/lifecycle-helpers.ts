import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { TestApp } from "../helpers/app.js";

export const sha256Of = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

export interface Listed {
  filename: string;
  size: number;
  created_at: string;
  kind: string;
  sha256: string | null;
  verification: { state: "pending" | "ok" | "failed"; at: string | null; error?: string };
  offsite: unknown;
}

export async function createBackup(t: TestApp, database = "default"): Promise<{ filename: string; sha256: string }> {
  const res = await t.request(`/api/v1/backup?database=${database}`, { method: "POST" });
  if (res.status !== 200) throw new Error(`backup failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as { filename: string; sha256: string };
}

export async function list(t: TestApp, database = "default"): Promise<Listed[]> {
  const res = await t.request(`/api/v1/backup?database=${database}`);
  return ((await res.json()) as { backups: Listed[] }).backups;
}

/** Lists after the background verifications queued so far (and any the list itself queues) are done. */
export async function listSettled(t: TestApp, database = "default"): Promise<Listed[]> {
  await list(t, database);
  await t.services.verifications.idle();
  return list(t, database);
}

/** Flips bytes in the middle of the file: its size stays, its checksum and pages do not. */
export function corrupt(file: string): void {
  const bytes = readFileSync(file);
  for (let i = 4096 + 100; i < bytes.length; i += 97) bytes[i] = (bytes[i] as number) ^ 0xff;
  writeFileSync(file, bytes);
}

export const backupDir = (t: TestApp, database = "default") => path.join(t.dataDir, "backups", database);
/** The files a user sees in the backup directory (records are hidden sidecars). */
export const visibleFiles = (dir: string) => readdirSync(dir).filter((f) => !f.startsWith("."));
