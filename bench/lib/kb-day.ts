import { openSqlite, type Sqlite } from "../../src/db/connection.js";
import { insertDocument, mulberry32, statements, TextGen } from "../dataset.js";

/**
 * One simulated day of a knowledge base (the issue's: 1 % of rows updated, 0.5 % inserted, 0.2 % deleted), applied
 * to the bench dataset's own tables with rows chosen at random:
 * - updated: 1 % of sources (title, progress), of document_chunks (re-chunked text) with their chunk_embeddings
 *   (a new vector), of nodes (body, properties) and of edges (weight);
 * - inserted: 0.5 % more documents, each as ingestion writes it (a source, its chunks and vectors, extractions,
 *   nodes, edges, a chat), so every table grows by about 0.5 %;
 * - deleted: 0.2 % of sources (their chunks and extractions by cascade, their vectors explicitly) and 0.2 % of
 *   nodes (their edges by cascade).
 * One transaction, then a checkpoint (as the app's backups see the database). Seeded: a day is reproducible.
 */
export function applyDay(file: string, seed: number): { updated: number; inserted: number; deleted: number } {
  const sqlite = openSqlite(file);
  try {
    return sqlite.transaction(() => changeRows(sqlite, seed))();
  } finally {
    sqlite.pragma("wal_checkpoint(TRUNCATE)");
    sqlite.close();
  }
}

function changeRows(sqlite: Sqlite, seed: number) {
  const random = mulberry32(seed);
  const gen = new TextGen(random);
  const ids = (table: string) => (sqlite.prepare(`SELECT id FROM ${table}`).pluck().all() as number[]) ?? [];
  /** `share` of the ids, distinct, chosen at random. */
  const pick = (all: number[], share: number) => {
    const n = Math.max(1, Math.round(all.length * share));
    const chosen = new Set<number>();
    while (chosen.size < Math.min(n, all.length)) chosen.add(all[Math.floor(random() * all.length)] as number);
    return [...chosen];
  };
  let updated = 0;
  const sources = ids("sources");
  const chunks = ids("document_chunks");
  const nodes = ids("nodes");
  const edges = ids("edges");
  const setSource = sqlite.prepare("UPDATE sources SET title = ?, stage_progress = ? WHERE id = ?");
  for (const id of pick(sources, 0.01)) updated += setSource.run(gen.words(40), random(), id).changes;
  const setChunk = sqlite.prepare("UPDATE document_chunks SET content = ?, token_count = ? WHERE id = ?");
  const setVector = sqlite.prepare("UPDATE chunk_embeddings SET embedding = ? WHERE chunk_id = ?");
  for (const id of pick(chunks, 0.01)) {
    updated += setChunk.run(gen.words(1200), 260, id).changes;
    updated += setVector.run(gen.vector(), BigInt(id)).changes;
  }
  const setNode = sqlite.prepare("UPDATE nodes SET body = ?, properties = ? WHERE id = ?");
  for (const id of pick(nodes, 0.01)) {
    updated += setNode.run(
      gen.words(600),
      JSON.stringify({ tags: gen.words(30).split(" "), score: random() }),
      id,
    ).changes;
  }
  const setEdge = sqlite.prepare("UPDATE edges SET weight = ? WHERE id = ?");
  for (const id of pick(edges, 0.01)) updated += setEdge.run(random(), id).changes;

  const s = statements(sqlite);
  const newDocs = Math.max(1, Math.round(sources.length * 0.005));
  const firstDoc = Math.max(...sources) + 1;
  for (let d = 0; d < newDocs; d++) insertDocument(s, gen, random, firstDoc + d);

  let deleted = 0;
  const chunksOf = sqlite.prepare("SELECT id FROM document_chunks WHERE source_id = ?").pluck();
  const dropVector = sqlite.prepare("DELETE FROM chunk_embeddings WHERE chunk_id = ?");
  const dropSource = sqlite.prepare("DELETE FROM sources WHERE id = ?");
  for (const id of pick(sources, 0.002)) {
    for (const chunk of chunksOf.all(id) as number[]) deleted += dropVector.run(BigInt(chunk)).changes;
    deleted += dropSource.run(id).changes;
  }
  const dropNode = sqlite.prepare("DELETE FROM nodes WHERE id = ?");
  for (const id of pick(nodes, 0.002)) deleted += dropNode.run(id).changes;
  return { updated, inserted: newDocs, deleted };
}
