import type { Credentials, ServiceClient } from "./lib/service.js";

export interface BenchOptions {
  sizeMb: number;
  rounds: number;
  /** Length of each saturating /verify sample. */
  seconds: number;
  /** Steady /verify rate used for latency figures, requests per second. */
  rate: number;
  keep: boolean;
  /** Simulated days of the incremental off-site phase (one scheduled backup a day). */
  days: number;
  /** Run one group of rows only (`verify`, `upload`, `backup`, `restore-reader`, `offsite`, `incremental`); all of them by default. */
  only?: string | undefined;
}

export interface BenchContext {
  options: BenchOptions;
  service: ServiceClient;
  servicePid: number;
  baselineUrl: string;
  baselinePid: number;
  /** Null until the auth routes exist in this build: the /verify rows are then skipped. */
  auth: Credentials | null;
  appDb: string;
  scratchDir: string;
  log(line: string): void;
}

/** One line of the result table. */
export interface Row {
  figure: string;
  value: string;
  baseline: string;
  /** value / baseline, the way the target reads it; null where a ratio means nothing. */
  ratio: number | null;
  target: string;
  ok: boolean | null;
}
