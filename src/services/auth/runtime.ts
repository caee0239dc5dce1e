import { randomBytes } from "node:crypto";
import { DEFAULT_SCRYPT, hashPassword, type ScryptParams } from "./password.js";
import { Throttle, type ThrottleOptions } from "./throttle.js";

/** Process-wide auth state and tunables, one per ServiceDeps. */
export interface AuthRuntime {
  kdf: ScryptParams;
  throttle: Throttle;
  /** A hash of nothing in particular: an unknown username costs as much to refuse as a wrong password. */
  dummyHash(): Promise<string>;
  /** This process's first-run setup token, used when CHAOSCYPHER_SETUP_TOKEN is not set. */
  generatedSetupToken: string;
}

export interface AuthRuntimeOptions {
  kdf?: ScryptParams;
  throttle?: ThrottleOptions;
}

/** Ten login or setup attempts per client IP in a burst, then one every six seconds. */
export const DEFAULT_THROTTLE: ThrottleOptions = { capacity: 10, perMinute: 10 };

export function createAuthRuntime(options: AuthRuntimeOptions = {}): AuthRuntime {
  const kdf = options.kdf ?? DEFAULT_SCRYPT;
  let dummy: Promise<string> | undefined;
  return {
    kdf,
    throttle: new Throttle(options.throttle ?? DEFAULT_THROTTLE),
    generatedSetupToken: randomBytes(18).toString("base64url"),
    dummyHash: () => {
      dummy ??= hashPassword("not a real password", kdf);
      return dummy;
    },
  };
}
