import type { Row } from "./context.js";

function verdict(ok: boolean | null): string {
  if (ok === null) return "report";
  return ok ? "met" : "MISSED";
}

/** The result table as Markdown, so the same text goes to the terminal and to bench/README.md. */
export function renderTable(rows: Row[]): string {
  const header = ["figure", "service", "baseline (same run)", "ratio", "target", "result"];
  const lines = rows.map((r) => [
    r.figure,
    r.value,
    r.baseline,
    r.ratio === null ? "–" : `${r.ratio.toFixed(2)}×`,
    r.target,
    verdict(r.ok),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
  const format = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(" | ")} |`;
  return [format(header), format(widths.map((w) => "-".repeat(w))), ...lines.map(format)].join("\n");
}

export const fmt = {
  rps: (n: number) => `${Math.round(n).toLocaleString("en-US")} req/s`,
  ms: (n: number) =>
    n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : n < 10 ? `${n.toFixed(1)} ms` : `${Math.round(n)} ms`,
  seconds: (ms: number) => `${(ms / 1000).toFixed(2)} s`,
  mib: (n: number) => `${n.toFixed(1)} MiB`,
  perSecond: (n: number) => `${Math.round(n).toLocaleString("en-US")} tx/s`,
};
