import type { Logger } from "../../logger.js";

export type BackupKindName = "backup" | "scheduled" | "uploaded" | "pre-upgrade";
export type OperationName = "backup" | "scheduled_run" | "verification" | "offsite" | "restore" | "migration";

/**
 * What the domain verbs report after the fact. Observability (logs, metrics, webhooks) and follow-up work
 * (off-site copies, verification) subscribe here, so a verb never knows who listens.
 */
export type ServiceEvent =
  | {
      type: "backup.written";
      database: string;
      filename: string;
      kind: BackupKindName;
      size: number;
      durationMs: number;
    }
  | { type: "backup.failed"; database: string; kind: BackupKindName; error: string; durationMs: number }
  | { type: "backup.deleted"; database: string; filename: string; reason: "user" | "retention" }
  /** Retention pruned nothing because `filename` is dated ahead of this host's clock. */
  | { type: "retention.paused"; database: string; filename: string; warning: string }
  | { type: "restore.finished"; database: string; filename: string; outcome: "ok" | "failed"; error?: string }
  | {
      type: "operation.finished";
      database: string;
      operation: Exclude<OperationName, "backup" | "restore">;
      outcome: "ok" | "failed" | "skipped";
      filename?: string;
      error?: string;
    };

export type ServiceEventListener = (event: ServiceEvent) => void;

/** A synchronous, in-process bus; a listener that throws is logged and never fails the operation. */
export class ServiceEvents {
  readonly #listeners = new Set<ServiceEventListener>();

  constructor(private readonly logger: Logger) {}

  /** Returns the unsubscribe function. */
  on(listener: ServiceEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: ServiceEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        this.logger.warn({ err, event: event.type }, "event listener failed");
      }
    }
  }
}
