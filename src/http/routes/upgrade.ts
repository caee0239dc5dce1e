import { resolveDatabase } from "../../services/databases/index.js";
import { listUpgradeStatus, rollbackUpgrade, upgradeDatabase } from "../../services/migrations/index.js";
import { errorResponses, jsonResponse } from "../openapi/responses.js";
import { apiRouter, defineRoute } from "../openapi/router.js";
import { DatabaseQuery } from "../schemas/common.js";
import { RollbackResult, UpgradeResult, UpgradeStatusList } from "../schemas/upgrade.js";

const tags = ["Upgrades"];

const pending = defineRoute({
  method: "get",
  path: "/pending",
  tags,
  summary: "Each database's schema state and the migrations this build would apply",
  request: { query: DatabaseQuery },
  responses: {
    200: jsonResponse(UpgradeStatusList, "Every database, or only `?database`."),
    ...errorResponses(400, 401, 404, 409, 503),
  },
});

const apply = defineRoute({
  method: "post",
  path: "/apply",
  tags,
  summary: "Apply pending migrations after an automatic pre-upgrade backup",
  request: { query: DatabaseQuery },
  responses: {
    200: jsonResponse(UpgradeResult, "What was applied."),
    ...errorResponses(400, 401, 403, 404, 409, 503, 507),
  },
});

const rollback = defineRoute({
  method: "post",
  path: "/rollback",
  tags,
  summary: "Restore the last pre-upgrade backup and hold migrations back",
  request: { query: DatabaseQuery },
  responses: {
    200: jsonResponse(RollbackResult, "Rolled back."),
    ...errorResponses(400, 401, 403, 404, 409, 422, 503, 507),
  },
});

/** Upgrade routes work on blocked databases too: they are how an operator gets one back. */
export const upgradeRoutes = apiRouter()
  .openapi(pending, (c) => {
    const deps = c.get("services");
    const requested = c.req.valid("query").database;
    const only = requested === undefined ? undefined : resolveDatabase(deps, requested, { allowBlocked: true });
    return c.json(listUpgradeStatus(deps, only), 200);
  })
  .openapi(apply, async (c) => {
    const deps = c.get("services");
    const database = resolveDatabase(deps, c.req.valid("query").database, { allowBlocked: true });
    return c.json(await upgradeDatabase(deps, database, { includeRolledBack: true }), 200);
  })
  .openapi(rollback, async (c) => {
    const deps = c.get("services");
    const database = resolveDatabase(deps, c.req.valid("query").database, { allowBlocked: true });
    return c.json(await rollbackUpgrade(deps, database), 200);
  });
