import { Hono } from "hono";
import { z } from "zod";
import { createDatabase, listDatabases, setCurrentDatabase } from "../../services/databases/index.js";
import type { AppEnv } from "../env.js";
import { jsonBody } from "../validate.js";

const nameBody = z.object({ name: z.string() });

export const databaseRoutes = new Hono<AppEnv>()
  .get("/", (c) => c.json(listDatabases(c.get("services"))))
  .post("/", async (c) => {
    const { name } = await jsonBody(c, nameBody);
    return c.json(createDatabase(c.get("services"), name), 201);
  })
  .patch("/current", async (c) => {
    const { name } = await jsonBody(c, nameBody);
    return c.json(await setCurrentDatabase(c.get("services"), name));
  });
