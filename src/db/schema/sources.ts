import { index, integer, real, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { nodes, now } from "./graph.js";

export const sources = sqliteTable("sources", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  kind: text("kind", { enum: ["file", "url", "note"] }).notNull(),
  uri: text("uri").notNull(),
  title: text("title"),
  mimeType: text("mime_type"),
  byteSize: integer("byte_size").notNull().default(0),
  stage: text("stage", { enum: ["queued", "extracting", "chunking", "embedding", "done", "failed"] })
    .notNull()
    .default("queued"),
  stageProgress: real("stage_progress").notNull().default(0),
  error: text("error"),
  createdAt: text("created_at").notNull().default(now),
  updatedAt: text("updated_at").notNull().default(now),
});

export const documentChunks = sqliteTable(
  "document_chunks",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    sourceId: integer("source_id")
      .notNull()
      .references(() => sources.id, { onDelete: "cascade" }),
    ordinal: integer("ordinal").notNull(),
    content: text("content").notNull(),
    tokenCount: integer("token_count").notNull().default(0),
    qualityScore: real("quality_score"),
    goodVotes: integer("good_votes").notNull().default(0),
    badVotes: integer("bad_votes").notNull().default(0),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [index("document_chunks_source_idx").on(t.sourceId, t.ordinal)],
);

export const extractions = sqliteTable("extractions", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  chunkId: integer("chunk_id")
    .notNull()
    .references(() => documentChunks.id, { onDelete: "cascade" }),
  nodeId: integer("node_id").references(() => nodes.id, { onDelete: "set null" }),
  payload: text("payload", { mode: "json" }).notNull(),
  confidence: real("confidence").notNull().default(0),
  createdAt: text("created_at").notNull().default(now),
});
