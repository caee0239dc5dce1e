import type { Headers } from "./load.js";

export interface ProbeResult {
  requests: number;
  p99Ms: number;
  maxMs: number;
  /** Anything but a 2xx, or a request that failed outright. */
  failures: number;
}

export interface RunningProbe {
  stop(): Promise<ProbeResult>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

/**
 * Steady /verify traffic that times every request from send to last byte, for the latency figures.
 * autocannon's fixed-rate mode under-reported stalls here (a 370 ms wait at a closed gate showed as a
 * 190 ms maximum), so the latency rows use this plain client: `loops` keep-alive connections, each
 * sending its next request on a fixed schedule, or at once when the previous one came back late.
 */
export function latencyProbe(url: string, headers: Headers, rate: number, loops = 8): RunningProbe {
  const interval = (1000 * loops) / rate;
  const latencies: number[] = [];
  let failures = 0;
  let running = true;
  const loop = async () => {
    let next = performance.now();
    while (running) {
      const started = performance.now();
      try {
        const res = await fetch(url, { headers });
        await res.arrayBuffer();
        if (res.status < 200 || res.status > 299) failures++;
      } catch {
        failures++;
      }
      latencies.push(performance.now() - started);
      next += interval;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      else next = performance.now();
    }
  };
  const all = Array.from({ length: loops }, loop);
  return {
    async stop() {
      running = false;
      await Promise.all(all);
      const sorted = [...latencies].sort((a, b) => a - b);
      return {
        requests: sorted.length,
        p99Ms: percentile(sorted, 99),
        maxMs: sorted.at(-1) ?? Number.NaN,
        failures,
      };
    },
  };
}

export async function probeFor(url: string, headers: Headers, rate: number, seconds: number): Promise<ProbeResult> {
  const probe = latencyProbe(url, headers, rate);
  await sleep(seconds * 1000);
  return probe.stop();
}
