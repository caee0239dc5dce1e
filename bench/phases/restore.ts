import { spawn } from "node:child_process";
import { once } from "node:events";
import type { BenchContext, Row } from "../context.js";
import { latencyProbe } from "../lib/probe.js";
import { settle } from "../lib/proc.js";
import { RssWatch } from "../lib/procfs.js";
import { max, median, timed } from "../lib/stats.js";
import { fmt } from "../report.js";
import { MAX_RSS_GROWTH_MIB } from "./backup.js";

const MAX_GATE_WAIT_MS = 500;

export function rssRow(what: string, growthMiB: number, beforeMiB: number | null): Row {
  return {
    figure: `peak RSS growth during ${what}`,
    value: `+${fmt.mib(growthMiB)}`,
    baseline: beforeMiB === null ? "RSS before" : `${fmt.mib(beforeMiB)} before`,
    ratio: null,
    target: `≤ ${MAX_RSS_GROWTH_MIB} MiB`,
    ok: growthMiB <= MAX_RSS_GROWTH_MIB,
  };
}

/** Streams the backup to a client that reads as fast as loopback allows, watching the server's RSS. */
export async function downloadRss(ctx: BenchContext, filename: string): Promise<Row> {
  const growth: number[] = [];
  let before = 0;
  for (let round = 0; round < ctx.options.rounds; round++) {
    await settle();
    const watch = new RssWatch(ctx.servicePid);
    const { value: bytes, ms } = await timed(() => ctx.service.download(filename));
    const rss = watch.stop();
    growth.push(rss.growthMiB);
    before = rss.beforeMiB;
    const mibs = bytes / 2 ** 20 / (ms / 1000);
    ctx.log(`  download round ${round + 1}: ${Math.round(mibs)} MiB/s, RSS +${fmt.mib(rss.growthMiB)}`);
  }
  return rssRow(`a ${fmt.mib(ctx.options.sizeMb)} download`, max(growth), before);
}

/** Restores the backup while /verify runs at a steady rate: the longest wait is the gate. */
export async function restoreFigures(ctx: BenchContext, filename: string, backupMs: number): Promise<Row[]> {
  const times: number[] = [];
  const waits: number[] = [];
  let failures = 0;
  for (let round = 0; round < ctx.options.rounds; round++) {
    await settle();
    const load = ctx.auth ? latencyProbe(`${ctx.service.url}/verify`, ctx.auth.key, ctx.options.rate) : null;
    const { ms } = await timed(() => ctx.service.restore(filename));
    const result = await load?.stop();
    times.push(ms);
    if (result) {
      waits.push(result.maxMs);
      failures += result.failures;
    }
    ctx.log(`  restore round ${round + 1}: ${fmt.ms(ms)}, longest /verify ${result ? fmt.ms(result.maxMs) : "n/a"}`);
  }
  const rows: Row[] = [];
  if (ctx.auth) {
    const longest = max(waits);
    rows.push({
      figure: "longest /verify wait during a restore (gate)",
      value: `${fmt.ms(longest)}${failures > 0 ? `, ${failures} failed` : ""}`,
      baseline: "–",
      ratio: null,
      target: `≤ ${MAX_GATE_WAIT_MS} ms`,
      ok: longest <= MAX_GATE_WAIT_MS && failures === 0,
    });
  }
  const restoreMs = median(times);
  rows.push({
    figure: `restore of ${fmt.mib(ctx.options.sizeMb)} end to end`,
    value: fmt.seconds(restoreMs),
    baseline: `${fmt.seconds(backupMs)} backup`,
    ratio: restoreMs / backupMs,
    target: "report",
    ok: null,
  });
  return rows;
}

const MAX_VERIFY_WITH_READER_MS = 100;

/** Another process holding a read transaction open on app.db until it reads a line on stdin. */
const READER_SCRIPT = `
const Database = require("better-sqlite3");
const db = new Database(process.argv[1], { fileMustExist: true });
db.exec("BEGIN");
db.prepare("SELECT count(*) FROM sqlite_master").get();
process.stdout.write("held\\n");
process.stdin.once("data", () => { db.exec("COMMIT"); db.close(); process.exit(0); });
`;

/**
 * Issue 9: a restore while another process holds a read transaction is refused (409) or completes, and
 * the gate's checkpoint no longer blocks the event loop: /verify keeps answering within 100 ms.
 */
export async function verifyDuringRefusedRestore(ctx: BenchContext, filename: string): Promise<Row[]> {
  if (!ctx.auth) return [];
  const reader = spawn(process.execPath, ["-e", READER_SCRIPT, ctx.appDb], { stdio: ["pipe", "pipe", "inherit"] });
  await once(reader.stdout, "data");
  const waits: number[] = [];
  const statuses: number[] = [];
  let failures = 0;
  try {
    for (let round = 0; round < ctx.options.rounds; round++) {
      await settle();
      const load = latencyProbe(`${ctx.service.url}/verify`, ctx.auth.key, ctx.options.rate);
      const res = await fetch(`${ctx.service.url}/api/v1/backup/${filename}/restore`, {
        method: "POST",
        headers: ctx.service.headers,
      });
      await res.arrayBuffer();
      const result = await load.stop();
      statuses.push(res.status);
      waits.push(result.maxMs);
      failures += result.failures;
      ctx.log(`  restore with a reader elsewhere ${round + 1}: ${res.status}, longest /verify ${fmt.ms(result.maxMs)}`);
    }
  } finally {
    reader.stdin.write("go\n");
    await once(reader, "exit");
  }
  const longest = max(waits);
  const unexpected = statuses.filter((s) => s !== 200 && s !== 409).length;
  return [
    {
      figure: "longest /verify wait, restore with a reader in another process",
      value: `${fmt.ms(longest)} (${statuses.join(", ")})${failures > 0 ? `, ${failures} failed` : ""}`,
      baseline: "–",
      ratio: null,
      target: `≤ ${MAX_VERIFY_WITH_READER_MS} ms`,
      ok: longest <= MAX_VERIFY_WITH_READER_MS && failures === 0 && unexpected === 0,
    },
  ];
}
