import { clearedSessionCookie, sessionCookie } from "../../lib/session-cookie.js";
import {
  authStatus,
  changePassword,
  changePasswordInput,
  login,
  logout,
  type SignedIn,
  setupOperator,
} from "../../services/auth/index.js";
import { loginInput, setupInput } from "../../services/auth/schemas.js";
import type { TrpcContext } from "../context.js";
import { protectedProcedure, publicProcedure, router } from "../init.js";

function signIn(ctx: TrpcContext, signed: SignedIn): { username: string } {
  ctx.resHeaders.append("Set-Cookie", sessionCookie(signed.session, ctx.services.now(), ctx.client.secure));
  ctx.resHeaders.set("Cache-Control", "no-store");
  return { username: signed.username };
}

export const authRouter = router({
  status: publicProcedure.query(({ ctx }) => authStatus(ctx.services, ctx.identity)),
  setup: publicProcedure.input(setupInput).mutation(async ({ ctx, input }) => {
    return signIn(ctx, await setupOperator(ctx.services, input, { clientIp: ctx.client.ip }));
  }),
  login: publicProcedure.input(loginInput).mutation(async ({ ctx, input }) => {
    return signIn(ctx, await login(ctx.services, input, { clientIp: ctx.client.ip }));
  }),
  logout: protectedProcedure.mutation(async ({ ctx }) => {
    await logout(ctx.services, ctx.identity);
    ctx.resHeaders.append("Set-Cookie", clearedSessionCookie(ctx.client.secure));
    return { ok: true as const };
  }),
  changePassword: protectedProcedure.input(changePasswordInput).mutation(({ ctx, input }) => {
    return changePassword(ctx.services, ctx.identity, input, { clientIp: ctx.client.ip });
  }),
  me: protectedProcedure.query(({ ctx }) => ({
    username: ctx.identity.username,
    via: ctx.identity.via,
    scope: ctx.identity.scope,
  })),
});
