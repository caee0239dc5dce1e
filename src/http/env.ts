import type { Logger } from "../logger.js";
import type { ServiceDeps } from "../services/deps.js";

/** What every handler can read from the Hono context. */
export interface AppEnv {
  Variables: {
    services: ServiceDeps;
    log: Logger;
    requestId: string;
  };
}
