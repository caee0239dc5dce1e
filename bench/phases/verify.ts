import type { BenchContext, Row } from "../context.js";
import { type Headers, saturate } from "../lib/load.js";
import { probeFor } from "../lib/probe.js";
import { cpuMicros } from "../lib/procfs.js";
import { median } from "../lib/stats.js";
import { fmt } from "../report.js";

const MIN_RATIO = 0.6;

/** /verify requests per second with a key and with a cookie, rounds interleaved with the bare-Hono baseline. */
export async function verifyThroughput(ctx: BenchContext): Promise<Row[]> {
  const { auth, options } = ctx;
  if (!auth) return [];
  const verify = `${ctx.service.url}/verify`;
  const targets: [string, string, Headers, number][] = [
    ["baseline", `${ctx.baselineUrl}/verify`, {}, ctx.baselinePid],
    ["key", verify, auth.key, ctx.servicePid],
    ["cookie", verify, auth.cookie, ctx.servicePid],
  ];
  for (const [, url, headers] of targets) await saturate(url, headers, 1);
  const rps = new Map<string, number[]>(targets.map(([name]) => [name, []]));
  const cpu = new Map<string, number[]>(targets.map(([name]) => [name, []]));
  for (let round = 0; round < options.rounds; round++) {
    for (const [name, url, headers, pid] of targets) {
      const before = cpuMicros(pid);
      const result = await saturate(url, headers, options.seconds);
      if (name !== "baseline" && result.failures > 0)
        throw new Error(`/verify (${name}) failed ${result.failures} times`);
      rps.get(name)?.push(result.rps);
      cpu.get(name)?.push((cpuMicros(pid) - before) / result.requests);
      ctx.log(`  /verify ${name} round ${round + 1}: ${fmt.rps(result.rps)}`);
    }
  }
  const base = median(rps.get("baseline") ?? []);
  const baseCpu = median(cpu.get("baseline") ?? []);
  return (["key", "cookie"] as const).map((name) => {
    const value = median(rps.get(name) ?? []);
    const cpuPerRequest = median(cpu.get(name) ?? []);
    return {
      figure: `/verify throughput, ${name === "key" ? "API key" : "session cookie"}`,
      value: `${fmt.rps(value)} (${Math.round(cpuPerRequest)} µs CPU each)`,
      baseline: `${fmt.rps(base)} bare Hono (${Math.round(baseCpu)} µs)`,
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
