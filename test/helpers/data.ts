import { count } from "drizzle-orm";
import type { AppDb, Sqlite } from "../../src/db/connection.js";
import { EMBEDDING_DIMENSIONS } from "../../src/db/connection.js";
import { nodes } from "../../src/db/schema/index.js";
import type { ServiceDeps } from "../../src/services/deps.js";

export function insertNode(db: AppDb, title: string): number {
  return db
    .insert(nodes)
    .values({ title, body: `body of ${title}` })
    .returning({ id: nodes.id })
    .get().id;
}

export function nodeTitles(db: AppDb): string[] {
  return db
    .select({ title: nodes.title })
    .from(nodes)
    .orderBy(nodes.id)
    .all()
    .map((r) => r.title);
}

export function countNodes(db: AppDb): number {
  return db.select({ n: count() }).from(nodes).get()?.n ?? 0;
}

/** A deterministic pseudo-random unit-ish vector, so nearest neighbours are stable across runs. */
export function vector(seed: number): Float32Array {
  const v = new Float32Array(EMBEDDING_DIMENSIONS);
  let x = seed * 2654435761;
  for (let i = 0; i < v.length; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    v[i] = x / 2147483648 - 0.5;
  }
  return v;
}

export function insertVectors(sqlite: Sqlite, ids: number[]): void {
  const insert = sqlite.prepare("INSERT INTO chunk_embeddings (chunk_id, embedding) VALUES (?, ?)");
  sqlite.transaction(() => {
    for (const id of ids) insert.run(BigInt(id), Buffer.from(vector(id).buffer));
  })();
}

export function nearest(sqlite: Sqlite, seed: number, k = 5): number[] {
  const rows = sqlite
    .prepare("SELECT chunk_id FROM chunk_embeddings WHERE embedding MATCH ? ORDER BY distance LIMIT ?")
    .all(Buffer.from(vector(seed).buffer), k) as { chunk_id: number }[];
  return rows.map((r) => Number(r.chunk_id));
}

/** Runs `fn` on the live database through its holder, as request handlers do. */
export function withDb<T>(services: ServiceDeps, database: string, fn: (db: AppDb) => T): Promise<T> {
  return services.registry.holder(database).lease(fn);
}
