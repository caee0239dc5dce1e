import { createTRPCClient, httpLink, isTRPCClientError } from "@trpc/client";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "../trpc/router.js";

/** The typed client: every call is checked against the server's router at compile time. */
export const api = createTRPCClient<AppRouter>({
  // One request per call, not batched: a batch mixing auth.status with a protected call would be refused whole
  // once the session has ended, and the page could no longer learn that it should show the login screen.
  links: [
    httpLink({
      url: "/trpc",
      // The session cookie rides along; the server refuses cookie-authenticated writes from other sites.
      fetch: (url, init) => fetch(url, { ...init, credentials: "same-origin" }),
    }),
  ],
});

export type Outputs = inferRouterOutputs<AppRouter>;
export type Inputs = inferRouterInputs<AppRouter>;
export type Backup = Outputs["backup"]["list"]["backups"][number];
export type ApiKey = Outputs["keys"]["list"]["keys"][number];

/** Query keys in one place, so a change can invalidate exactly what it touched. */
export const queryKeys = {
  status: ["auth", "status"] as const,
  databases: ["databases"] as const,
  backups: (database: string) => ["backups", database] as const,
  allBackups: ["backups"] as const,
  // Under the backups key: whatever changes the list (a delete, a fetch, a push) refreshes the remote copies too.
  offsite: (database: string) => ["backups", database, "offsite"] as const,
  keys: ["keys"] as const,
};

/** The spec's error code, from a tRPC error (`data.appCode`). */
export function errorCode(error: unknown): string | undefined {
  if (!isTRPCClientError(error)) return undefined;
  const data = error.data as { appCode?: string; code?: string } | undefined;
  return data?.appCode ?? data?.code;
}

/** `details.reason` of a service error (why a fetch or an upload was refused), if the server sent one. */
export function errorReason(error: unknown): string | undefined {
  if (!isTRPCClientError(error)) return undefined;
  const details = (error.data as { details?: { reason?: unknown } } | undefined)?.details;
  return typeof details?.reason === "string" ? details.reason : undefined;
}

export function isAuthError(error: unknown): boolean {
  const code = errorCode(error);
  return code === "AUTH_REQUIRED" || code === "UNAUTHORIZED";
}

/** A client error will not get better by asking again; network trouble and 5xx might. */
export function isRetryable(error: unknown): boolean {
  if (!isTRPCClientError(error)) return true;
  const status = (error.data as { httpStatus?: number } | undefined)?.httpStatus;
  return status === undefined || status >= 500;
}

/** The request never got an answer: the server is down or the network is. */
export function isNetworkError(error: unknown): boolean {
  return isTRPCClientError(error) && !error.data && error.cause instanceof TypeError;
}

/** A sentence for the user: the server's message when it sent one, else what went wrong on the way. */
export function errorMessage(error: unknown): string {
  if (isTRPCClientError(error)) {
    if (error.data) return error.message || "the server refused the request";
    if (error.cause instanceof TypeError) return "Cannot reach the server. Check that it is running and try again.";
    return "The server sent an answer this page does not understand. Try reloading the page.";
  }
  if (error instanceof Error && error.message) return error.message;
  return "Something went wrong.";
}

export function downloadUrl(database: string, filename: string): string {
  const query = new URLSearchParams({ database });
  return `/api/v1/backup/${encodeURIComponent(filename)}/download?${query}`;
}
