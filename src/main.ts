import { serve } from "@hono/node-server";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { createApp } from "./http/app.js";
import { createLogger } from "./logger.js";
import { reconcileCredentials } from "./services/auth/index.js";
import { startServices } from "./services/create-deps.js";
import { Scheduler } from "./services/schedules/index.js";

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
  // Timers start once the server listens; the ops shutdown sequence stops them first (runs in flight finish).
  const scheduler = new Scheduler(services);
  services.scheduler = scheduler;
  await scheduler.start();
  const shutdown = () => {
    logger.info("shutting down");
    // Off-site uploads in flight are stopped; their records stay `uploading` and restart cleanly next time.
    const stopped = Promise.all([scheduler.stop(), services.offsite?.stop()]);
    server.close(() => {
      void stopped.finally(() => {
        services.registry.closeAll();
        process.exit(0);
      });
    });
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
  return { server, services, scheduler };
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
