import type { ServiceDeps } from "../deps.js";

/** Whether a backup counts as good for retention and the UI's warning: its verification has not failed. */
export type IsGood = (database: string, filename: string) => boolean | Promise<boolean>;

/**
 * Until the verification records exist (the lifecycle work), every backup counts as good. Wire the record
 * lookup here (`verification.state !== "failed"`); the scheduler, retention and the warning all ask this.
 */
export function defaultIsGood(_deps: ServiceDeps): IsGood {
  return () => true;
}
