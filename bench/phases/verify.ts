import type { BenchContext, Row } from "../context.js";
import { type Headers, saturate } from "../lib/load.js";
import { probeFor } from "../lib/probe.js";
import { median } from "../lib/stats.js";
import { fmt } from "../report.js";

const MIN_RATIO = 0.6;

/** /verify requests per second with a key and with a cookie, rounds interleaved with the bare-Hono baseline. */
export async function verifyThroughput(ctx: BenchContext): Promise<Row[]> {
  const { auth, options } = ctx;
  if (!auth) return [];
  const verify = `${ctx.service.url}/verify`;
  const targets: [string, string, Headers][] = [
    ["baseline", `${ctx.baselineUrl}/verify`, {}],
    ["key", verify, auth.key],
    ["cookie", verify, auth.cookie],
  ];
  for (const [, url, headers] of targets) await saturate(url, headers, 1);
  const samples = new Map<string, number[]>(targets.map(([name]) => [name, []]));
  for (let round = 0; round < options.rounds; round++) {
    for (const [name, url, headers] of targets) {
      const result = await saturate(url, headers, options.seconds);
      if (name !== "baseline" && result.failures > 0)
        throw new Error(`/verify (${name}) failed ${result.failures} times`);
      samples.get(name)?.push(result.rps);
      ctx.log(`  /verify ${name} round ${round + 1}: ${fmt.rps(result.rps)}`);
    }
  }
  const base = median(samples.get("baseline") ?? []);
  return (["key", "cookie"] as const).map((name) => {
    const value = median(samples.get(name) ?? []);
    return {
      figure: `/verify throughput, ${name === "key" ? "API key" : "session cookie"}`,
      value: fmt.rps(value),
      baseline: `${fmt.rps(base)} bare Hono`,
      ratio: value / base,
      target: `≥ ${MIN_RATIO}×`,
      ok: value / base >= MIN_RATIO,
    };
  });
}

/** /verify p99 at the steady rate with nothing else running: the baseline for the same figure during a backup. */
export async function verifyIdleP99(ctx: BenchContext): Promise<number | null> {
  if (!ctx.auth) return null;
  const p99s: number[] = [];
  for (let round = 0; round < ctx.options.rounds; round++) {
    const result = await probeFor(`${ctx.service.url}/verify`, ctx.auth.key, ctx.options.rate, 3);
    p99s.push(result.p99Ms);
  }
  ctx.log(`  /verify idle p99 at ${ctx.options.rate} req/s: ${p99s.map((p) => p.toFixed(1)).join(", ")} ms`);
  return median(p99s);
}
