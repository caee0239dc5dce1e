import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import path from "node:path";
// @ts-expect-error s3rver ships no types; the few calls used here are typed by TestStore.
import S3rver from "s3rver";
import { afterAll, beforeAll } from "vitest";
import type { ConfigInput } from "../../src/config.js";
import { makeTempDir, removeDir } from "./app.js";

/**
 * A real S3-compatible server (s3rver 3.7.1) on 127.0.0.1 and a free port, path-style, with a temp directory.
 * s3rver lacks ListMultipartUploads and AbortMultipartUpload; the two are added here over its own files, so
 * the abort of a crashed upload is tested against what the server really holds.
 */
export interface TestStore {
  endpoint: string;
  bucket: string;
  dir: string;
  /** Stops answering at once (open connections are cut), like a store going down. */
  stop(): Promise<void>;
  /** Answers again on the same port with the same objects. */
  start(): Promise<void>;
  /** Resolves when the next multipart part arrives (to cut the store off mid-upload). */
  nextPart(): Promise<void>;
  objectFile(key: string): string;
  readObject(key: string): Buffer;
  metadata(key: string): Record<string, string>;
  keys(): string[];
  /** Multipart uploads begun and neither completed nor aborted. */
  incompleteUploads(): string[];
  /** While on, every upload (PUT, multipart POST) is refused with 403 AccessDenied; reads and deletes still work. */
  refuseUploads(on: boolean): void;
  /** While held, multipart parts are not answered (an upload stays in flight) until released. */
  holdParts(): () => void;
  close(): Promise<void>;
}

/** The test's fake credentials: s3rver accepts these, and they must never show up in a log. */
export const TEST_CREDENTIALS = { AWS_ACCESS_KEY_ID: "S3RVER", AWS_SECRET_ACCESS_KEY: "S3RVER" };

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  httpServer: Server;
  middleware: unknown[];
  store: { getResourcePath(bucket: string, key?: string, resource?: string): string };
}

export async function startTestStore(bucket = "backups"): Promise<TestStore> {
  Object.assign(process.env, TEST_CREDENTIALS);
  const dir = makeTempDir("cc-s3-");
  let port = 0;
  let server: S3rverInstance | undefined;
  let partWaiters: (() => void)[] = [];
  const gates = { refuseUploads: false, held: null as Promise<void> | null };
  const uploadsDir = () => (server as S3rverInstance).store.getResourcePath(bucket, undefined, "uploads");

  const start = async () => {
    if (server?.httpServer?.listening) return;
    const instance = new S3rver({
      port,
      address: "127.0.0.1",
      directory: dir,
      silent: true,
      configureBuckets: [{ name: bucket }],
    }) as S3rverInstance;
    instance.middleware.splice(
      instance.middleware.length - 1,
      0,
      faultGates(gates),
      multipartListing(uploadsDir, () => {
        const waiters = partWaiters;
        partWaiters = [];
        for (const wake of waiters) setImmediate(wake);
      }),
    );
    server = instance;
    port = (await instance.run()).port;
  };
  await start();

  const objectFile = (key: string) => (server as S3rverInstance).store.getResourcePath(bucket, key, "object");
  const stop = async () => {
    const http = server?.httpServer;
    if (!http?.listening) return;
    const closed = new Promise((resolve) => http.close(resolve));
    http.closeAllConnections();
    await closed;
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    dir,
    stop,
    start,
    nextPart: () => new Promise((resolve) => partWaiters.push(resolve)),
    objectFile,
    readObject: (key) => readFileSync(objectFile(key)),
    metadata: (key) =>
      JSON.parse(readFileSync((server as S3rverInstance).store.getResourcePath(bucket, key, "metadata.json"), "utf8")),
    keys: () => listKeys(path.join(dir, bucket)),
    refuseUploads: (on) => {
      gates.refuseUploads = on;
    },
    holdParts: () => {
      let release = () => {};
      gates.held = new Promise((resolve) => {
        release = () => {
          gates.held = null;
          resolve();
        };
      });
      return release;
    },
    incompleteUploads: () => {
      try {
        return readdirSync(uploadsDir());
      } catch {
        return [];
      }
    },
    async close() {
      await stop();
      removeDir(dir);
    },
  };
}

/** s3rver's file layout: `<key>._S3rver_object` beside `<key>._S3rver_metadata.json`. */
function listKeys(root: string, prefix = ""): string[] {
  const keys: string[] = [];
  for (const entry of readdirSync(path.join(root, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) keys.push(...listKeys(root, rel));
    else if (entry.name.endsWith("._S3rver_object")) keys.push(rel.slice(0, -"._S3rver_object".length));
  }
  return keys.sort();
}

interface KoaContext {
  method: string;
  path: string;
  query: Record<string, string | undefined>;
  body: unknown;
  status: number;
}

/** Faults a test switches on: uploads refused (as with credentials that may read and delete only), parts held. */
function faultGates(gates: { refuseUploads: boolean; held: Promise<void> | null }) {
  return async (ctx: KoaContext & { type: string }, next: () => Promise<void>) => {
    const upload = ctx.method === "PUT" || ctx.method === "POST";
    if (upload && gates.refuseUploads) {
      ctx.status = 403;
      ctx.type = "application/xml";
      ctx.body =
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>';
      return;
    }
    if (ctx.method === "PUT" && ctx.query.partNumber !== undefined && gates.held) await gates.held;
    await next();
  };
}

function multipartListing(uploadsDir: () => string, onPart: () => void) {
  return async (ctx: KoaContext, next: () => Promise<void>) => {
    const query = ctx.query;
    if (ctx.method === "PUT" && query.uploadId !== undefined && query.partNumber !== undefined) {
      await next();
      onPart();
      return;
    }
    if (ctx.method === "GET" && "uploads" in query && ctx.path.split("/").filter(Boolean).length === 1) {
      const uploads = readUploads(uploadsDir()).filter((u) => u.key.startsWith(query.prefix ?? ""));
      ctx.body = {
        ListMultipartUploadsResult: {
          Bucket: ctx.path.replace(/\//g, ""),
          Upload: uploads.map((u) => ({ Key: u.key, UploadId: u.id })),
          IsTruncated: false,
        },
      };
      return;
    }
    if (ctx.method === "DELETE" && query.uploadId) {
      removeDir(path.join(uploadsDir(), query.uploadId));
      ctx.status = 204;
      return;
    }
    await next();
  };
}

function readUploads(dir: string): { id: string; key: string }[] {
  try {
    return readdirSync(dir).map((id) => ({ id, key: readFileSync(path.join(dir, id, "key"), "utf8") }));
  } catch {
    return [];
  }
}

/** Config for a test app that copies to `store`, with fast retries and the smallest part size S3 allows. */
export function offsiteConfig(store: TestStore, recipient: string, extra: ConfigInput = {}): ConfigInput {
  return {
    s3Bucket: store.bucket,
    s3Endpoint: store.endpoint,
    s3ForcePathStyle: true,
    ageRecipients: [recipient],
    s3PartSizeBytes: 5 * 1024 * 1024,
    s3RetryBaseMs: 100,
    s3RetryMaxMs: 500,
    ...extra,
  };
}

/** An X25519 identity made by Debian's age-keygen, written to a file, with its recipient. */
export function ageKeyPair(dir: string, name = "key.txt"): { identityFile: string; recipient: string } {
  const identityFile = path.join(dir, name);
  execFileSync("age-keygen", ["-o", identityFile], { stdio: "ignore" });
  const recipient = execFileSync("age-keygen", ["-y", identityFile], { encoding: "utf8" }).trim();
  return { identityFile, recipient };
}

/** Decrypts with the `age` CLI, the way an operator without this service would. */
export function ageDecrypt(ciphertext: Buffer, identityFile: string): Buffer {
  return execFileSync("age", ["-d", "-i", identityFile], { input: ciphertext, maxBuffer: 1 << 30 });
}

export function ageEncrypt(plaintext: Buffer, recipient: string): Buffer {
  return execFileSync("age", ["-r", recipient], { input: plaintext, maxBuffer: 1 << 30 });
}

export function writeFile(file: string, bytes: Buffer): void {
  writeFileSync(file, bytes);
}

export interface StoreFixture {
  store: TestStore;
  keys: ReturnType<typeof ageKeyPair>;
  keyDir: string;
}

/** A describe block's s3rver and age key pair: started before its first test, removed after its last. */
export function useTestStore(): StoreFixture {
  const fixture = {} as StoreFixture;
  beforeAll(async () => {
    fixture.store = await startTestStore();
    fixture.keyDir = makeTempDir("cc-age-");
    fixture.keys = ageKeyPair(fixture.keyDir);
  });
  afterAll(async () => {
    await fixture.store?.close();
    if (fixture.keyDir) removeDir(fixture.keyDir);
  });
  return fixture;
}
