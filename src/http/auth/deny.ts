import { TRPC_ERROR_CODES_BY_KEY } from "@trpc/server/rpc";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ServiceError } from "../../errors.js";
import { trpcCodes } from "../../lib/trpc-codes.js";
import type { AppEnv } from "../env.js";
import { errorResponse } from "../errors.js";
import { surfaceOf } from "./public-routes.js";

/** The tRPC error envelope the client understands; a batch link applies it to every call in the batch. */
export function trpcErrorBody(error: ServiceError) {
  const code = trpcCodes[error.code];
  return {
    error: {
      message: error.message,
      code: TRPC_ERROR_CODES_BY_KEY[code],
      data: { code, httpStatus: error.status, appCode: error.code },
    },
  };
}

/** Refuses a request before it reaches a handler, in the shape its surface speaks (REST or tRPC). */
export function deny(c: Context<AppEnv>, error: ServiceError): Response {
  if (surfaceOf(c.req.path) !== "trpc") return errorResponse(error, c, c.get("log"));
  if (error.code === "AUTH_REQUIRED") c.header("WWW-Authenticate", 'Bearer realm="chaoscypher"');
  return c.json(trpcErrorBody(error), error.status as ContentfulStatusCode);
}
