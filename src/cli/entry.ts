import { run } from "./main.js";

/** The `chaoscypher` process: bin/chaoscypher.js loads the compiled copy of this file (dist/cli/entry.js). */
await run(process.argv);
