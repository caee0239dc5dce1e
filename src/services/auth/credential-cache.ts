import type { AppDb } from "../../db/connection.js";

/**
 * How long /verify may answer from a credential row it already read. Changes made through this server
 * evict the row at once; a revocation written by another process (the CLI) must be honoured within 5 s
 * (docs/security.md), so this stays well below that.
 */
export const CREDENTIAL_CACHE_MS = 2000;
const MAX_ENTRIES = 1024;

interface Entry<Row> {
  row: Row;
  until: number;
}

/** Rows of usable credentials by id; the secret is still compared against the row's hash on every request. */
export class CredentialCache<Row> {
  readonly #entries = new Map<string, Entry<Row>>();

  get(id: string, now: number): Row | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    if (entry.until > now) return entry.row;
    this.#entries.delete(id);
    return undefined;
  }

  set(id: string, row: Row, now: number): void {
    // Guessed ids are never stored (only rows that exist), so this bound is reached only by many real logins.
    if (this.#entries.size >= MAX_ENTRIES) this.#entries.clear();
    this.#entries.set(id, { row, until: now + CREDENTIAL_CACHE_MS });
  }

  delete(id: string): void {
    this.#entries.delete(id);
  }

  clear(): void {
    this.#entries.clear();
  }
}

/** Per connection, like the prepared statements: a restore opens a new connection, so it starts empty. */
const caches = new WeakMap<AppDb, Map<string, CredentialCache<unknown>>>();

export function credentialCache<Row>(db: AppDb, kind: "api_key" | "session"): CredentialCache<Row> {
  let byKind = caches.get(db);
  if (!byKind) {
    byKind = new Map();
    caches.set(db, byKind);
  }
  let cache = byKind.get(kind);
  if (!cache) {
    cache = new CredentialCache<unknown>();
    byKind.set(kind, cache);
  }
  return cache as CredentialCache<Row>;
}
