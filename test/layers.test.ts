import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

/**
 * Imports point down (docs/architecture.md): src/db and src/lib import nothing above them, services never import a
 * transport, the CLI or the UI, transports never import each other, and config.ts imports nothing from services.
 * A violation names the file and the import, so it is fixed where it is made.
 */
const SRC = path.resolve(import.meta.dirname, "../src");

/** For each layer: the layers it must not import from. */
const FORBIDDEN: [layer: string, above: string[]][] = [
  ["lib", ["db", "services", "workers", "http", "trpc", "cli", "web", "edge", "config.ts", "main.ts"]],
  ["db", ["services", "workers", "http", "trpc", "cli", "web", "edge", "main.ts"]],
  ["workers", ["services", "http", "trpc", "cli", "web", "main.ts"]],
  ["services", ["http", "trpc", "cli", "web", "main.ts"]],
  ["http", ["trpc", "cli", "web"]],
  ["trpc", ["http", "cli", "web"]],
  ["config.ts", ["services", "workers", "http", "trpc", "cli", "web"]],
];

/** The HTTP app is the server's composition of both transports: it mounts the tRPC router (and nothing else above). */
const COMPOSES = new Set(["http/app.ts"]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.(ts|tsx|mts)$/.test(entry.name) ? [full] : [];
  });
}

/** The first path part under src/ (`services`, `db`, `config.ts`, …). */
const layerOf = (file: string) => path.relative(SRC, file).split(path.sep)[0] ?? "";

function relativeImports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["'](\.[^"']+)["']/g)].map(
    (m) => m[1] as string,
  );
  const dynamic = [...text.matchAll(/import\(\s*["'](\.[^"']+)["']\s*\)/g)].map((m) => m[1] as string);
  return [...specifiers, ...dynamic];
}

describe("imports point down", () => {
  it("no layer imports from one above it (type-only imports included)", () => {
    const violations: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const rule = FORBIDDEN.find(([layer]) => layer === layerOf(file));
      if (!rule || COMPOSES.has(path.relative(SRC, file))) continue;
      for (const specifier of relativeImports(file)) {
        const target = layerOf(path.resolve(path.dirname(file), specifier));
        if (rule[1].includes(target)) violations.push(`${path.relative(SRC, file)} imports ${specifier}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it("sees the imports it checks (a rule that finds nothing cannot fail)", () => {
    const imports = relativeImports(path.join(SRC, "services/create-deps.ts"));
    expect(imports).toContain("../db/registry.js");
    expect(imports.map((s) => layerOf(path.resolve(SRC, "services", s)))).toContain("workers");
  });
});
