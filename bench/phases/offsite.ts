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
 * `age -r` encrypting the same file, with the server's RSS and /verify p99 during the copy; then the fetch.
 */
export async function offsiteFigures(ctx: BenchContext): Promise<Row[]> {
  const processes: NodeProcess[] = [];
  try {
    const setup = await setUp(ctx, processes);
    const copies: number[] = [];
    const ageCli: number[] = [];
    const ageCliFetch: number[] = [];
    const copyRss: number[] = [];
    const fetchRss: number[] = [];
    const fetches: number[] = [];
    const p99s: number[] = [];
    const fetchP99s: number[] = [];
    let failures = 0;
    let fetchFailures = 0;
    for (let round = 0; round < ctx.options.rounds; round++) {
      const { filename } = await setup.client.backup();
      // A new backup's copy begins once its own verification (a local read of the file) is over: the copy is timed
      // from there, as `age -r` + the upload is (neither verifies).
      while ((await listed(setup.client, filename))?.verification.state === "pending") await sleep(25);
      const watch = new RssWatch(setup.server.pid);
      const load = latencyProbe(`${setup.client.url}/verify`, setup.verifyKey, ctx.options.rate);
      const { ms } = await timed(async () => {
        while ((await copyState(setup.client, filename)) !== "done") await sleep(50);
      });
      const probe = await load.stop();
      copyRss.push(watch.stop().growthMiB);
      copies.push(ms);
      p99s.push(probe.p99Ms);
      failures += probe.failures;

      const file = path.join(setup.backupsDir, filename);
      ageCli.push(await cliCopy(ctx, setup, file));

      await setup.client.deleteBackup(filename);
      await settle();
      const fetchWatch = new RssWatch(setup.server.pid);
      const fetchLoad = latencyProbe(`${setup.client.url}/verify`, setup.verifyKey, ctx.options.rate);
      const fetched = await timed(() => fetchCopy(setup.client, filename));
      const fetchProbe = await fetchLoad.stop();
      fetchRss.push(fetchWatch.stop().growthMiB);
      fetchP99s.push(fetchProbe.p99Ms);
      fetchFailures += fetchProbe.failures;
      fetches.push(fetched.ms);
      ageCliFetch.push(await cliFetch(ctx, setup));
      await setup.client.deleteBackup(filename);
      ctx.log(
        `  off-site round ${round + 1}: copy ${fmt.ms(ms)} (age -r + upload ${fmt.ms(ageCli.at(-1) ?? 0)}), ` +
          `fetch ${fmt.ms(fetched.ms)} (download + age -d ${fmt.ms(ageCliFetch.at(-1) ?? 0)})`,
      );
    }
    return rows(ctx, {
      copies,
      ageCli,
      ageCliFetch,
      copyRss,
      fetchRss,
      fetches,
      p99s,
      failures,
      fetchP99s,
      fetchFailures,
    });
  } finally {
    for (const p of processes.reverse()) await p.stop();
  }
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
