#!/usr/bin/env node
// Runs the compiled CLI (`npm run build` writes dist/). A development checkout that has not been built yet
// falls back to the sources through tsx, a dev dependency; the production install never does.
import { existsSync } from "node:fs";

const built = new URL("../dist/cli/entry.js", import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  let register;
  try {
    ({ register } = await import("tsx/esm/api"));
  } catch {
    process.stderr.write("chaoscypher: not built yet; run `npm run build` first\n");
    process.exit(1);
  }
  register();
  await import("../src/cli/entry.ts");
}
