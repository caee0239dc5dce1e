import pino, { type Logger } from "pino";

export type { Logger };

/** Paths that may carry secrets; pino replaces their values before anything is written. */
export const redactPaths = [
  "req.headers.authorization",
  "req.headers.cookie",
  "res.headers['set-cookie']",
  "*.password",
  "*.key",
  "*.token",
  "password",
  "key",
  "token",
  // Off-site copies: nothing passes credentials to a logger; these catch an SDK object logged by mistake.
  "*.credentials",
  "*.accessKeyId",
  "*.secretAccessKey",
  "*.sessionToken",
  "*.AWSAccessKeyId",
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: redactPaths, censor: "[redacted]" } }, destination);
}
