import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import type { ErrorCode } from "../errors.js";

/**
 * The one table from the service error codes to tRPC's: the tRPC transport maps with it, and the HTTP auth gate
 * answers a refused `/trpc` request in the same shape (here, in lib, because transports never import each other).
 */
export const trpcCodes: Record<ErrorCode, TRPC_ERROR_CODE_KEY> = {
  VALIDATION_ERROR: "BAD_REQUEST",
  AUTH_REQUIRED: "UNAUTHORIZED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  OPERATION_IN_PROGRESS: "CONFLICT",
  CONFLICT: "CONFLICT",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  INVALID_BACKUP: "UNPROCESSABLE_CONTENT",
  RATE_LIMITED: "TOO_MANY_REQUESTS",
  INTERNAL_ERROR: "INTERNAL_SERVER_ERROR",
  DATABASE_BLOCKED: "SERVICE_UNAVAILABLE",
  SHUTTING_DOWN: "SERVICE_UNAVAILABLE",
  STORE_UNAVAILABLE: "SERVICE_UNAVAILABLE",
  // tRPC has no 507; the spec's code still reaches the client in `data.appCode`.
  INSUFFICIENT_STORAGE: "SERVICE_UNAVAILABLE",
};
