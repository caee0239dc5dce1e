import { createHash, timingSafeEqual } from "node:crypto";
import { eq } from "drizzle-orm";
import { users } from "../../db/schema/index.js";
import { AuthRequiredError, ConflictError, ForbiddenError } from "../../errors.js";
import type { ServiceDeps } from "../deps.js";
import { hashPassword, verifyPassword } from "./password.js";
import { loginInput, parseInput, setupInput } from "./schemas.js";
import { createSession, deleteSession, type NewSession } from "./sessions.js";
import { AUTH_DATABASE, type Identity } from "./types.js";

export interface AuthStatus {
  setup_needed: boolean;
  authenticated: boolean;
  username?: string;
}

export interface SignedIn {
  username: string;
  session: NewSession;
}

/** Who is asking: a client IP is throttled; `null` is a local caller (the CLI), which is not. */
export interface Caller {
  clientIp: string | null;
  /** A process with access to the data dir (the CLI on the host): that access is its authority, no token. */
  local?: boolean;
}

/** The token first-run setup needs: CHAOSCYPHER_SETUP_TOKEN, else the one this process printed at start. */
export function setupToken(deps: ServiceDeps): string {
  return deps.config.setupToken ?? deps.auth.generatedSetupToken;
}

/** The setup URL for the start-up log, or null once an operator exists. */
export async function pendingSetupUrl(deps: ServiceDeps, base: string): Promise<string | null> {
  if (await hasOperator(deps)) return null;
  return `${base}/?setup=${encodeURIComponent(setupToken(deps))}`;
}

const digest = (value: string) => createHash("sha256").update(value).digest();

/** Whoever reaches an unclaimed server first must not own it: a remote setup proves it read the server's log. */
function requireSetupToken(deps: ServiceDeps, given: string | undefined): void {
  if (given !== undefined && timingSafeEqual(digest(given), digest(setupToken(deps)))) return;
  const where = deps.config.setupToken
    ? "it is the value of CHAOSCYPHER_SETUP_TOKEN"
    : 'the server printed a setup URL ending in "/?setup=<token>" to its log when it started; open that URL';
  throw new ForbiddenError(
    `${given === undefined ? "setup needs" : "wrong"} setup_token: ${where} ` +
      '(or run "chaoscypher auth setup" on the host, which needs none)',
  );
}

async function hasOperator(deps: ServiceDeps): Promise<boolean> {
  return deps.registry
    .holder(AUTH_DATABASE)
    .lease((db) => db.select({ id: users.id }).from(users).limit(1).get())
    .then((row) => row !== undefined);
}

export async function authStatus(deps: ServiceDeps, identity: Identity | null): Promise<AuthStatus> {
  const setup_needed = !(await hasOperator(deps));
  return identity
    ? { setup_needed, authenticated: true, username: identity.username }
    : { setup_needed, authenticated: false };
}

/** First run only: creates the operator account and signs it in; 409 once an operator exists. */
export async function setupOperator(deps: ServiceDeps, input: unknown, caller: Caller): Promise<SignedIn> {
  if (caller.clientIp !== null) deps.auth.throttle.take(`setup:${caller.clientIp}`);
  const { username, password, setup_token } = parseInput(setupInput, input);
  const taken = () => new ConflictError("the operator account is already set up");
  if (await hasOperator(deps)) throw taken();
  if (!caller.local) requireSetupToken(deps, setup_token);
  const passwordHash = await hashPassword(password, deps.auth.kdf);
  const userId = await deps.registry.holder(AUTH_DATABASE).lease((db) =>
    db.transaction((tx) => {
      // Checked again inside the write transaction: two racing setups cannot both succeed.
      if (tx.select({ id: users.id }).from(users).limit(1).get()) throw taken();
      return tx.insert(users).values({ username, passwordHash }).returning({ id: users.id }).get().id;
    }),
  );
  deps.logger.info({ username }, "operator account set up");
  return { username, session: await createSession(deps, userId) };
}

/** 401 for an unknown user and a wrong password alike, after the same amount of hashing. */
export async function login(deps: ServiceDeps, input: unknown, caller: Caller): Promise<SignedIn> {
  if (caller.clientIp !== null) deps.auth.throttle.take(`login:${caller.clientIp}`);
  const { username, password } = parseInput(loginInput, input);
  const user = await deps.registry
    .holder(AUTH_DATABASE)
    .lease((db) =>
      db
        .select({ id: users.id, passwordHash: users.passwordHash })
        .from(users)
        .where(eq(users.username, username))
        .get(),
    );
  const valid = await verifyPassword(password, user?.passwordHash ?? (await deps.auth.dummyHash()));
  if (!user || !valid) {
    deps.logger.warn({ username, clientIp: caller.clientIp }, "login refused");
    throw new AuthRequiredError("invalid username or password");
  }
  const session = await createSession(deps, user.id, user.passwordHash);
  deps.logger.info({ username, clientIp: caller.clientIp }, "signed in");
  return { username, session };
}

/** Ends the caller's session; a request made with an API key has none to end. */
export async function logout(deps: ServiceDeps, identity: Identity): Promise<void> {
  if (identity.sessionId) await deleteSession(deps, identity.sessionId);
}
