import type { ClientInfo } from "../lib/client-info.js";
import type { Logger } from "../logger.js";
import type { Identity } from "../services/auth/index.js";
import type { ServiceDeps } from "../services/deps.js";

/** What every handler can read from the Hono context. */
export interface AppEnv {
  Variables: {
    services: ServiceDeps;
    log: Logger;
    requestId: string;
    /** Set by the auth gate: who the request acts for, or null for an anonymous one. */
    identity: Identity | null;
    client: ClientInfo;
  };
}
