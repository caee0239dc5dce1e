import { accessSync, constants, readFileSync } from "node:fs";
import { bech32 } from "@scure/base";
import { z } from "zod";

/** X25519 recipients only: Debian's age 1.1.1 cannot read files made for the post-quantum hybrid kind. */
const X25519_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;
export const IDENTITY_LINE = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;

const envBoolean = z.preprocess(
  (v) => (v === "true" || v === "1" ? true : v === "false" || v === "0" ? false : v),
  z.boolean({ error: "expected true or false" }),
);

function isX25519Recipient(value: string): boolean {
  if (!X25519_RECIPIENT.test(value)) return false;
  try {
    const decoded = bech32.decode(value as `${string}1${string}`);
    return decoded.prefix === "age" && bech32.fromWords(decoded.words).length === 32;
  } catch {
    return false;
  }
}

const recipients = z.preprocess(
  (v) =>
    typeof v === "string"
      ? v
          .split(",")
          .map((r) => r.trim())
          .filter((r) => r.length > 0)
      : v,
  z.array(
    z.string().refine(isX25519Recipient, {
      error: (issue) =>
        `"${String(issue.input).slice(0, 12)}…" is not an X25519 age recipient (age1…, 62 characters, from age-keygen)`,
    }),
  ),
);

/** The off-site settings (docs/offsite.md), spread into the one config schema. */
export const offsiteConfigShape = {
  s3Bucket: z.string().min(3).max(63).optional(),
  s3Endpoint: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }).optional(),
  s3Region: z.string().min(1).default("us-east-1"),
  s3Prefix: z
    .string()
    .regex(/^([A-Za-z0-9!_.*'()-]+\/)*$/, "expected path segments each ending in '/', e.g. chaoscypher/")
    .default("chaoscypher/"),
  s3ForcePathStyle: envBoolean.default(false),
  s3AllowPlaintext: envBoolean.default(false),
  /** Uploads at a time on this machine. */
  s3Concurrency: z.coerce.number().int().min(1).max(16).default(1),
  /** Multipart part size; S3 needs at least 5 MiB. Memory per upload is about two parts, so the least is the default. */
  s3PartSizeBytes: z.coerce
    .number()
    .int()
    .min(5 * 1024 * 1024)
    .max(512 * 1024 * 1024)
    .default(5 * 1024 * 1024),
  s3RetryBaseMs: z.coerce.number().int().min(1).default(10_000),
  s3RetryMaxMs: z.coerce
    .number()
    .int()
    .min(1)
    .default(30 * 60_000),
  ageRecipients: recipients.default([]),
  ageIdentityFile: z.string().min(1).optional(),
};

interface OffsiteConfigFields {
  s3Bucket?: string | undefined;
  s3AllowPlaintext: boolean;
  ageRecipients: string[];
  ageIdentityFile?: string | undefined;
}

/** Cross-field rules: no plaintext copies by accident, and an identity file that is there when a disaster comes. */
export function refineOffsiteConfig(config: OffsiteConfigFields, ctx: z.RefinementCtx): void {
  if (config.s3Bucket && config.ageRecipients.length === 0 && !config.s3AllowPlaintext) {
    ctx.addIssue({
      code: "custom",
      path: ["ageRecipients"],
      message:
        "CHAOSCYPHER_S3_BUCKET is set but no age recipients are: set CHAOSCYPHER_AGE_RECIPIENTS=age1… " +
        "(or CHAOSCYPHER_S3_ALLOW_PLAINTEXT=true to store unencrypted copies)",
    });
  }
  if (config.ageIdentityFile) {
    const problem = identityFileProblem(config.ageIdentityFile);
    if (problem) ctx.addIssue({ code: "custom", path: ["ageIdentityFile"], message: problem });
  }
}

/** Says what is wrong with an identity file without ever quoting its content. */
export function identityFileProblem(file: string): string | null {
  try {
    accessSync(file, constants.R_OK);
    const lines = readFileSync(file, "utf8").split(/\r?\n/);
    if (!lines.some((line) => IDENTITY_LINE.test(line.trim()))) {
      return `${file} holds no X25519 age identity (AGE-SECRET-KEY-1…)`;
    }
    return null;
  } catch (error) {
    return `${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`;
  }
}
