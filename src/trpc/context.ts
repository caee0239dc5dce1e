import type { ClientInfo } from "../lib/client-info.js";
import type { Logger } from "../logger.js";
import type { Identity } from "../services/auth/index.js";
import type { ServiceDeps } from "../services/deps.js";

export interface TrpcContext {
  services: ServiceDeps;
  log: Logger;
  /** Resolved by the HTTP auth gate; null for an anonymous caller. */
  identity: Identity | null;
  client: ClientInfo;
  /** Response headers: how auth.login/setup/logout set and clear the session cookie. */
  resHeaders: Headers;
}

export interface ContextOptions {
  identity?: Identity | null;
  client?: ClientInfo;
  resHeaders?: Headers;
}

/** The context without any HTTP request, so tests build it directly for `createCaller`. */
export function createContextInner(
  services: ServiceDeps,
  log: Logger = services.logger,
  options: ContextOptions = {},
): TrpcContext {
  return {
    services,
    log,
    identity: options.identity ?? null,
    client: options.client ?? { ip: "unknown", secure: false },
    resHeaders: options.resHeaders ?? new Headers(),
  };
}
