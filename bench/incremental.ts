/**
 * Incremental off-site copies over simulated days, on their own (also `npm run bench -- --only incremental`):
 *   npx tsx bench/incremental.ts [--size-mb 1024] [--days 30] [--dir /tmp/cc-bench-incremental]
 *     [--repack-threshold 0.5] [--repack-budget 0.02]   (the copy's repack policy; the service's default otherwise)
 * The database is the bench dataset (bench/dataset.ts, the app's schema, cached in bench/.data/); a day is the
 * issue's knowledge-base day: 1 % of rows updated, 0.5 % inserted, 0.2 % deleted, chosen at random across sources,
 * document_chunks, chunk_embeddings, nodes and edges (bench/lib/kb-day.ts). See bench/phases/incremental.ts.
 */
import path from "node:path";
import { parseArgs } from "node:util";
import { incrementalTable, simulateIncremental } from "./phases/incremental.js";
import { renderTable } from "./report.js";

const { values } = parseArgs({
  options: {
    "size-mb": { type: "string", default: "1024" },
    days: { type: "string", default: "30" },
    dir: { type: "string", default: "/tmp/cc-bench-incremental" },
    "repack-threshold": { type: "string" },
    "repack-budget": { type: "string" },
  },
});
const log = (line: string) => process.stderr.write(`${line}\n`);
const result = await simulateIncremental({
  sizeMb: Number(values["size-mb"]),
  days: Number(values.days),
  root: path.resolve(values.dir as string),
  log,
  repack:
    values["repack-threshold"] !== undefined || values["repack-budget"] !== undefined
      ? { threshold: Number(values["repack-threshold"] ?? 0.5), budget: Number(values["repack-budget"] ?? 0.02) }
      : undefined,
});
process.stdout.write(`\n${renderTable(incrementalTable(result))}\n`);
