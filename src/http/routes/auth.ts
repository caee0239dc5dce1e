import { type Context, Hono } from "hono";
import { z } from "zod";
import {
  authStatus,
  createKey,
  listKeys,
  login,
  logout,
  revokeKey,
  type SignedIn,
  setupOperator,
} from "../../services/auth/index.js";
import { requireIdentity } from "../auth/gate.js";
import { clearedSessionCookie, sessionCookie } from "../auth/session-cookie.js";
import type { AppEnv } from "../env.js";
import { jsonBody } from "../validate.js";

// The verbs validate their own input, so REST, tRPC and the CLI refuse the same things the same way.
const anyBody = z.unknown();

function signIn(c: Context<AppEnv>, signed: SignedIn): void {
  const cookie = sessionCookie(signed.session, c.get("services").now(), c.get("client").secure);
  c.header("Set-Cookie", cookie, { append: true });
  c.header("Cache-Control", "no-store");
}

export const authRoutes = new Hono<AppEnv>()
  .get("/status", async (c) => c.json(await authStatus(c.get("services"), c.get("identity"))))
  .post("/setup", async (c) => {
    const signed = await setupOperator(c.get("services"), await jsonBody(c, anyBody), { clientIp: c.get("client").ip });
    signIn(c, signed);
    return c.json({ username: signed.username }, 201);
  })
  .post("/login", async (c) => {
    const signed = await login(c.get("services"), await jsonBody(c, anyBody), { clientIp: c.get("client").ip });
    signIn(c, signed);
    return c.json({ username: signed.username });
  })
  .post("/logout", async (c) => {
    await logout(c.get("services"), requireIdentity(c));
    c.header("Set-Cookie", clearedSessionCookie(c.get("client").secure), { append: true });
    return c.body(null, 204);
  })
  .get("/me", (c) => {
    const { username, via } = requireIdentity(c);
    return c.json({ username, via });
  })
  .post("/keys", async (c) => {
    requireIdentity(c);
    const body = (await jsonBody(c, z.object({ name: z.unknown() }))) as { name: unknown };
    return c.json(await createKey(c.get("services"), { name: body.name }), 201);
  })
  .get("/keys", async (c) => {
    requireIdentity(c);
    return c.json(await listKeys(c.get("services")));
  })
  .delete("/keys/:id", async (c) => {
    requireIdentity(c);
    await revokeKey(c.get("services"), c.req.param("id"));
    return c.body(null, 204);
  });
