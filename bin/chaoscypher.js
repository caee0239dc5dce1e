#!/usr/bin/env node
// The CLI is TypeScript run through tsx (a runtime dependency, as for `npm start`): register it, then load.
import { register } from "tsx/esm/api";

register();
const { run } = await import("../src/cli/main.ts");
await run(process.argv);
