import { createCallerFactory, router } from "./init.js";
import { authRouter } from "./routers/auth.js";
import { backupRouter } from "./routers/backup.js";
import { databasesRouter } from "./routers/databases.js";
import { keysRouter } from "./routers/keys.js";
import { offsiteRouter } from "./routers/offsite.js";
import { scheduleRouter } from "./routers/schedule.js";
import { upgradeRouter } from "./routers/upgrade.js";

export const appRouter = router({
  auth: authRouter,
  keys: keysRouter,
  backup: backupRouter,
  databases: databasesRouter,
  upgrade: upgradeRouter,
  offsite: offsiteRouter,
  schedule: scheduleRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
