import pino, { type Logger } from "pino";
import { ServiceError } from "./errors.js";

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
  // The install's off-site MAC key (config and identity); never logged on purpose.
  "offsiteKey",
  "*.offsiteKey",
  "*.accessKeyId",
  "*.secretAccessKey",
  "*.sessionToken",
  "*.AWSAccessKeyId",
  // An S3 signature error carries what was signed and the raw response; never needed in a log line.
  "*.StringToSign",
  "*.StringToSignBytes",
  "*.CanonicalRequest",
  "*.CanonicalRequestBytes",
  "*.SignatureProvided",
  "*.$response",
];

/**
 * A log line that cannot be written (stdout on a full disk, a closed pipe) is dropped: logging never fails
 * the request or the operation that logged, and never crashes the process with an unhandled 'error'.
 */
function neverFailing(destination: pino.DestinationStream): pino.DestinationStream {
  const emitter = destination as Partial<NodeJS.EventEmitter>;
  emitter.on?.("error", () => {});
  return {
    write(line: string) {
      try {
        destination.write(line);
      } catch {
        // Dropped: see above.
      }
    },
  };
}

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const target = neverFailing(destination ?? pino.destination({ fd: 1, sync: true }));
  return pino({ level, redact: { paths: redactPaths, censor: "[redacted]" } }, target);
}

/**
 * Logs an operation that failed: a refusal the caller caused (a 4xx: a bad file, a lock held) at warn
 * with its code and reason and no stack; anything else (5xx, a bug, a full disk) at error with the cause.
 */
export function logFailure(log: Logger, error: unknown, fields: Record<string, unknown>, message: string): void {
  if (error instanceof ServiceError && error.status < 500) {
    log.warn({ ...fields, error: error.code, reason: error.message }, message);
  } else {
    log.error({ ...fields, err: error }, message);
  }
}
