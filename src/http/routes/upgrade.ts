import { Hono } from "hono";
import { resolveDatabase } from "../../services/databases/index.js";
import { listUpgradeStatus, rollbackUpgrade, upgradeDatabase } from "../../services/migrations/index.js";
import type { AppEnv } from "../env.js";

/** Upgrade routes work on blocked databases too: they are how an operator gets one back. */
export const upgradeRoutes = new Hono<AppEnv>()
  .get("/pending", (c) => {
    const deps = c.get("services");
    const requested = c.req.query("database");
    const only = requested === undefined ? undefined : resolveDatabase(deps, requested, { allowBlocked: true });
    return c.json(listUpgradeStatus(deps, only));
  })
  .post("/apply", async (c) => {
    const deps = c.get("services");
    const database = resolveDatabase(deps, c.req.query("database"), { allowBlocked: true });
    return c.json(await upgradeDatabase(deps, database, { includeRolledBack: true }));
  })
  .post("/rollback", async (c) => {
    const deps = c.get("services");
    const database = resolveDatabase(deps, c.req.query("database"), { allowBlocked: true });
    return c.json(await rollbackUpgrade(deps, database));
  });
