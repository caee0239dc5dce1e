// Copies the API reference page's script (Scalar's standalone bundle, ~5 MB) into dist/ at build time, so the
// package it comes from (~60 MB with its dependencies) stays a dev dependency and out of production installs.
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const entry = createRequire(import.meta.url).resolve("@scalar/api-reference");
const bundle = path.join(path.dirname(entry), "browser", "standalone.js");
mkdirSync("dist/vendor", { recursive: true });
copyFileSync(bundle, "dist/vendor/scalar-standalone.js");
