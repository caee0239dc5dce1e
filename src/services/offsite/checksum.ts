import type { ServiceDeps } from "../deps.js";

/** The SHA-256 recorded when a backup was written, or null when there is no record (the copy hashes first). */
export type Sha256Lookup = (deps: ServiceDeps, database: string, filename: string) => Promise<string | null>;

/** Until the lifecycle records are on main, the upload task hashes the file itself before sending it. */
export const recordedSha256: Sha256Lookup = async () => null;
