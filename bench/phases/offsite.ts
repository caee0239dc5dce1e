import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import type { BenchContext, Row } from "../context.js";
import { latencyProbe } from "../lib/probe.js";
import { type NodeProcess, run, settle, startNode } from "../lib/proc.js";
import { RssWatch } from "../lib/procfs.js";
import { downloadFile, uploadFile } from "../lib/s3-baseline.js";
import { ServiceClient } from "../lib/service.js";
import { max, median, timed } from "../lib/stats.js";
import { fmt } from "../report.js";
import { MAX_RSS_GROWTH_MIB } from "./backup.js";

const MAX_VERIFY_P99_MS = 25;
const MAX_RATIO = 1.5;
const BUCKET = "bench";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface OffsiteSetup {
  server: NodeProcess;
  storeUrl: string;
  identityFile: string;
  client: ServiceClient;
  verifyKey: Record<string, string>;
  backupsDir: string;
  recipient: string;
}

/** Its own server on a copy of the dataset, copying to a local s3rver: the other phases stay free of uploads. */
async function setUp(ctx: BenchContext, processes: NodeProcess[]): Promise<OffsiteSetup> {
  const root = path.join(ctx.scratchDir, "offsite");
  const dataDir = path.join(root, "data");
  const appDb = path.join(dataDir, "databases", "default", "app.db");
  mkdirSync(path.dirname(appDb), { recursive: true });
  mkdirSync(path.join(root, "s3"), { recursive: true });
  // A consistent copy that includes what is still in the live database's WAL (the bench's API key).
  execFileSync("sqlite3", [ctx.appDb, `VACUUM INTO '${appDb}'`]);
  const identityFile = path.join(root, "key.txt");
  execFileSync("age-keygen", ["-o", identityFile], { stdio: "ignore" });
  const recipient = execFileSync("age-keygen", ["-y", identityFile], { encoding: "utf8" }).trim();
  const store = await startNode("bench/s3-server.ts", { S3_DIR: path.join(root, "s3"), S3_BUCKET: BUCKET }, "/");
  processes.push(store);
  const server = await startNode(
    "dist/main.js",
    {
      CHAOSCYPHER_DATA_DIR: dataDir,
      LOG_LEVEL: "warn",
      CHAOSCYPHER_S3_BUCKET: BUCKET,
      CHAOSCYPHER_S3_ENDPOINT: store.url,
      CHAOSCYPHER_S3_FORCE_PATH_STYLE: "true",
      CHAOSCYPHER_AGE_RECIPIENTS: recipient,
      CHAOSCYPHER_AGE_IDENTITY_FILE: identityFile,
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
    },
    "/api/v1/health",
  );
  processes.push(server);
  const client = new ServiceClient(server.url);
  // The copy of the live database already holds the operator and the bench's API key.
  const auth = ctx.auth ?? (await client.setupAuth());
  if (!auth) throw new Error("the off-site phase needs the auth routes");
  client.headers = auth.key;
  return {
    server,
    storeUrl: store.url,
    identityFile,
    client,
    verifyKey: auth.key,
    backupsDir: path.join(dataDir, "backups", "default"),
    recipient,
  };
}

interface Listed {
  filename: string;
  offsite: { state: string } | null;
  verification: { state: string };
}

async function listed(client: ServiceClient, filename: string): Promise<Listed | undefined> {
  const res = await fetch(`${client.url}/api/v1/backup`, { headers: client.headers });
  const list = (await res.json()) as { backups: Listed[] };
  return list.backups.find((b) => b.filename === filename);
}

const copyState = async (client: ServiceClient, filename: string) => (await listed(client, filename))?.offsite?.state;

/**
 * The off-site copy of the dataset's backup (age-encrypted multipart upload to a local s3rver) against Debian's
 * `age -r` encrypting the same file, then the fetch against the same download + `age -d`. As in the backup and
 * upload phases, the times come from rounds without the `/verify` probe (at 1,000 req/s its requests cost the
 * bench process about half of one of the two cores, which would slow only the service's side); each round is
 * followed by one under the probe for the `/verify` p99. The RSS rows are the largest growth of both kinds.
 */
export async function offsiteFigures(ctx: BenchContext): Promise<Row[]> {
  const processes: NodeProcess[] = [];
  try {
    const setup = await setUp(ctx, processes);
    const s: Samples = {
      copies: [],
      ageCli: [],
      ageCliFetch: [],
      copyRss: [],
      fetchRss: [],
      fetches: [],
      p99s: [],
      failures: 0,
      fetchP99s: [],
      fetchFailures: 0,
    };
    for (let round = 0; round < ctx.options.rounds; round++) {
      const timedRound = await copyAndFetch(setup, null, async (file) => {
        s.ageCli.push(await cliCopy(ctx, setup, file));
      });
      s.ageCliFetch.push(await cliFetch(ctx, setup));
      s.copies.push(timedRound.copy.ms);
      s.fetches.push(timedRound.fetch.ms);
      const probed = await copyAndFetch(setup, ctx.options.rate, async () => {});
      for (const r of [timedRound, probed]) {
        s.copyRss.push(r.copy.rssMiB);
        s.fetchRss.push(r.fetch.rssMiB);
      }
      s.p99s.push(probed.copy.p99Ms);
      s.fetchP99s.push(probed.fetch.p99Ms);
      s.failures += probed.copy.failures;
      s.fetchFailures += probed.fetch.failures;
      ctx.log(
        `  off-site round ${round + 1}: copy ${fmt.ms(timedRound.copy.ms)} (age -r + upload ${fmt.ms(s.ageCli.at(-1) ?? 0)}), ` +
          `fetch ${fmt.ms(timedRound.fetch.ms)} (download + age -d ${fmt.ms(s.ageCliFetch.at(-1) ?? 0)}); ` +
          `under the probe: copy ${fmt.ms(probed.copy.ms)} (p99 ${fmt.ms(probed.copy.p99Ms)}), ` +
          `fetch ${fmt.ms(probed.fetch.ms)} (p99 ${fmt.ms(probed.fetch.p99Ms)})`,
      );
    }
    return rows(ctx, s);
  } finally {
    for (const p of processes.reverse()) await p.stop();
  }
}

interface Measured {
  ms: number;
  rssMiB: number;
  p99Ms: number;
  failures: number;
}

/**
 * A new backup, its off-site copy (timed from the end of the backup's own verification, which it waits for: the
 * baseline verifies nothing), then `beforeDelete` (the baseline's turn on the same file), the local file deleted
 * and the copy fetched back. Under the `/verify` probe at `rate` requests a second when `rate` is given.
 */
async function copyAndFetch(
  setup: OffsiteSetup,
  rate: number | null,
  beforeDelete: (file: string) => Promise<void>,
): Promise<{ copy: Measured; fetch: Measured }> {
  const { filename } = await setup.client.backup();
  while ((await listed(setup.client, filename))?.verification.state === "pending") await sleep(25);
  const copy = await measured(setup, rate, async () => {
    while ((await copyState(setup.client, filename)) !== "done") await sleep(50);
  });
  await beforeDelete(path.join(setup.backupsDir, filename));
  await setup.client.deleteBackup(filename);
  await settle();
  const fetched = await measured(setup, rate, () => fetchCopy(setup.client, filename));
  await setup.client.deleteBackup(filename);
  return { copy, fetch: fetched };
}

async function measured(setup: OffsiteSetup, rate: number | null, work: () => Promise<void>): Promise<Measured> {
  const watch = new RssWatch(setup.server.pid);
  const load = rate === null ? null : latencyProbe(`${setup.client.url}/verify`, setup.verifyKey, rate);
  const { ms } = await timed(work);
  const probe = load ? await load.stop() : { p99Ms: 0, failures: 0 };
  return { ms, rssMiB: watch.stop().growthMiB, p99Ms: probe.p99Ms, failures: probe.failures };
}

/** The copy's baseline: Debian's `age -r` of the file, then the same multipart upload of its output. */
async function cliCopy(ctx: BenchContext, setup: OffsiteSetup, file: string): Promise<number> {
  const out = path.join(ctx.scratchDir, "offsite", "cli.age");
  await settle();
  const { ms } = await timed(async () => {
    await run("age", ["-r", setup.recipient, "-o", out, file]);
    await uploadFile(setup.storeUrl, BUCKET, "baseline/cli.age", out);
  });
  rmSync(out, { force: true });
  return ms;
}

/** The fetch's baseline: the same download of that object, then `age -d`. */
async function cliFetch(ctx: BenchContext, setup: OffsiteSetup): Promise<number> {
  const dir = path.join(ctx.scratchDir, "offsite");
  const [enc, plain] = [path.join(dir, "cli-fetch.age"), path.join(dir, "cli-fetch.db")];
  await settle();
  const { ms } = await timed(async () => {
    await downloadFile(setup.storeUrl, BUCKET, "baseline/cli.age", enc);
    await run("age", ["-d", "-i", setup.identityFile, "-o", plain, enc]);
  });
  rmSync(enc, { force: true });
  rmSync(plain, { force: true });
  return ms;
}

async function fetchCopy(client: ServiceClient, filename: string): Promise<void> {
  const res = await fetch(`${client.url}/api/v1/offsite/${filename}/fetch`, {
    method: "POST",
    headers: client.headers,
  });
  if (res.status !== 201) throw new Error(`fetch: HTTP ${res.status} ${await res.text()}`);
}

interface Samples {
  copies: number[];
  ageCli: number[];
  ageCliFetch: number[];
  copyRss: number[];
  fetchRss: number[];
  fetches: number[];
  p99s: number[];
  failures: number;
  fetchP99s: number[];
  fetchFailures: number;
}

function rows(ctx: BenchContext, s: Samples): Row[] {
  const size = fmt.mib(ctx.options.sizeMb);
  const copyMs = median(s.copies);
  const cliMs = median(s.ageCli);
  const fetchMs = median(s.fetches);
  const cliFetchMs = median(s.ageCliFetch);
  const p99 = max(s.p99s);
  const fetchP99 = max(s.fetchP99s);
  const rss = (what: string, growth: number): Row => ({
    figure: `peak RSS growth during ${what}`,
    value: `+${fmt.mib(growth)}`,
    baseline: "RSS before",
    ratio: null,
    target: `≤ ${MAX_RSS_GROWTH_MIB} MiB`,
    ok: growth <= MAX_RSS_GROWTH_MIB,
  });
  return [
    {
      figure: `off-site copy of ${size} (age + multipart upload)`,
      value: fmt.seconds(copyMs),
      baseline: `${fmt.seconds(cliMs)} age -r + the same upload`,
      ratio: copyMs / cliMs,
      target: `≤ ${MAX_RATIO}×`,
      ok: copyMs / cliMs <= MAX_RATIO,
    },
    {
      figure: "/verify p99 during an off-site copy",
      value: `${fmt.ms(p99)}${s.failures > 0 ? `, ${s.failures} failed` : ""}`,
      baseline: "–",
      ratio: null,
      target: `≤ ${MAX_VERIFY_P99_MS} ms`,
      ok: p99 <= MAX_VERIFY_P99_MS && s.failures === 0,
    },
    rss(`an off-site copy of ${size}`, max(s.copyRss)),
    {
      figure: `off-site fetch of ${size} (download + decrypt + validate)`,
      value: fmt.seconds(fetchMs),
      baseline: `${fmt.seconds(cliFetchMs)} the same download + age -d`,
      ratio: fetchMs / cliFetchMs,
      target: `≤ ${MAX_RATIO}×`,
      ok: fetchMs / cliFetchMs <= MAX_RATIO,
    },
    {
      figure: "/verify p99 during an off-site fetch",
      value: `${fmt.ms(fetchP99)}${s.fetchFailures > 0 ? `, ${s.fetchFailures} failed` : ""}`,
      baseline: "–",
      ratio: null,
      target: `≤ ${MAX_VERIFY_P99_MS} ms`,
      ok: fetchP99 <= MAX_VERIFY_P99_MS && s.fetchFailures === 0,
    },
    rss(`an off-site fetch of ${size}`, max(s.fetchRss)),
  ];
}
