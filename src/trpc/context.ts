import type { Logger } from "../logger.js";
import type { ServiceDeps } from "../services/deps.js";

export interface TrpcContext {
  services: ServiceDeps;
  log: Logger;
}

/** The context without any HTTP request, so tests build it directly for `createCaller`. */
export function createContextInner(services: ServiceDeps, log: Logger = services.logger): TrpcContext {
  return { services, log };
}
