import { Command } from "commander";
import { loadConfig } from "../../config.js";
import { action, type CommonOptions, withCommonOptions } from "../common.js";

interface ServeOptions extends CommonOptions {
  host?: string;
  port?: string;
}

export function serveCommand(): Command {
  return withCommonOptions(
    new Command("serve").description("start the server, as `npm start` does (migrations are applied first)"),
    { json: false },
  )
    .option("--host <host>", "address to listen on (default: $HOST, else 127.0.0.1)")
    .option("--port <port>", "port to listen on, 0 for any free one (default: $PORT, else 8080)")
    .action(
      action<ServeOptions>(async (options) => {
        const config = loadConfig(process.env, { dataDir: options.dataDir, host: options.host, port: options.port });
        // Loaded here: the HTTP stack is only needed by this command, and every other one starts faster without it.
        const { startServer } = await import("../../main.js");
        await startServer(config);
      }),
    );
}
