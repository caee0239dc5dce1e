import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { now } from "./graph.js";

export const workflows = sqliteTable("workflows", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull(),
  definition: text("definition", { mode: "json" }).notNull(),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  createdAt: text("created_at").notNull().default(now),
});

export const triggers = sqliteTable("triggers", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  workflowId: integer("workflow_id")
    .notNull()
    .references(() => workflows.id, { onDelete: "cascade" }),
  kind: text("kind", { enum: ["cron", "source_added", "manual"] }).notNull(),
  config: text("config", { mode: "json" }).notNull().default({}),
});

export const executions = sqliteTable(
  "executions",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    workflowId: integer("workflow_id")
      .notNull()
      .references(() => workflows.id, { onDelete: "cascade" }),
    status: text("status", { enum: ["running", "succeeded", "failed"] }).notNull(),
    log: text("log"),
    startedAt: text("started_at").notNull().default(now),
    finishedAt: text("finished_at"),
  },
  (t) => [index("executions_workflow_idx").on(t.workflowId, t.startedAt)],
);
