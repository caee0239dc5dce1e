import type { Context } from "hono";
import { clearedSessionCookie, sessionCookie } from "../../lib/session-cookie.js";
import {
  authStatus,
  changePassword,
  createKey,
  listKeys,
  login,
  logout,
  revokeKey,
  type SignedIn,
  setupOperator,
} from "../../services/auth/index.js";
import { requireIdentity } from "../auth/gate.js";
import type { AppEnv } from "../env.js";
import { errorResponses, header, jsonBody, jsonResponse, PUBLIC } from "../openapi/responses.js";
import { apiRouter, defineRoute } from "../openapi/router.js";
import {
  AuthStatus,
  KeyCreateRequest,
  KeyIdParam,
  KeyList,
  LoginRequest,
  Me,
  MintedKey,
  PasswordChanged,
  PasswordChangeRequest,
  SetupRequest,
  SignedIn as SignedInBody,
} from "../schemas/auth.js";

const tags = ["Auth"];
const keyTags = ["API keys"];
const setCookie = {
  "Set-Cookie": header("`cc_session=<token>; HttpOnly; SameSite=Lax; Path=/` (plus `Secure` under TLS)."),
};

function signIn(c: Context<AppEnv>, signed: SignedIn): void {
  const cookie = sessionCookie(signed.session, c.get("services").now(), c.get("client").secure);
  c.header("Set-Cookie", cookie, { append: true });
  c.header("Cache-Control", "no-store");
}

const status = defineRoute({
  method: "get",
  path: "/status",
  tags,
  summary: "Whether setup is needed and who is signed in",
  security: PUBLIC,
  responses: { 200: jsonResponse(AuthStatus, "The sign-in state."), ...errorResponses(409, 503) },
});

const setup = defineRoute({
  method: "post",
  path: "/setup",
  tags,
  summary: "Create the operator account (first run only) and sign in",
  security: PUBLIC,
  request: { body: jsonBody(SetupRequest) },
  responses: {
    201: { ...jsonResponse(SignedInBody, "The account exists; the session cookie is set."), headers: setCookie },
    ...errorResponses(400, 403, 409, 413, 429, 503, 507),
  },
});

const signInRoute = defineRoute({
  method: "post",
  path: "/login",
  tags,
  summary: "Sign in with the operator's username and password",
  security: PUBLIC,
  request: { body: jsonBody(LoginRequest) },
  responses: {
    200: { ...jsonResponse(SignedInBody, "Signed in; the session cookie is set."), headers: setCookie },
    ...errorResponses(400, 401, 403, 409, 413, 429, 503, 507),
  },
});

const signOut = defineRoute({
  method: "post",
  path: "/logout",
  tags,
  summary: "End this session and clear the cookie",
  responses: {
    204: { description: "Signed out; the cookie is cleared.", headers: setCookie },
    ...errorResponses(401, 403, 409, 503),
  },
});

const me = defineRoute({
  method: "get",
  path: "/me",
  tags,
  summary: "Who this request acts for",
  responses: { 200: jsonResponse(Me, "The caller."), ...errorResponses(401, 409, 503) },
});

const mintKey = defineRoute({
  method: "post",
  path: "/keys",
  tags: keyTags,
  summary: "Mint an API key (shown this once only) with a scope (default read) and an optional expiry",
  request: { body: jsonBody(KeyCreateRequest) },
  responses: {
    201: jsonResponse(MintedKey, "The key; only a hash of it is kept."),
    ...errorResponses(400, 401, 403, 409, 413, 503, 507),
  },
});

const keys = defineRoute({
  method: "get",
  path: "/keys",
  tags: keyTags,
  summary: "List the keys not revoked, with scope, expiry and prefix (never a key or its hash)",
  responses: { 200: jsonResponse(KeyList, "Keys not revoked."), ...errorResponses(401, 403, 409, 503) },
});

const password = defineRoute({
  method: "post",
  path: "/password",
  tags,
  summary: "Change the operator's password (the current one required); every other session ends",
  request: { body: jsonBody(PasswordChangeRequest) },
  responses: {
    200: jsonResponse(PasswordChanged, "Changed; this session stays signed in."),
    ...errorResponses(400, 401, 403, 409, 413, 429, 503, 507),
  },
});

const revoke = defineRoute({
  method: "delete",
  path: "/keys/{id}",
  tags: keyTags,
  summary: "Revoke a key, at once and everywhere",
  request: { params: KeyIdParam },
  responses: { 204: { description: "Revoked." }, ...errorResponses(400, 401, 403, 404, 409, 503, 507) },
});

export const authRoutes = apiRouter()
  .openapi(status, async (c) => c.json(await authStatus(c.get("services"), c.get("identity")), 200))
  .openapi(setup, async (c) => {
    const signed = await setupOperator(c.get("services"), c.req.valid("json"), { clientIp: c.get("client").ip });
    signIn(c, signed);
    return c.json({ username: signed.username }, 201);
  })
  .openapi(signInRoute, async (c) => {
    const signed = await login(c.get("services"), c.req.valid("json"), { clientIp: c.get("client").ip });
    signIn(c, signed);
    return c.json({ username: signed.username }, 200);
  })
  .openapi(signOut, async (c) => {
    await logout(c.get("services"), requireIdentity(c));
    c.header("Set-Cookie", clearedSessionCookie(c.get("client").secure), { append: true });
    return c.body(null, 204);
  })
  .openapi(password, async (c) => {
    const services = c.get("services");
    const caller = { clientIp: c.get("client").ip };
    return c.json(await changePassword(services, requireIdentity(c), c.req.valid("json"), caller), 200);
  })
  .openapi(me, (c) => {
    const { username, via, scope } = requireIdentity(c);
    return c.json({ username, via, scope }, 200);
  })
  .openapi(mintKey, async (c) => {
    requireIdentity(c);
    return c.json(await createKey(c.get("services"), c.req.valid("json")), 201);
  })
  .openapi(keys, async (c) => {
    requireIdentity(c);
    return c.json(await listKeys(c.get("services")), 200);
  })
  .openapi(revoke, async (c) => {
    requireIdentity(c);
    await revokeKey(c.get("services"), c.req.valid("param").id);
    return c.body(null, 204);
  });
