import { randomBytes } from "node:crypto";

/**
 * Random names for temp, staged and set-aside files and the jitter of retries, injected (deps.ids) so a seeded
 * run replays the same names and delays. Never for secrets: keys, tokens, salts and nonces stay crypto-random.
 */
export interface Ids {
  /** `bytes` random bytes as lowercase hex (2 × bytes characters). */
  hex(bytes: number): string;
  /** A float in [0, 1), like Math.random (retry jitter). */
  random(): number;
}

export const systemIds: Ids = { hex: (bytes) => randomBytes(bytes).toString("hex"), random: Math.random };

/** Deterministic ids from a 32-bit seed (mulberry32): for tests and the chaos run, which replay a run exactly. */
export function seededIds(seed: number): Ids {
  let state = seed >>> 0;
  const next32 = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
  return {
    hex: (bytes) => Array.from({ length: bytes }, () => (next32() & 0xff).toString(16).padStart(2, "0")).join(""),
    random: () => next32() / 2 ** 32,
  };
}
