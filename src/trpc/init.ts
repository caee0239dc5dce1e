import { initTRPC, TRPCError } from "@trpc/server";
import { z } from "zod";
import { AuthRequiredError, RateLimitedError, ServiceError } from "../errors.js";
import { diskFullError } from "../lib/disk-full.js";
import { databaseNameSchema } from "../lib/names.js";
import { requireScope } from "../services/auth/index.js";
import type { TrpcContext } from "./context.js";
import { toTRPCError } from "./errors.js";
import { procedureScope } from "./scopes.js";

const t = initTRPC.context<TrpcContext>().create({
  errorFormatter({ shape, error }) {
    const cause = error.cause instanceof ServiceError ? error.cause : null;
    const appCode = cause?.code ?? (error.code === "BAD_REQUEST" ? "VALIDATION_ERROR" : "INTERNAL_ERROR");
    return { ...shape, data: { ...shape.data, stack: undefined, appCode, details: cause?.details } };
  },
});

/** Service errors become their tRPC equivalent; anything else stays an internal error and is logged. */
const mapErrors = t.middleware(async ({ ctx, next, path }) => {
  const result = await next();
  if (result.ok) return result;
  const cause =
    diskFullError(result.error.cause, "the operation ran out of disk space and was undone") ?? result.error.cause;
  if (cause instanceof RateLimitedError) ctx.resHeaders.set("Retry-After", String(cause.retryAfterSeconds));
  if (cause instanceof ServiceError) throw toTRPCError(cause);
  if (result.error.code === "INTERNAL_SERVER_ERROR")
    ctx.log.error({ err: cause ?? result.error, path }, "unhandled error");
  if (result.error instanceof TRPCError && result.error.code === "INTERNAL_SERVER_ERROR") {
    throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: "internal error" });
  }
  return result;
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure.use(mapErrors);

/**
 * Every procedure but auth.status/setup/login: the HTTP gate checked the credential first, this is the second
 * line, and the one place a procedure's scope is checked.
 */
export const protectedProcedure = publicProcedure.use(({ ctx, next, path }) => {
  if (!ctx.identity) throw new AuthRequiredError();
  requireScope(ctx.identity.scope, procedureScope(path), path);
  return next({ ctx: { identity: ctx.identity } });
});

/** Procedures that act on one database: `database` picks it, else the server's current one. */
export const databaseInput = z.object({ database: databaseNameSchema.optional() });
