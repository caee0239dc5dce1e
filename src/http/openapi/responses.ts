import { z } from "zod";
import { type ErrorCode, errorStatus } from "../../errors.js";

const ALL_CODES = Object.keys(errorStatus) as [ErrorCode, ...ErrorCode[]];

/** The closed set of error codes (src/errors.ts), one component every error body refers to. */
export const ErrorCodeSchema = z.enum(ALL_CODES).meta({ id: "ErrorCode" });

/** The one error body of every REST route: `{error, message, details?}`, never a stack trace. */
export const ErrorBody = z
  .object({
    error: ErrorCodeSchema,
    message: z.string().meta({ description: "Human-readable; safe to show to an operator." }),
    details: z.record(z.string(), z.unknown()).optional().meta({ description: "Structured facts about the error." }),
  })
  .meta({ id: "Error" });

export type ErrorStatus = (typeof errorStatus)[ErrorCode];

const WHEN: Record<ErrorStatus, string> = {
  400: "Bad input: a bad filename, database name, query or body (`VALIDATION_ERROR`). Nothing changed.",
  401: "No valid session cookie or API key, or bad credentials (`AUTH_REQUIRED`).",
  403: "A cross-site request made with the session cookie (`FORBIDDEN`).",
  404: "The database, backup or key does not exist (`NOT_FOUND`).",
  409: "Another operation holds the database, or the state forbids it (`OPERATION_IN_PROGRESS`, `CONFLICT`).",
  413: "The request body is too large (`PAYLOAD_TOO_LARGE`).",
  422: "The backup is not a usable app database (`INVALID_BACKUP`). Nothing changed.",
  429: "Too many attempts (`RATE_LIMITED`); retry after `Retry-After` seconds.",
  500: "A bug (`INTERNAL_ERROR`).",
  503:
    "The database is out of service after a failed upgrade (`DATABASE_BLOCKED`; the message says what to run), or " +
    "the off-site object store cannot be reached or refused the request (`STORE_UNAVAILABLE`).",
  507: "Not enough free disk space (`INSUFFICIENT_STORAGE`). Nothing changed.",
};

/** A documented response header; `required` ones are checked on every response the tests receive. */
export function header(description: string, options: { type?: "string" | "integer"; required?: boolean } = {}) {
  return { description, schema: { type: options.type ?? "string" }, required: options.required ?? true } as const;
}

const HEADERS: Partial<Record<ErrorStatus, Record<string, ReturnType<typeof header>>>> = {
  401: { "WWW-Authenticate": header('Always `Bearer realm="chaoscypher"`.') },
  429: { "Retry-After": header("Seconds until the next attempt may succeed.", { type: "integer" }) },
};

function errorResponse(status: ErrorStatus) {
  const codes = ALL_CODES.filter((code) => errorStatus[code] === status) as [ErrorCode, ...ErrorCode[]];
  // Narrowed to the codes of this status, so a client (and the contract test) knows exactly what can come.
  const schema = z.intersection(ErrorBody, z.object({ error: z.enum(codes) }));
  return {
    description: WHEN[status],
    ...(HEADERS[status] ? { headers: HEADERS[status] } : {}),
    content: { "application/json": { schema } },
  };
}

/**
 * The error responses of a route, each with the error body narrowed to that status's codes.
 * 500 is added to every route: it is the one status a client cannot avoid.
 */
export function errorResponses<const S extends ErrorStatus>(...statuses: S[]) {
  const all = [...new Set<ErrorStatus>([...statuses, 500])].sort();
  return Object.fromEntries(all.map((status) => [status, errorResponse(status)])) as Record<
    S | 500,
    ReturnType<typeof errorResponse>
  >;
}

/** A JSON success response. */
export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

/** A JSON request body; required, so a missing body is a 400 rather than `{}`. */
export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return { required: true, ...(description ? { description } : {}), content: { "application/json": { schema } } };
}

/** `security` of a route anyone may call; keep src/http/auth/public-routes.ts and nginx in step. */
export const PUBLIC: [] = [];
