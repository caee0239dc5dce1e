import { randomBytes } from "node:crypto";

/** Random names for temp, staged and set-aside files, injected (deps.ids) so a seeded test can fix them. */
export interface Ids {
  /** `bytes` random bytes as lowercase hex (2 × bytes characters). */
  hex(bytes: number): string;
}

export const systemIds: Ids = { hex: (bytes) => randomBytes(bytes).toString("hex") };

/** Deterministic ids from a 32-bit seed (mulberry32): for tests that replay a run exactly. */
export function seededIds(seed: number): Ids {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) & 0xff;
  };
  return { hex: (bytes) => Array.from({ length: bytes }, () => next().toString(16).padStart(2, "0")).join("") };
}
