import { MutationCache, QueryCache, QueryClient } from "@tanstack/react-query";
import { isAuthError, isRetryable } from "./api.js";
import { connection } from "./ui/connection.js";

/** Set on calls whose 401 means "wrong password", not "session gone" (login itself). */
export const AUTH_FLOW = { authFlow: true } as const;

/** One place that notices a 401 from any query or mutation, so every screen leads back to login. */
export function createQueryClient(onAuthLost: () => void): QueryClient {
  const onError = (error: unknown, meta: Record<string, unknown> | undefined) => {
    connection.failed(error);
    if (isAuthError(error) && !meta?.authFlow) onAuthLost();
  };
  return new QueryClient({
    queryCache: new QueryCache({
      onError: (error, query) => onError(error, query.meta),
      onSuccess: connection.succeeded,
    }),
    mutationCache: new MutationCache({
      onError: (error, _vars, _ctx, mutation) => onError(error, mutation.meta),
      onSuccess: connection.succeeded,
    }),
    defaultOptions: {
      queries: { retry: (count, error) => count < 2 && isRetryable(error) },
      mutations: { retry: false },
    },
  });
}
