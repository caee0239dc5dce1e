import { Hono } from "hono";
import { z } from "zod";
import { resolveDatabase } from "../../services/databases/index.js";
import { getSchedule, setSchedule } from "../../services/schedules/index.js";
import type { AppEnv } from "../env.js";
import { jsonBody } from "../validate.js";

/** The service validates the schedule itself, so every transport refuses the same input the same way. */
const anyJson = z.unknown();

export const scheduleRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    const deps = c.get("services");
    return c.json(await getSchedule(deps, resolveDatabase(deps, c.req.query("database"))));
  })
  .put("/", async (c) => {
    const deps = c.get("services");
    const database = resolveDatabase(deps, c.req.query("database"));
    return c.json(await setSchedule(deps, database, await jsonBody(c, anyJson)));
  });
