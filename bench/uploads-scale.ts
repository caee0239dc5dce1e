/**
 * The uploads' capture and fetch at scale (issue 18: 10,000 files and one file of 2 GiB with bounded memory):
 *   npx tsx bench/uploads-scale.ts [--files 10000] [--big-mib 2048] [--only files|big] [--dir /tmp/cc-bench-uploads]
 * Against an s3rver in its own process, age-encrypted: a first capture (every file hashed and sent), a second of
 * the unchanged tree (every file reused unread), and a fetch of its manifest into an empty dir, checked byte for
 * byte. The worker functions run in this process, so its peak RSS growth is the tasks' (the server runs them in
 * a pooled worker thread of its own process). The data dir is deleted at the end unless --keep.
 */
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { hashFile } from "../src/workers/offsite-tasks.js";
import { type CaptureResult, captureUploads, restoreUploads } from "../src/workers/uploads-tasks.js";
import { startNode } from "./lib/proc.js";
import { RssWatch } from "./lib/procfs.js";

const { values } = parseArgs({
  options: {
    files: { type: "string", default: "10000" },
    "big-mib": { type: "string", default: "2048" },
    only: { type: "string" },
    dir: { type: "string", default: "/tmp/cc-bench-uploads" },
    keep: { type: "boolean", default: false },
  },
});
const root = path.resolve(values.dir as string);
rmSync(root, { recursive: true, force: true });
mkdirSync(path.join(root, "s3"), { recursive: true });
process.env.AWS_ACCESS_KEY_ID = "S3RVER";
process.env.AWS_SECRET_ACCESS_KEY = "S3RVER";
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "1";

const BUCKET = "bench";
const identityFile = path.join(root, "key.txt");
execFileSync("age-keygen", ["-o", identityFile], { stdio: "ignore" });
const recipient = execFileSync("age-keygen", ["-y", identityFile], { encoding: "utf8" }).trim();
const rows: string[] = [];

interface Measured<T> {
  value: T;
  seconds: number;
  growthMiB: number;
}

async function measure<T>(label: string, work: () => Promise<T>): Promise<Measured<T>> {
  const watch = new RssWatch(process.pid);
  const t0 = performance.now();
  const value = await work();
  const seconds = (performance.now() - t0) / 1000;
  const rss = watch.stop();
  console.log(
    `${label}: ${seconds.toFixed(1)} s, peak RSS +${rss.growthMiB.toFixed(1)} MiB (${rss.beforeMiB.toFixed(0)} before)`,
  );
  return { value, seconds, growthMiB: rss.growthMiB };
}

function row(what: string, m: Measured<unknown>, detail: string): void {
  const met = m.growthMiB <= 64 ? "met" : "MISSED";
  rows.push(`| ${what} | ${m.seconds.toFixed(1)} s | ${detail} | +${m.growthMiB.toFixed(1)} MiB | ≤ 64 MiB | ${met} |`);
}

async function scenario(name: string, fill: (dir: string) => Promise<void>, check: (dir: string) => Promise<void>) {
  const store = await startNode("bench/s3-server.ts", { S3_DIR: path.join(root, "s3", name), S3_BUCKET: BUCKET }, "/");
  const storeArgs = {
    store: { bucket: BUCKET, endpoint: store.url, region: "us-east-1", forcePathStyle: true },
    prefix: "p/",
    install: "bench",
    key: randomBytes(32).toString("hex"),
    recipients: [recipient],
    identityFile,
    partSize: 8 * 1048576,
  };
  const uploadsDir = path.join(root, name, "uploads");
  const cacheDir = path.join(root, name, "offsite-manifests");
  const capture = (backup: string) =>
    captureUploads({
      ...storeArgs,
      uploadsDir,
      database: "default",
      backup,
      createdAt: "20261203_020000",
      stableMs: 0,
      manifestKey: `p/v2/bench/db/default/${backup}.uploads.age`,
      cacheDir,
    });
  try {
    mkdirSync(path.join(root, name, "empty"), { recursive: true });
    // Warm-up: the SDK and the age code loaded, as in a server's warm worker.
    await captureUploads({
      ...storeArgs,
      uploadsDir: path.join(root, name, "empty"),
      database: "warmup",
      backup: "warmup.db",
      createdAt: "20261203_010000",
      stableMs: 0,
      manifestKey: "p/v2/bench/db/warmup/warmup.db.uploads.age",
      cacheDir,
    });
    await fill(uploadsDir);
    const sent = (r: CaptureResult) => `${r.files} files, ${r.hashed} hashed, ${r.uploaded} blobs sent`;
    const first = await measure(`${name}: first capture`, () => capture("app_20261203_020000.db"));
    row(`${name}: first capture`, first, sent(first.value));
    const second = await measure(`${name}: unchanged capture`, () => capture("app_20261203_030000.db"));
    row(
      `${name}: capture of the unchanged tree`,
      second,
      `${second.value.reused} reused unread, ${sent(second.value)}`,
    );
    const target = path.join(root, name, "restored");
    const fetched = await measure(`${name}: fetch`, () =>
      restoreUploads({
        ...storeArgs,
        manifestKey: second.value.manifest.key,
        manifestSha256: second.value.manifest.sha256,
        from: "bench",
        uploadsDir: target,
        tempDir: path.join(root, name, "tmp"),
      }),
    );
    if (fetched.value.failed > 0 || fetched.value.restored !== second.value.files) {
      throw new Error(`fetch incomplete: ${JSON.stringify(fetched.value)}`);
    }
    await check(target);
    row(`${name}: fetch (?uploads=true's task)`, fetched, `${fetched.value.restored} files restored, checked`);
  } finally {
    await store.stop();
    rmSync(path.join(root, name), { recursive: true, force: true });
    rmSync(path.join(root, "s3", name), { recursive: true, force: true });
  }
}

const sha = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

async function manyFiles(): Promise<void> {
  const count = Number(values.files);
  const digests = new Map<string, string>();
  await scenario(
    `${count}-files`,
    async (dir) => {
      for (let i = 0; i < count; i++) {
        const rel = path.join(`d${String(i % 100).padStart(2, "0")}`, `doc-${i}.txt`);
        const bytes = randomBytes(512 + (i % 16) * 512);
        mkdirSync(path.join(dir, path.dirname(rel)), { recursive: true });
        writeFileSync(path.join(dir, rel), bytes);
        digests.set(rel, sha(bytes));
      }
    },
    async (dir) => {
      for (const [rel, digest] of digests) {
        if (sha(readFileSync(path.join(dir, rel))) !== digest) throw new Error(`${rel} differs`);
      }
    },
  );
}

async function bigFile(): Promise<void> {
  const mib = Number(values["big-mib"]);
  let digest = "";
  await scenario(
    `${mib}-MiB-file`,
    async (dir) => {
      // Sparse, with random bytes every 64 MiB: no 2 GiB of writes on a shared disk, yet not all zeros.
      mkdirSync(dir, { recursive: true });
      const file = path.join(dir, "big.bin");
      const fd = openSync(file, "w");
      for (let at = 0; at < mib; at += 64) writeSync(fd, randomBytes(65536), 0, 65536, at * 1048576);
      closeSync(fd);
      execFileSync("truncate", ["-s", `${mib}M`, file]);
      digest = await hashFile(file);
    },
    async (dir) => {
      if ((await hashFile(path.join(dir, "big.bin"))) !== digest) throw new Error("big.bin differs");
    },
  );
}

try {
  if (!values.only || values.only === "files") await manyFiles();
  if (!values.only || values.only === "big") await bigFile();
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  console.log(`\nload average after: ${load}\n`);
  console.log("| phase | wall time | what | peak RSS growth | target | result |\n|---|---|---|---|---|---|");
  for (const line of rows) console.log(line);
} finally {
  if (!values.keep) rmSync(root, { recursive: true, force: true });
}
