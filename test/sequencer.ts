import path from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The files that take longest on two cores, longest first. They start first, so that none of them starts last and
 * leaves the other worker idle at the end. A fresh clone has no duration cache: vitest would order by file size,
 * and the longest file (the production install) is a short one.
 */
const SLOWEST = [
  "test/ops/production-install.test.ts",
  "test/cli/cli-backup.test.ts",
  "test/chaos/chaos.test.ts",
  "test/reliability/cli-beside-server.test.ts",
  "test/offsite/recovery.test.ts",
  "test/e2e/ui.test.ts",
  "test/ops/shutdown.test.ts",
];

export class SlowestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const index = SLOWEST.indexOf(path.relative(spec.project.config.root, spec.moduleId));
      return index === -1 ? SLOWEST.length : index;
    };
    // Stable: the listed files first in their order, every other file in vitest's own order.
    return base
      .map((spec, i) => ({ spec, i }))
      .sort((a, b) => rank(a.spec) - rank(b.spec) || a.i - b.i)
      .map((e) => e.spec);
  }
}
