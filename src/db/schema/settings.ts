import { sqliteTable, text } from "drizzle-orm/sqlite-core";
import { now } from "./graph.js";

export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value", { mode: "json" }).notNull(),
  updatedAt: text("updated_at").notNull().default(now),
});
