import { createCallerFactory, router } from "./init.js";
import { backupRouter } from "./routers/backup.js";
import { databasesRouter } from "./routers/databases.js";

export const appRouter = router({
  backup: backupRouter,
  databases: databasesRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
