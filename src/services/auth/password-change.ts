import { and, eq, ne } from "drizzle-orm";
import { z } from "zod";
import { sessions, users } from "../../db/schema/index.js";
import { ConflictError, ForbiddenError } from "../../errors.js";
import type { ServiceDeps } from "../deps.js";
import type { Caller } from "./account.js";
import { credentialCache } from "./credential-cache.js";
import { hashPassword, verifyPassword } from "./password.js";
import { parseInput, passwordSchema } from "./schemas.js";
import { AUTH_DATABASE, type Identity } from "./types.js";

export const changePasswordInput = z.object({
  current_password: z.string().max(1024, "password is too long"),
  new_password: passwordSchema,
});

export interface PasswordChanged {
  username: string;
  /** Sessions that were signed in and are now refused (the caller's own is kept). */
  sessions_ended: number;
}

/**
 * The signed-in operator changes the password, proving the current one: a stolen session alone cannot lock
 * the owner out. Every other session ends; the caller's own stays signed in.
 */
export async function changePassword(
  deps: ServiceDeps,
  identity: Identity,
  input: unknown,
  caller: Caller,
): Promise<PasswordChanged> {
  if (caller.clientIp !== null) deps.auth.throttle.take(`password:${caller.clientIp}`);
  const { current_password, new_password } = parseInput(changePasswordInput, input);
  const holder = deps.registry.holder(AUTH_DATABASE);
  const user = await holder.lease((db) =>
    db.select({ hash: users.passwordHash }).from(users).where(eq(users.id, identity.userId)).get(),
  );
  // 403, not 401: the session is fine, only the proof is wrong (a 401 would sign the page out).
  if (!user || !(await verifyPassword(current_password, user.hash))) {
    deps.logger.warn({ username: identity.username, clientIp: caller.clientIp }, "password change refused");
    throw new ForbiddenError("the current password is wrong; nothing was changed");
  }
  const passwordHash = await hashPassword(new_password, deps.auth.kdf);
  const ended = await holder.lease((db) =>
    db.transaction((tx) => {
      // The hash read above must still be the stored one: two changes at once cannot both win silently.
      const changed = tx
        .update(users)
        .set({ passwordHash })
        .where(and(eq(users.id, identity.userId), eq(users.passwordHash, user.hash)))
        .run().changes;
      if (changed !== 1) throw new ConflictError("the password was changed meanwhile; nothing was changed");
      const others = identity.sessionId ? ne(sessions.id, identity.sessionId) : undefined;
      const count = tx.delete(sessions).where(others).run().changes;
      credentialCache(db, "session").clear();
      return count;
    }),
  );
  deps.logger.info({ username: identity.username, sessionsEnded: ended }, "password changed");
  return { username: identity.username, sessions_ended: ended };
}

/**
 * The way back in for an operator who forgot the password: only a process with access to the data dir (the CLI
 * on the host) may call it. The operator's password is replaced and every session ends.
 */
export async function resetPassword(deps: ServiceDeps, password: unknown): Promise<PasswordChanged> {
  const newPassword = parseInput(passwordSchema, password);
  const passwordHash = await hashPassword(newPassword, deps.auth.kdf);
  const result = await deps.registry.holder(AUTH_DATABASE).lease((db) =>
    db.transaction((tx) => {
      const user = tx.select({ id: users.id, username: users.username }).from(users).limit(1).get();
      if (!user) throw new ConflictError('there is no operator account yet: create it with "chaoscypher auth setup"');
      tx.update(users).set({ passwordHash }).where(eq(users.id, user.id)).run();
      const ended = tx.delete(sessions).run().changes;
      credentialCache(db, "session").clear();
      return { username: user.username, sessions_ended: ended };
    }),
  );
  deps.logger.info({ username: result.username, sessionsEnded: result.sessions_ended }, "password reset");
  return result;
}
