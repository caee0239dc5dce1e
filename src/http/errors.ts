import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { RateLimitedError, ServiceError } from "../errors.js";
import { diskFullError } from "../lib/disk-full.js";
import type { Logger } from "../logger.js";

/** Maps any thrown error to the spec's error body; unknown errors become a logged, generic 500. */
export function errorResponse(error: unknown, c: Context, logger: Logger): Response {
  const known = toServiceError(error);
  if (known) {
    if (known.code === "AUTH_REQUIRED") c.header("WWW-Authenticate", 'Bearer realm="chaoscypher"');
    if (known instanceof RateLimitedError) c.header("Retry-After", String(known.retryAfterSeconds));
    return c.json(known.toBody(), known.status as ContentfulStatusCode);
  }
  logger.error({ err: error }, "unhandled error");
  return c.json({ error: "INTERNAL_ERROR", message: "internal error" }, 500);
}

function toServiceError(error: unknown): ServiceError | null {
  if (error instanceof ServiceError) return error;
  const diskFull = diskFullError(error, "the operation ran out of disk space and was undone");
  if (diskFull) return diskFull;
  if (error instanceof HTTPException && error.status === 413) {
    return new ServiceError("PAYLOAD_TOO_LARGE", "request body is too large");
  }
  if (error instanceof HTTPException && error.status < 500) {
    return new ServiceError("VALIDATION_ERROR", error.message || "bad request");
  }
  return null;
}
