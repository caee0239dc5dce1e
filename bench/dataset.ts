import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { EMBEDDING_DIMENSIONS, openSqlite, type Sqlite } from "../src/db/connection.js";
import { applyMigrations, loadMigrations } from "../src/db/migrations.js";

/** Cached datasets live here, one file per size, so reruns skip the build. */
export const DATA_ROOT = path.resolve(import.meta.dirname, ".data");

const WORDS = (
  "graph node edge source chunk vector embedding query answer context note link backup restore schema table " +
  "index page memory cache signal entity relation claim evidence summary topic author paper method result " +
  "model dataset metric latency throughput figure draft review comment idea question theory proof example " +
  "the of and to in is that for it as with was on be by this are from or an at which have not they"
).split(" ");

/** Deterministic PRNG, so a given size always yields the same file. */
export function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class TextGen {
  constructor(private readonly random: () => number) {}

  words(approxChars: number): string {
    const out: string[] = [];
    let length = 0;
    while (length < approxChars) {
      const word = WORDS[Math.floor(this.random() * WORDS.length)] as string;
      out.push(word);
      length += word.length + 1;
    }
    return out.join(" ");
  }

  vector(): Buffer {
    const v = new Float32Array(EMBEDDING_DIMENSIONS);
    for (let i = 0; i < v.length; i++) v[i] = this.random() * 2 - 1;
    return Buffer.from(v.buffer);
  }
}

const CHUNKS_PER_SOURCE = 40;

export function statements(sqlite: Sqlite) {
  return {
    source: sqlite.prepare(
      "INSERT INTO sources (kind, uri, title, mime_type, byte_size, stage, stage_progress) VALUES ('file', ?, ?, 'text/plain', ?, 'done', 1)",
    ),
    chunk: sqlite.prepare("INSERT INTO document_chunks (source_id, ordinal, content, token_count) VALUES (?, ?, ?, ?)"),
    embedding: sqlite.prepare("INSERT INTO chunk_embeddings (chunk_id, embedding) VALUES (?, ?)"),
    node: sqlite.prepare("INSERT INTO nodes (title, body, properties) VALUES (?, ?, ?)"),
    edge: sqlite.prepare(
      "INSERT INTO edges (source_node_id, target_node_id, relationship_id, weight) VALUES (?, ?, 1, ?)",
    ),
    extraction: sqlite.prepare("INSERT INTO extractions (chunk_id, node_id, payload, confidence) VALUES (?, ?, ?, ?)"),
    chat: sqlite.prepare("INSERT INTO chats (title) VALUES (?)"),
    message: sqlite.prepare("INSERT INTO messages (chat_id, role, content) VALUES (?, ?, ?)"),
  };
}

/** One ingested document: a source, its chunks with vectors, extracted nodes and edges, and a chat about it. */
export function insertDocument(
  s: ReturnType<typeof statements>,
  gen: TextGen,
  random: () => number,
  doc: number,
): void {
  const sourceId = Number(s.source.run(`file:///kb/doc-${doc}.txt`, gen.words(40), 60_000).lastInsertRowid);
  const nodeIds: number[] = [];
  for (let n = 0; n < 6; n++) {
    const properties = JSON.stringify({ doc, tags: gen.words(30).split(" "), score: random() });
    nodeIds.push(Number(s.node.run(gen.words(30), gen.words(600), properties).lastInsertRowid));
  }
  for (let e = 1; e < nodeIds.length; e++) s.edge.run(nodeIds[e - 1], nodeIds[e], random());
  for (let ordinal = 0; ordinal < CHUNKS_PER_SOURCE; ordinal++) {
    const chunkId = s.chunk.run(sourceId, ordinal, gen.words(1200), 260).lastInsertRowid;
    s.embedding.run(BigInt(chunkId), gen.vector());
    if (ordinal % 8 === 0) {
      const payload = JSON.stringify({ entities: gen.words(120).split(" "), claim: gen.words(80) });
      s.extraction.run(chunkId, nodeIds[ordinal % nodeIds.length], payload, random());
    }
  }
  const chatId = s.chat.run(gen.words(40)).lastInsertRowid;
  for (let m = 0; m < 8; m++) s.message.run(chatId, m % 2 === 0 ? "user" : "assistant", gen.words(500));
}

/** Writes a fresh app.db of roughly `sizeMb` MiB with the real schema; fast settings while building, WAL at the end. */
export function buildDataset(file: string, sizeMb: number, log: (line: string) => void): void {
  const temp = `${file}.building`;
  rmSync(temp, { force: true });
  const sqlite = openSqlite(temp, { wal: false });
  try {
    sqlite.pragma("journal_mode = OFF");
    sqlite.pragma("synchronous = OFF");
    sqlite.pragma("cache_size = -262144");
    applyMigrations(sqlite, loadMigrations());
    sqlite.prepare("INSERT INTO relationships (name, inverse_name) VALUES ('mentions', 'mentioned_by')").run();
    const s = statements(sqlite);
    const random = mulberry32(sizeMb);
    const gen = new TextGen(random);
    const target = sizeMb * 1024 * 1024;
    const pageSize = sqlite.pragma("page_size", { simple: true }) as number;
    const batch = sqlite.transaction((first: number) => {
      for (let doc = first; doc < first + 50; doc++) insertDocument(s, gen, random, doc);
    });
    let doc = 0;
    let lastLog = 0;
    while ((sqlite.pragma("page_count", { simple: true }) as number) * pageSize < target) {
      batch(doc);
      doc += 50;
      const size = (sqlite.pragma("page_count", { simple: true }) as number) * pageSize;
      if (size - lastLog > target / 8) {
        lastLog = size;
        log(`  dataset: ${Math.round(size / 2 ** 20)} / ${sizeMb} MiB`);
      }
    }
    sqlite.pragma("journal_mode = WAL");
  } finally {
    sqlite.close();
  }
  renameSync(temp, file);
}

/** The cached dataset for this size, built on first use. */
export function ensureDataset(sizeMb: number, log: (line: string) => void): { file: string; built: boolean } {
  mkdirSync(DATA_ROOT, { recursive: true });
  // Keyed by the newest migration too: a file with an older schema would be migrated (and backed up) at start.
  const revision = loadMigrations().at(-1)?.hash.slice(0, 8) ?? "none";
  const file = path.join(DATA_ROOT, `dataset-${sizeMb}mb-${revision}.db`);
  if (existsSync(file)) return { file, built: false };
  const started = performance.now();
  log(`building a ${sizeMb} MiB dataset (cached in ${path.relative(process.cwd(), DATA_ROOT)}/)`);
  buildDataset(file, sizeMb, log);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  log(`  dataset built in ${seconds} s, ${Math.round(statSync(file).size / 2 ** 20)} MiB`);
  return { file, built: true };
}
