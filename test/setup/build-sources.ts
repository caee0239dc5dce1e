import { readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { isProcessAlive } from "../../src/lib/temp-names.js";

/**
 * Before the suite: the server's sources transpiled once (esbuild, no bundling, no type check; `npm run typecheck`
 * does that), for the CLI and servers tests spawn. Through tsx each spawn transpiled on its own, a second or more
 * per command. The output sits one level below the repository, as dist/ does, so every asset (migrations, the nginx
 * template, the UI) resolves the same; one directory per run, so two runs side by side do not share it.
 */
const REPO = fileURLToPath(new URL("../..", import.meta.url));
const PREFIX = ".test-build-";

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return file === path.join(REPO, "src/web") ? [] : sources(file);
    return /\.ts$/.test(entry.name) && !entry.name.endsWith(".test.ts") ? [file] : [];
  });
}

/** Directories of earlier runs that were killed before their teardown. */
function removeAbandoned(): void {
  for (const name of readdirSync(REPO)) {
    const pid = Number(name.slice(PREFIX.length));
    if (name.startsWith(PREFIX) && !(pid > 0 && isProcessAlive(pid)))
      rmSync(path.join(REPO, name), { recursive: true, force: true });
  }
}

export default async function setup(): Promise<() => void> {
  removeAbandoned();
  const outdir = path.join(REPO, `${PREFIX}${process.pid}`);
  await build({
    entryPoints: sources(path.join(REPO, "src")),
    outdir,
    outbase: path.join(REPO, "src"),
    format: "esm",
    platform: "node",
    target: "node20",
    sourcemap: "inline",
    logLevel: "error",
  });
  process.env.CHAOSCYPHER_TEST_BUILD = outdir;
  return () => rmSync(outdir, { recursive: true, force: true });
}
