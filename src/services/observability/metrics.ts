import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { listBackupFiles } from "../backup/files.js";
import type { ServiceDeps } from "../deps.js";
import type { ServiceEvent } from "../events/index.js";
import { type BucketTotals, bucketTotals, offsiteCounts } from "../offsite/index.js";

/** `YYYYMMDD_HHMMSS` or `YYYYMMDDTHHMMSSZ` (UTC) as Unix seconds; NaN for anything else. */
export function backupStampSeconds(stamp: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})[_T](\d{2})(\d{2})(\d{2})Z?$/.exec(stamp);
  if (!m) return Number.NaN;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  return Date.UTC(y as number, (mo as number) - 1, d, h, mi, s) / 1000;
}

const LINT_FAILING_DEFAULTS = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
];

/** A provider other areas register to fill `chaoscypher_offsite_pending` (off-site copies not yet made). */
export type OffsitePendingProvider = (database: string) => Promise<number | null> | number | null;

/**
 * The Prometheus metrics (docs/operations.md) in a registry of their own (never prom-client's global one, so
 * several apps in one test process do not collide). Backup freshness and size are read from the backup
 * files at scrape time: right after a restart and after files are deleted from outside; counters and the
 * duration histogram come from the event bus.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #offsitePending: OffsitePendingProvider[] = [];
  readonly httpRequests: Counter<"method" | "route" | "status">;
  readonly httpDuration: Histogram<"method" | "route" | "status">;
  readonly #backupDuration: Histogram<"database">;
  readonly #failures: Counter<"database" | "operation">;
  readonly #restores: Counter<"database" | "outcome">;

  constructor(private readonly deps: ServiceDeps) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // Gauges named `_total`, which `promtool check metrics` rejects; handles and requests say little here.
    for (const name of LINT_FAILING_DEFAULTS) this.registry.removeSingleMetric(name);
    this.httpRequests = new Counter({
      name: "chaoscypher_http_requests_total",
      help: "HTTP requests answered, by route pattern and status",
      labelNames: ["method", "route", "status"],
      registers,
    });
    this.httpDuration = new Histogram({
      name: "chaoscypher_http_request_duration_seconds",
      help: "Time to answer an HTTP request, by route pattern and status",
      labelNames: ["method", "route", "status"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.#backupDuration = new Histogram({
      name: "chaoscypher_backup_duration_seconds",
      help: "Time to write a backup (VACUUM INTO, fsync, rename), successful ones",
      labelNames: ["database"],
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
      registers,
    });
    this.#failures = new Counter({
      name: "chaoscypher_backup_failures_total",
      help: "Failed backups, scheduled runs, verifications, off-site copies, restores and migrations",
      labelNames: ["database", "operation"],
      registers,
    });
    this.#restores = new Counter({
      name: "chaoscypher_restore_total",
      help: "Restores, by outcome",
      labelNames: ["database", "outcome"],
      registers,
    });
    this.#fileGauges(registers);
    deps.events.on((event) => this.#observe(event));
  }

  /** Off-site state lives in the off-site area; it registers how to count what is still pending. */
  addOffsitePending(provider: OffsitePendingProvider): void {
    this.#offsitePending.push(provider);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  #observe(event: ServiceEvent): void {
    const { database } = event;
    if (event.type === "backup.written") this.#backupDuration.observe({ database }, event.durationMs / 1000);
    if (event.type === "backup.failed") this.#failures.inc({ database, operation: "backup" });
    if (event.type === "restore.finished") {
      this.#restores.inc({ database, outcome: event.outcome });
      if (event.outcome === "failed") this.#failures.inc({ database, operation: "restore" });
    }
    if (event.type === "operation.finished" && event.outcome === "failed") {
      this.#failures.inc({ database, operation: event.operation });
    }
  }

  #fileGauges(registers: Registry[]): void {
    const deps = this.deps;
    const pending = this.#offsitePending;
    new Gauge({
      name: "chaoscypher_backup_last_success_timestamp_seconds",
      help: "When the newest backup of each kind was written (Unix time, from its file name)",
      labelNames: ["database", "kind"],
      registers,
      async collect() {
        this.reset();
        for (const database of deps.registry.names()) {
          const files = await listBackupFiles(deps.paths.backupDir(database));
          for (const file of files.reverse()) {
            this.set({ database, kind: file.kind }, backupStampSeconds(file.created_at));
          }
        }
      },
    });
    new Gauge({
      name: "chaoscypher_backup_size_bytes",
      help: "Size of the newest backup of each database",
      labelNames: ["database"],
      registers,
      async collect() {
        this.reset();
        for (const database of deps.registry.names()) {
          const [newest] = await listBackupFiles(deps.paths.backupDir(database));
          if (newest) this.set({ database }, newest.size);
        }
      },
    });
    for (const [field, help] of [
      ["files", "Files in the uploads manifest of the newest done off-site copy"],
      ["bytes", "Bytes of the uploads in the manifest of the newest done off-site copy"],
    ] as const) {
      new Gauge({
        name: `chaoscypher_offsite_uploads_${field}`,
        help: `${help} (absent when off-site copies are not configured)`,
        labelNames: ["database"],
        registers,
        async collect() {
          this.reset();
          if (!deps.offsite) return;
          for (const database of deps.registry.names()) {
            this.set({ database }, (await offsiteCounts(deps, database)).uploads[field]);
          }
        },
      });
    }
    // From the last measurement kept on disk: a scrape never lists the bucket.
    for (const [suffix, help, value] of [
      ["bytes", "Bytes this install's objects of the database take in the bucket", (b) => b.bytes],
      ["objects", "Objects this install stores in the bucket for the database", (b) => b.objects],
      [
        "measured_timestamp_seconds",
        "When the bucket totals were measured (Unix time)",
        (b) => Date.parse(b.measured_at) / 1000,
      ],
    ] as const satisfies readonly [string, string, (b: BucketTotals) => number][]) {
      new Gauge({
        name: `chaoscypher_offsite_bucket_${suffix}`,
        help: `${help} (as last measured; absent before the first measurement or when off-site copies are off)`,
        labelNames: ["database"],
        registers,
        async collect() {
          this.reset();
          const service = deps.offsite;
          if (!service) return;
          for (const database of deps.registry.names()) {
            const totals = await bucketTotals(deps, service.settings, database);
            if (totals) this.set({ database }, value(totals));
          }
        },
      });
    }
    new Gauge({
      name: "chaoscypher_offsite_pending",
      help: "Backups waiting for their off-site copy (absent when off-site copies are not configured)",
      labelNames: ["database"],
      registers,
      async collect() {
        this.reset();
        if (!deps.offsite && pending.length === 0) return;
        for (const database of deps.registry.names()) {
          let total: number | null = deps.offsite ? (await offsiteCounts(deps, database)).pending : null;
          for (const provider of pending) {
            const count = await provider(database);
            if (count !== null) total = (total ?? 0) + count;
          }
          if (total !== null) this.set({ database }, total);
        }
      },
    });
  }
}
