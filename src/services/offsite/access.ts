import { ConflictError } from "../../errors.js";
import type { ServiceDeps } from "../deps.js";
import type { OffsiteService } from "./service.js";

/** The off-site service, or a 409 saying how to turn the feature on. */
export function requireOffsite(deps: ServiceDeps): OffsiteService {
  if (!deps.offsite) {
    throw new ConflictError(
      "off-site copies are not configured: set CHAOSCYPHER_S3_BUCKET and CHAOSCYPHER_AGE_RECIPIENTS",
    );
  }
  return deps.offsite;
}
