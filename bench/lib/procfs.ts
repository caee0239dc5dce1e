import { readFileSync, writeFileSync } from "node:fs";

function statusKb(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  if (!match) throw new Error(`no ${field} for pid ${pid}`);
  return Number(match[1]);
}

export interface RssGrowth {
  beforeMiB: number;
  peakMiB: number;
  growthMiB: number;
}

/**
 * Peak RSS of a process over a phase: the kernel's high-water mark (reset through clear_refs, root only)
 * and, as a fallback and cross-check, samples every 10 ms.
 */
export class RssWatch {
  readonly #before: number;
  #peak: number;
  readonly #timer: NodeJS.Timeout;
  readonly #hwmReset: boolean;

  constructor(private readonly pid: number) {
    this.#hwmReset = resetHwm(pid);
    this.#before = statusKb(pid, "VmRSS");
    this.#peak = this.#before;
    this.#timer = setInterval(() => this.#sample(), 10);
  }

  stop(): RssGrowth {
    clearInterval(this.#timer);
    this.#sample();
    if (this.#hwmReset) this.#peak = Math.max(this.#peak, statusKb(this.pid, "VmHWM"));
    const mib = (kb: number) => kb / 1024;
    return { beforeMiB: mib(this.#before), peakMiB: mib(this.#peak), growthMiB: mib(this.#peak - this.#before) };
  }

  #sample(): void {
    try {
      this.#peak = Math.max(this.#peak, statusKb(this.pid, "VmRSS"));
    } catch {
      // The process may have exited; the phase then fails on its own.
    }
  }
}

function resetHwm(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** CPU time (user + system) a process has used so far, in microseconds. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1_000_000) / CLOCK_TICKS;
}

/** USER_HZ; 100 on every Linux build Node supports. */
const CLOCK_TICKS = 100;
