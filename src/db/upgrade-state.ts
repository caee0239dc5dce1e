import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../lib/durable-fs.js";
import { FormatVersionError, versionedJson } from "../lib/format.js";
import { UPGRADE_STATE_FILE } from "./paths.js";

export { UPGRADE_STATE_FILE } from "./paths.js";

const BLOCK_REASONS = ["migration_failed", "backup_failed", "unreadable"] as const;
export type BlockReason = (typeof BLOCK_REASONS)[number];

/** `databases/<db>/upgrade-state.json` (docs/format.md); a field a build before it did not write reads as null. */
const upgradeStateFormat = versionedJson(
  z.object({
    /** The automatic backup taken before the last upgrade, and the revision it holds. */
    last_backup: z
      .object({ filename: z.string(), revision: z.string().nullable(), created_at: z.string() })
      .nullable()
      .default(null),
    last_applied: z
      .object({ revisions: z.array(z.string()), at: z.string() })
      .nullable()
      .default(null),
    /** Set when an upgrade failed; the database is refused until a rollback or a successful apply. */
    blocked: z
      .object({
        reason: z.enum(BLOCK_REASONS),
        revision: z.string().nullable(),
        error: z.string(),
        backup: z.string().nullable(),
        at: z.string(),
      })
      .nullable()
      .default(null),
    /** Set by a rollback: migrations are held back (not applied on start) until `apply` is run. */
    rolled_back: z
      .object({ backup: z.string(), revision: z.string().nullable(), at: z.string() })
      .nullable()
      .default(null),
  }),
);

/** What the last upgrade of one database did, kept beside its app.db so it survives restarts. */
export type UpgradeState = ReturnType<typeof upgradeStateFormat.parse>;

export const emptyUpgradeState: UpgradeState = {
  last_backup: null,
  last_applied: null,
  blocked: null,
  rolled_back: null,
};

/** A state and the file version it was read at. */
export interface UpgradeStateSnapshot {
  version: string;
  state: UpgradeState;
}

/**
 * How long the lease guard may trust its last look at the file. Every lease reads the state, /verify
 * included, and a stat per request cost about a fifth of /verify's time. A write from this process is
 * seen at once (it drops the cached entry); one from another process (the CLI) within this.
 */
export const UPGRADE_STATE_RECHECK_MS = 250;

/**
 * Reads and writes `databases/<db>/upgrade-state.json`. Reads are cached by the file's identity (inode,
 * mtime, size), so a change written by another process (the CLI) is seen on the next read, or, for the
 * lease guard, within UPGRADE_STATE_RECHECK_MS.
 */
export class UpgradeStateStore {
  readonly #cache = new Map<string, UpgradeStateSnapshot & { checkedAt: number }>();

  constructor(private readonly dbDir: (database: string) => string) {}

  file(database: string): string {
    return path.join(this.dbDir(database), UPGRADE_STATE_FILE);
  }

  /** A token that changes whenever the file does; "none" while there is no file. */
  version(database: string): string {
    const info = statSync(this.file(database), { throwIfNoEntry: false, bigint: true });
    return info ? `${info.ino}:${info.mtimeNs}:${info.size}` : "none";
  }

  read(database: string): UpgradeState {
    return this.snapshot(database).state;
  }

  /**
   * The state with the version it was read at. `maxAgeMs` lets the hot path (every lease) reuse a look at
   * the file that recent; decisions that write the state back read it fresh (the default).
   */
  snapshot(database: string, maxAgeMs = 0): UpgradeStateSnapshot {
    const now = performance.now();
    const cached = this.#cache.get(database);
    if (cached && now - cached.checkedAt < maxAgeMs) return cached;
    const version = this.version(database);
    if (cached?.version === version) {
      cached.checkedAt = now;
      return cached;
    }
    const fresh = { version, state: version === "none" ? emptyUpgradeState : this.#parse(database), checkedAt: now };
    this.#cache.set(database, fresh);
    return fresh;
  }

  async write(database: string, state: UpgradeState): Promise<void> {
    await writeFileAtomic(this.file(database), upgradeStateFormat.serialize(state, { pretty: true }));
    this.#cache.delete(database);
  }

  async update(database: string, change: (state: UpgradeState) => Partial<UpgradeState>): Promise<UpgradeState> {
    const current = this.read(database);
    const next = { ...current, ...change(current) };
    await this.write(database, next);
    return next;
  }

  #parse(database: string): UpgradeState {
    const file = this.file(database);
    try {
      return upgradeStateFormat.parse(readFileSync(file, "utf8"), file);
    } catch (error) {
      // A newer build's state is refused (every lease of the database says why); a torn or hand-edited file
      // must not take the database down: the next upgrade rewrites it.
      if (error instanceof FormatVersionError) throw error;
      return emptyUpgradeState;
    }
  }
}
