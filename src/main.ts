import { serve } from "@hono/node-server";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { createApp } from "./http/app.js";
import { createLogger } from "./logger.js";
import { reconcileCredentials } from "./services/auth/index.js";
import { startServices } from "./services/create-deps.js";

/** Starts the HTTP server on the parsed config; resolves once it listens. */
export async function startServer(config: Config) {
  const logger = createLogger(config.logLevel);
  const services = await startServices(config, logger);
  // Without a readable `default` nothing authenticates anyway; the server still starts and says why.
  await reconcileCredentials(services).catch((error: unknown) => {
    logger.error({ err: error }, "could not reconcile credentials at start-up");
  });
  const app = createApp(services);
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info) => {
      logger.info({ url: `http://${config.host}:${info.port}`, dataDir: config.dataDir }, "listening");
      resolve(s);
    });
    // A port in use is an operator's problem to hear about in one line, not an unhandled 'error' event.
    s.once("error", (error) => {
      services.registry.closeAll();
      reject(error);
    });
  });
  const shutdown = () => {
    logger.info("shutting down");
    server.close(async () => {
      await services.offsite?.stop();
      services.registry.closeAll();
      process.exit(0);
    });
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
  return { server, services };
}

const isEntry = process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/\\/g, "/"));
if (isEntry) {
  try {
    const config = loadConfig();
    const { server } = await startServer(config);
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    // The JSON log says it too; this line is for the person who just typed `npm start`.
    process.stderr.write(
      `Chaos Cypher backup service: open http://${config.host}:${port}/ (data in ${config.dataDir})\n`,
    );
  } catch (error) {
    const message = error instanceof ConfigError ? error.message : (error as Error).stack;
    process.stderr.write(`chaoscypher: ${message}\n`);
    process.exit(1);
  }
}
