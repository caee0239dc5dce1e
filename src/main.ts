import { statfs } from "node:fs/promises";
import type { Server } from "node:http";
import { serve } from "@hono/node-server";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { createApp } from "./http/app.js";
import { listenControlSocket } from "./http/control-socket.js";
import { createLogger } from "./logger.js";
import { pendingSetupUrl, reconcileCredentials } from "./services/auth/index.js";
import { startBackupLifecycle } from "./services/backup/index.js";
import { createServiceDeps, initServices } from "./services/create-deps.js";
import type { ServiceDeps } from "./services/deps.js";
import { startNotifier } from "./services/observability/notify.js";
import { Scheduler } from "./services/schedules/index.js";
import { exitOnSignals, stopServer } from "./shutdown.js";

/** A port that cannot be had, said in one line with the setting to change. */
function listenError(error: NodeJS.ErrnoException, config: Config): Error {
  const where = `${config.host}:${config.port}`;
  if (error.code === "EADDRINUSE") {
    return new ConfigError(`${where} is already in use: set PORT (or serve --port) to a free port`);
  }
  if (error.code === "EACCES") return new ConfigError(`not allowed to listen on ${where}: set PORT above 1023`);
  if (error.code === "EADDRNOTAVAIL")
    return new ConfigError(`${config.host} is not an address of this machine: set HOST`);
  return error;
}

/**
 * While no operator account exists, the one-time setup URL goes to the log (and the terminal): only someone who can
 * read the server's output can claim it. A token from CHAOSCYPHER_SETUP_TOKEN is the operator's own and not repeated.
 */
async function announceSetup(services: ServiceDeps, config: Config, server: ReturnType<typeof serve>) {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  // A wildcard address is no place to open: name the loopback of the same family instead.
  const reachable = config.host === "0.0.0.0" ? "127.0.0.1" : config.host === "::" ? "::1" : config.host;
  const host = reachable.includes(":") ? `[${reachable}]` : reachable;
  const url = await pendingSetupUrl(services, `http://${host}:${port}`).catch(() => null);
  if (!url) return;
  if (config.setupToken) {
    services.logger.warn("no operator account yet: open /?setup=<CHAOSCYPHER_SETUP_TOKEN> to create it");
    return;
  }
  services.logger.warn({ setup_url: url }, "no operator account yet: open the setup URL to create it");
  process.stderr.write(`Chaos Cypher: no operator account yet. Create it at ${url}\n`);
}

/**
 * A full disk does not keep the server from starting: it serves what it has (lists, downloads, the UI) and
 * answers 507 to writes until space is freed, then goes on by itself. Said once, at start, in one line.
 */
async function warnIfDiskFull(services: ServiceDeps, config: Config): Promise<void> {
  const fs = await statfs(config.dataDir).catch(() => null);
  if (!fs) return;
  const free = fs.bavail * fs.bsize;
  if (free >= config.backupFreeMarginBytes) return;
  services.logger.warn(
    { dataDir: config.dataDir, free_bytes: free, margin_bytes: config.backupFreeMarginBytes },
    "the data dir's disk is full: serving read-only, writes answer 507 until space is freed",
  );
}

/** Starts the HTTP server on the parsed config; resolves once it listens. */
export async function startServer(config: Config) {
  const logger = createLogger(config.logLevel);
  const services = createServiceDeps(config, logger);
  // Before the start-up upgrade, so a failing migration is notified too.
  startNotifier(services);
  await initServices(services);
  // Every background part registers its start and stop with the one owner (`services.shutdown`).
  services.shutdown.add("verifications", {
    start: () => startBackupLifecycle(services),
    stop: () => services.verifications.stop(),
  });
  // Uploads in flight are stopped; their records stay `uploading` and restart cleanly next time.
  if (services.offsite) services.shutdown.add("offsite", services.offsite);
  await services.shutdown.start();
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
      reject(listenError(error, config));
    });
  });
  await announceSetup(services, config, server);
  await warnIfDiskFull(services, config);
  let control: Server | null = null;
  // From the moment it listens: a signal during the rest of the start-up still stops it cleanly.
  exitOnSignals(() => stopServer(server as Server, services, control ? [control] : []), logger);
  // Timers start once the server listens; shutdown stops them first (a run in flight finishes, bounded).
  const scheduler = new Scheduler(services);
  services.scheduler = scheduler;
  services.shutdown.add("schedules", scheduler);
  await services.shutdown.start();
  // Last: a CLI that finds the socket finds a server whose schedules run.
  control = await listenControlSocket(services).catch((error: unknown) => {
    logger.warn({ err: error }, "no control socket: CLI commands will not go through this server");
    return null;
  });
  return { server, services, scheduler, control };
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
