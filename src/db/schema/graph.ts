import { sql } from "drizzle-orm";
import { index, integer, real, sqliteTable, text } from "drizzle-orm/sqlite-core";

const now = sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`;

export const templates = sqliteTable("templates", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull().unique(),
  description: text("description"),
  fields: text("fields", { mode: "json" }).$type<Record<string, string>>().notNull().default({}),
  createdAt: text("created_at").notNull().default(now),
});

export const nodes = sqliteTable(
  "nodes",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    templateId: integer("template_id").references(() => templates.id, { onDelete: "set null" }),
    title: text("title").notNull(),
    body: text("body").notNull().default(""),
    properties: text("properties", { mode: "json" }).$type<Record<string, unknown>>().notNull().default({}),
    createdAt: text("created_at").notNull().default(now),
    updatedAt: text("updated_at").notNull().default(now),
  },
  (t) => [index("nodes_template_idx").on(t.templateId), index("nodes_title_idx").on(t.title)],
);

export const relationships = sqliteTable("relationships", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull().unique(),
  inverseName: text("inverse_name"),
  directed: integer("directed", { mode: "boolean" }).notNull().default(true),
});

export const edges = sqliteTable(
  "edges",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    sourceNodeId: integer("source_node_id")
      .notNull()
      .references(() => nodes.id, { onDelete: "cascade" }),
    targetNodeId: integer("target_node_id")
      .notNull()
      .references(() => nodes.id, { onDelete: "cascade" }),
    relationshipId: integer("relationship_id")
      .notNull()
      .references(() => relationships.id),
    weight: real("weight").notNull().default(1),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [index("edges_source_idx").on(t.sourceNodeId), index("edges_target_idx").on(t.targetNodeId)],
);

export { now };
