import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "../lib/durable-fs.js";

export const UPGRADE_STATE_FILE = "upgrade-state.json";

export type BlockReason = "migration_failed" | "backup_failed" | "unreadable";

/** What the last upgrade of one database did, kept beside its app.db so it survives restarts. */
export interface UpgradeState {
  /** The automatic backup taken before the last upgrade, and the revision it holds. */
  last_backup: { filename: string; revision: string | null; created_at: string } | null;
  last_applied: { revisions: string[]; at: string } | null;
  /** Set when an upgrade failed; the database is refused until a rollback or a successful apply. */
  blocked: { reason: BlockReason; revision: string | null; error: string; backup: string | null; at: string } | null;
  /** Set by a rollback: migrations are held back (not applied on start) until `apply` is run. */
  rolled_back: { backup: string; revision: string | null; at: string } | null;
}

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
    await writeFileAtomic(this.file(database), `${JSON.stringify(state, null, 2)}\n`);
    this.#cache.delete(database);
  }

  async update(database: string, change: (state: UpgradeState) => Partial<UpgradeState>): Promise<UpgradeState> {
    const current = this.read(database);
    const next = { ...current, ...change(current) };
    await this.write(database, next);
    return next;
  }

  #parse(database: string): UpgradeState {
    try {
      return { ...emptyUpgradeState, ...(JSON.parse(readFileSync(this.file(database), "utf8")) as UpgradeState) };
    } catch {
      // A torn or hand-edited file must not take the database down; the next upgrade rewrites it.
      return emptyUpgradeState;
    }
  }
}
