import { Hono } from "hono";
import { resolveDatabase } from "../../services/databases/index.js";
import { fetchCopy, listRemoteCopies, pushCopies } from "../../services/offsite/index.js";
import type { AppEnv } from "../env.js";

/** SPEC §9: the remote side. Listing reads the bucket; it works for a database this host does not have yet. */
export const offsiteRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const deps = c.get("services");
    return c.json(await listRemoteCopies(deps, c.req.query("database") ?? deps.settings.current));
  })
  .post("/push", async (c) => {
    const deps = c.get("services");
    return c.json(await pushCopies(deps, resolveDatabase(deps, c.req.query("database"))), 202);
  })
  .post("/:filename/fetch", async (c) => {
    const deps = c.get("services");
    const database = resolveDatabase(deps, c.req.query("database"));
    return c.json(await fetchCopy(deps, database, c.req.param("filename")), 201);
  });
