import { serve } from "@hono/node-server";
import { Hono } from "hono";

/** The baseline for /verify: the same HTTP stack with nothing behind it. */
const app = new Hono().get("/verify", (c) => c.text("ok"));

serve({ fetch: app.fetch, hostname: process.env.HOST ?? "127.0.0.1", port: Number(process.env.PORT ?? 0) });
