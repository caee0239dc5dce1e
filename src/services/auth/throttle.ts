import { RateLimitedError } from "../../errors.js";

export interface ThrottleOptions {
  /** Attempts allowed in a burst. */
  capacity: number;
  /** Attempts regained per minute. */
  perMinute: number;
  /** Buckets kept at most; the least recently used are forgotten first. */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  updated: number;
}

/** A token bucket per key (an action and a client IP), in memory: login and setup attempts. */
export class Throttle {
  readonly #buckets = new Map<string, Bucket>();

  constructor(
    private readonly options: ThrottleOptions,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Takes one attempt for `key` or throws 429 with the seconds until the next one is allowed. */
  take(key: string): void {
    const now = this.clock();
    const refillPerMs = this.options.perMinute / 60_000;
    const bucket = this.#buckets.get(key) ?? { tokens: this.options.capacity, updated: now };
    const tokens = Math.min(this.options.capacity, bucket.tokens + (now - bucket.updated) * refillPerMs);
    this.#buckets.delete(key);
    if (tokens < 1) {
      this.#buckets.set(key, { tokens, updated: now });
      throw new RateLimitedError(Math.max(1, Math.ceil((1 - tokens) / refillPerMs / 1000)));
    }
    this.#buckets.set(key, { tokens: tokens - 1, updated: now });
    this.#evict();
  }

  #evict(): void {
    const max = this.options.maxKeys ?? 10_000;
    for (const key of this.#buckets.keys()) {
      if (this.#buckets.size <= max) return;
      this.#buckets.delete(key);
    }
  }
}
