import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { now } from "./graph.js";

export const users = sqliteTable("users", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  username: text("username").notNull().unique(),
  passwordHash: text("password_hash").notNull(),
  createdAt: text("created_at").notNull().default(now),
});

// Only a SHA-256 of the token's secret is stored; the id half is the lookup key.
export const sessions = sqliteTable(
  "sessions",
  {
    id: text("id").primaryKey(),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    secretHash: text("secret_hash").notNull(),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    lastVerifiedAt: integer("last_verified_at").notNull(),
  },
  (t) => [index("sessions_user_idx").on(t.userId)],
);

export const apiKeys = sqliteTable("api_keys", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  userId: integer("user_id")
    .notNull()
    .references(() => users.id, { onDelete: "cascade" }),
  secretHash: text("secret_hash").notNull(),
  createdAt: integer("created_at").notNull(),
  lastUsedAt: integer("last_used_at"),
  revokedAt: integer("revoked_at"),
  /** read < operate < admin; keys minted before scopes existed became admin (they could do everything). */
  scope: text("scope", { enum: ["read", "operate", "admin"] })
    .notNull()
    .default("admin"),
  /** Epoch ms after which the key is refused; null: never. */
  expiresAt: integer("expires_at"),
});
