import { EMBEDDING_DIMENSIONS, openSqlite } from "../src/db/connection.js";

/**
 * The app writing to its knowledge base: one small transaction per ingested chunk (text plus vector),
 * as fast as it can, in its own process with the app's pragmas. Started and stopped by the bench over IPC.
 */
const file = process.argv[2];
if (!file || !process.send) throw new Error("usage: forked with the app.db path");

const sqlite = openSqlite(file);
const source = Number(
  sqlite.prepare("INSERT INTO sources (kind, uri, title) VALUES ('note', 'bench:writer', 'writer')").run()
    .lastInsertRowid,
);
const insertChunk = sqlite.prepare("INSERT INTO document_chunks (source_id, ordinal, content) VALUES (?, ?, ?)");
const insertVector = sqlite.prepare("INSERT INTO chunk_embeddings (chunk_id, embedding) VALUES (?, ?)");
const content = "writer ".repeat(170);
const vector = Buffer.from(new Float32Array(EMBEDDING_DIMENSIONS).fill(0.5).buffer);
let ordinal = 0;
const write = sqlite.transaction(() => {
  const id = insertChunk.run(source, ordinal++, content).lastInsertRowid;
  insertVector.run(BigInt(id), vector);
});

let running = false;
let commits = 0;
let errors = 0;
let started = 0;

function burst(): void {
  if (!running) return;
  const until = performance.now() + 20;
  while (performance.now() < until) {
    try {
      write.immediate();
      commits++;
    } catch {
      errors++;
    }
  }
  setImmediate(burst);
}

process.on("message", (message: string) => {
  if (message === "start") {
    running = true;
    commits = 0;
    errors = 0;
    started = performance.now();
    setImmediate(burst);
  } else if (message === "stop") {
    running = false;
    const seconds = (performance.now() - started) / 1000;
    process.send?.({ commits, errors, seconds });
  } else if (message === "exit") {
    sqlite.close();
    process.exit(0);
  }
});
process.send({ ready: true });
