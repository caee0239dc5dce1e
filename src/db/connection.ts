import { type BetterSQLite3Database, drizzle } from "drizzle-orm/better-sqlite3";
import * as schema from "./schema/index.js";
import type { Sqlite } from "./sqlite.js";

export {
  checkReadable,
  EMBEDDING_DIMENSIONS,
  type OpenOptions,
  openSqlite,
  type Sqlite,
  VECTOR_TABLE,
} from "./sqlite.js";

export type AppDb = BetterSQLite3Database<typeof schema> & { $client: Sqlite };

export function wrapDrizzle(sqlite: Sqlite): AppDb {
  return drizzle(sqlite, { schema });
}
