import { createCallerFactory, router } from "./init.js";
import { backupRouter } from "./routers/backup.js";
import { databasesRouter } from "./routers/databases.js";
import { upgradeRouter } from "./routers/upgrade.js";

export const appRouter = router({
  backup: backupRouter,
  databases: databasesRouter,
  upgrade: upgradeRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
