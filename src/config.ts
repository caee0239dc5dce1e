import { isIP } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { offsiteConfigShape, refineOffsiteConfig } from "./config-offsite.js";
import { hasUserinfo } from "./lib/redact-url.js";

/** The built web UI lives in the package, not in the caller's working directory. */
const defaultWebDir = fileURLToPath(new URL("../dist/web", import.meta.url));

const port = z.coerce.number().int().min(0).max(65535);

/** `a.b.c.d/n` or an IPv6 prefix; a bare address means that one address. */
const cidr = z.string().refine((value) => {
  const [address = "", prefix] = value.split("/");
  const family = isIP(address);
  const bits = prefix === undefined ? 0 : Number(prefix);
  return family !== 0 && Number.isInteger(bits) && bits >= 0 && bits <= (family === 4 ? 32 : 128);
}, "expected a comma-separated list of CIDRs (e.g. 127.0.0.0/8,172.18.0.0/16)");

export const configSchema = z
  .object({
    host: z.string().min(1).default("127.0.0.1"),
    port: port.default(8080),
    dataDir: z.string().min(1).default("./data"),
    logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    /** Free space kept beyond the database size before a backup is allowed to start. */
    backupFreeMarginBytes: z.coerce
      .number()
      .int()
      .min(0)
      .default(64 * 1024 * 1024),
    /** How long a request waits at a closed holder gate before it is refused. */
    gateTimeoutMs: z.coerce.number().int().min(1).default(30_000),
    /** How long a restore waits for leases already inside to finish. */
    drainTimeoutMs: z.coerce.number().int().min(1).default(30_000),
    /** On SIGTERM, how long running requests (a backup among them) may take before they are cut off. */
    shutdownTimeoutMs: z.coerce.number().int().min(0).default(20_000),
    /** Webhook for failure notifications (a JSON POST with a `text` field chat webhooks show); unset: none. */
    notifyUrl: z
      .url({ protocol: /^https?$/ })
      .refine(
        (url) => !hasUserinfo(url),
        "must not carry credentials (user:token@host): fetch refuses them; put a token in the path instead",
      )
      .optional(),
    /** Also notify successful backups, restores and background work. */
    notifyOnSuccess: z.union([z.boolean(), z.stringbool()]).default(false),
    /** Peers whose X-Real-IP/X-Forwarded-Proto are believed (the nginx edge); default loopback only. */
    trustedProxies: z
      .union([z.string(), z.array(z.string())])
      .default("127.0.0.0/8,::1/128")
      .transform((v) => (Array.isArray(v) ? v : v.split(",")).map((c) => c.trim()).filter((c) => c !== ""))
      .pipe(z.array(cidr)),
    /** The largest backup `POST /backup/upload` accepts; more is refused with 413. */
    uploadMaxBytes: z.coerce
      .number()
      .int()
      .min(1)
      .default(64 * 1024 ** 3),
    /** A file put in backups/<db>/ by hand is adopted (hashed, recorded) once unchanged this long. */
    adoptStableMs: z.coerce.number().int().min(0).default(5_000),
    /** Pre-restore backups (databases a restore replaced): at least this many of the newest are kept... */
    preRestoreKeepLast: z.coerce.number().int().min(1).default(3),
    /** ...and every one younger than this many days, and those of this many newest days (UTC) with a restore. */
    preRestoreKeepDays: z.coerce.number().min(0).default(7),
    /** Backups are verified again once their last check is this many days old (0: never again); weekly by default. */
    reverifyDays: z.coerce.number().min(0).default(7),
    /** The first-run setup token (else a random one is made at start and printed in the setup URL). */
    setupToken: z.string().min(16, "must be at least 16 characters").max(256).optional(),
    /** Built maintenance UI (`npm run build:web`), served at `/`. */
    webDir: z.string().min(1).default(defaultWebDir),
    /** FOR TESTS ONLY: a file holding a clock offset in ms (the chaos run jumps time with it); refused in production. */
    testClockFile: z.string().min(1).optional(),
    /** FOR TESTS ONLY: seeds the random parts of file names and retry jitter (deps.ids); refused in production. */
    testSeed: z.coerce
      .number()
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .optional(),
    ...offsiteConfigShape,
  })
  .superRefine(refineOffsiteConfig);

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

const envNames: Record<keyof Config, string> = {
  host: "HOST",
  port: "PORT",
  dataDir: "CHAOSCYPHER_DATA_DIR",
  logLevel: "LOG_LEVEL",
  backupFreeMarginBytes: "CHAOSCYPHER_BACKUP_FREE_MARGIN_BYTES",
  gateTimeoutMs: "CHAOSCYPHER_GATE_TIMEOUT_MS",
  drainTimeoutMs: "CHAOSCYPHER_DRAIN_TIMEOUT_MS",
  shutdownTimeoutMs: "CHAOSCYPHER_SHUTDOWN_TIMEOUT_MS",
  notifyUrl: "CHAOSCYPHER_NOTIFY_URL",
  notifyOnSuccess: "CHAOSCYPHER_NOTIFY_ON_SUCCESS",
  webDir: "CHAOSCYPHER_WEB_DIR",
  setupToken: "CHAOSCYPHER_SETUP_TOKEN",
  reverifyDays: "CHAOSCYPHER_REVERIFY_DAYS",
  trustedProxies: "CHAOSCYPHER_TRUSTED_PROXIES",
  uploadMaxBytes: "CHAOSCYPHER_UPLOAD_MAX_BYTES",
  adoptStableMs: "CHAOSCYPHER_ADOPT_STABLE_MS",
  preRestoreKeepLast: "CHAOSCYPHER_PRE_RESTORE_KEEP_LAST",
  preRestoreKeepDays: "CHAOSCYPHER_PRE_RESTORE_KEEP_DAYS",
  testClockFile: "CHAOSCYPHER_TEST_CLOCK_FILE",
  testSeed: "CHAOSCYPHER_TEST_SEED",
  s3Bucket: "CHAOSCYPHER_S3_BUCKET",
  s3Endpoint: "CHAOSCYPHER_S3_ENDPOINT",
  s3Region: "CHAOSCYPHER_S3_REGION",
  s3Prefix: "CHAOSCYPHER_S3_PREFIX",
  s3ForcePathStyle: "CHAOSCYPHER_S3_FORCE_PATH_STYLE",
  s3AllowPlaintext: "CHAOSCYPHER_S3_ALLOW_PLAINTEXT",
  s3Concurrency: "CHAOSCYPHER_S3_CONCURRENCY",
  s3PartSizeBytes: "CHAOSCYPHER_S3_PART_SIZE_BYTES",
  s3RetryBaseMs: "CHAOSCYPHER_S3_RETRY_BASE_MS",
  s3RetryMaxMs: "CHAOSCYPHER_S3_RETRY_MAX_MS",
  ageRecipients: "CHAOSCYPHER_AGE_RECIPIENTS",
  ageIdentityFile: "CHAOSCYPHER_AGE_IDENTITY_FILE",
  instance: "CHAOSCYPHER_INSTANCE",
  offsiteKey: "CHAOSCYPHER_OFFSITE_KEY",
};

export class ConfigError extends Error {}

/** Parses config once at start; flags override env, env overrides defaults. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: ConfigInput = {}): Config {
  const fromEnv: Record<string, string> = {};
  for (const [key, name] of Object.entries(envNames)) {
    const value = env[name];
    if (value !== undefined && value !== "") fromEnv[key] = value;
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const parsed = configSchema.safeParse({ ...fromEnv, ...defined });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const key = i.path[0] as keyof Config | undefined;
      return `${key ? envNames[key] : "config"}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join("; ")}`);
  }
  // A clock a file can move has no place in a real install.
  if (parsed.data.testClockFile && env.NODE_ENV === "production") {
    throw new ConfigError("CHAOSCYPHER_TEST_CLOCK_FILE is for tests only and refused with NODE_ENV=production");
  }
  // Predictable names have no place in a real install either.
  if (parsed.data.testSeed !== undefined && env.NODE_ENV === "production") {
    throw new ConfigError("CHAOSCYPHER_TEST_SEED is for tests only and refused with NODE_ENV=production");
  }
  return { ...parsed.data, dataDir: path.resolve(parsed.data.dataDir), webDir: path.resolve(parsed.data.webDir) };
}
