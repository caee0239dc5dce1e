import { hostname } from "node:os";
import { redactUrlsIn } from "../../lib/redact-url.js";
import type { ServiceDeps } from "../deps.js";
import type { ServiceEvent } from "../events/index.js";

/** What the webhook receives (docs/operations.md); `text` is what a chat webhook (Slack, Mattermost...) displays. */
export interface Notification {
  event: string;
  database: string;
  filename?: string;
  error?: string;
  at: string;
  text: string;
}

export interface NotifierOptions {
  /** Attempts per notification, the first included. */
  attempts?: number;
  /** Wait before the second attempt; doubled for each one after. */
  backoffMs?: number;
  /** Per attempt. */
  timeoutMs?: number;
}

const LABELS: Record<string, string> = {
  backup: "backup",
  upload: "upload",
  scheduled_run: "scheduled backup",
  verification: "verification",
  offsite: "off-site copy",
  restore: "restore",
  migration: "migration",
};

/** The notification for an event, or null when it is not one to send. */
export function toNotification(event: ServiceEvent, at: Date, onSuccess: boolean): Notification | null {
  if (event.type === "retention.paused") return retentionPaused(event, at);
  let operation: string;
  let ok: boolean;
  let filename: string | undefined;
  let error: string | undefined;
  if (event.type === "backup.written" || event.type === "backup.failed") {
    // A scheduled backup is reported once, by its run's `operation.finished` (which knows about retention too).
    if (event.kind === "scheduled") return null;
    operation = event.kind === "uploaded" ? "upload" : "backup";
    ok = event.type === "backup.written";
    filename = event.type === "backup.written" ? event.filename : undefined;
    error = event.type === "backup.failed" ? event.error : undefined;
  } else if (event.type === "restore.finished" || event.type === "operation.finished") {
    if (event.outcome === "skipped") return null;
    operation = event.type === "restore.finished" ? "restore" : event.operation;
    ok = event.outcome === "ok";
    ({ filename, error } = event);
  } else {
    return null;
  }
  if (ok && !onSuccess) return null;
  const what = `${LABELS[operation] ?? operation} of database "${event.database}"${filename ? ` (${filename})` : ""}`;
  const text = `Chaos Cypher on ${hostname()}: ${what} ${ok ? "succeeded" : `failed: ${error ?? "unknown error"}`}`;
  return {
    event: `${operation}.${ok ? "succeeded" : "failed"}`,
    database: event.database,
    ...(filename ? { filename } : {}),
    ...(error ? { error } : {}),
    at: at.toISOString(),
    text,
  };
}

/** A warning, always sent: the clock is behind a kept backup, so retention removes nothing until it is fixed. */
function retentionPaused(event: Extract<ServiceEvent, { type: "retention.paused" }>, at: Date): Notification {
  return {
    event: "retention.paused",
    database: event.database,
    filename: event.filename,
    error: event.warning,
    at: at.toISOString(),
    text: `Chaos Cypher on ${hostname()}: check the clock, database "${event.database}": ${event.warning}`,
  };
}

/**
 * Sends notifications to CHAOSCYPHER_NOTIFY_URL as an event-bus subscriber: never awaited by the operation
 * that emitted the event, each POST bounded by a timeout and retried a few times with backoff. Deliveries
 * in flight are awaited (bounded) at shutdown. The URL may hold a token: it is never logged.
 */
export class Notifier {
  readonly #inFlight = new Set<Promise<void>>();
  readonly #attempts: number;
  readonly #backoffMs: number;
  readonly #timeoutMs: number;

  constructor(
    private readonly deps: ServiceDeps,
    private readonly url: string,
    options: NotifierOptions = {},
  ) {
    this.#attempts = options.attempts ?? 4;
    this.#backoffMs = options.backoffMs ?? 1_000;
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    deps.events.on((event) => {
      const notification = toNotification(event, deps.now(), deps.config.notifyOnSuccess);
      if (notification) this.#track(this.#deliver(notification));
    });
  }

  /** Waits for deliveries in flight (the shutdown registry bounds the wait). */
  async stop(): Promise<void> {
    await Promise.allSettled([...this.#inFlight]);
  }

  #track(delivery: Promise<void>): void {
    this.#inFlight.add(delivery);
    delivery.finally(() => this.#inFlight.delete(delivery));
  }

  async #deliver(notification: Notification): Promise<void> {
    const log = this.deps.logger.child({ notification: notification.event, database: notification.database });
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      const problem = await this.#post(notification);
      if (problem === null) {
        log.debug({ attempt }, "notification delivered");
        return;
      }
      if (attempt === this.#attempts) {
        log.warn({ attempts: attempt, problem }, "notification could not be delivered; giving up");
        return;
      }
      log.info({ attempt, problem }, "notification not delivered; retrying");
      await new Promise((resolve) => setTimeout(resolve, this.#backoffMs * 2 ** (attempt - 1)));
    }
  }

  /** null when the receiver took it (2xx), else why not. */
  async #post(notification: Notification): Promise<string | null> {
    try {
      const res = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(notification),
        signal: AbortSignal.timeout(this.#timeoutMs),
        redirect: "error",
      });
      await res.body?.cancel();
      return res.ok ? null : `HTTP ${res.status}`;
    } catch (error) {
      // fetch's messages may quote the URL, which may hold a token: no URL reaches the log whole.
      return (error as Error).name === "TimeoutError" ? "timed out" : redactUrlsIn(causeOf(error));
    }
  }
}

/** fetch's own message is "fetch failed"; the reason (refused, unknown host) is its cause. */
function causeOf(error: unknown): string {
  const { message, cause } = error as Error;
  return cause instanceof Error ? `${message}: ${cause.message}` : message;
}

/** Starts notifications when CHAOSCYPHER_NOTIFY_URL is set; null otherwise. */
export function startNotifier(deps: ServiceDeps, options: NotifierOptions = {}): Notifier | null {
  const url = deps.config.notifyUrl;
  if (!url) return null;
  const notifier = new Notifier(deps, url, options);
  deps.shutdown.add("notifications", notifier);
  return notifier;
}
