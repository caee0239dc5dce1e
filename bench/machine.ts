import { readFileSync } from "node:fs";
import os from "node:os";

/** The facts a reader needs to compare figures across machines. */
export function describeMachine(): string {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown CPU";
  const memGiB = (os.totalmem() / 2 ** 30).toFixed(1);
  return `${os.availableParallelism()} cores (${model}), ${memGiB} GiB RAM, Node ${process.version}, ${os.type()} ${os.release()}`;
}

/** Other work on the machine skews every figure; the load average says how much there was. */
export function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}
