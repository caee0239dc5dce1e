import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { now } from "./graph.js";

export const chats = sqliteTable("chats", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  title: text("title").notNull().default("New chat"),
  createdAt: text("created_at").notNull().default(now),
});

export const messages = sqliteTable(
  "messages",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    chatId: integer("chat_id")
      .notNull()
      .references(() => chats.id, { onDelete: "cascade" }),
    role: text("role", { enum: ["user", "assistant", "system"] }).notNull(),
    content: text("content").notNull(),
    createdAt: text("created_at").notNull().default(now),
  },
  (t) => [index("messages_chat_idx").on(t.chatId, t.createdAt)],
);
