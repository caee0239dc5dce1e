import type { Server } from "node:http";
import type { Logger } from "./logger.js";
import type { ServiceDeps } from "./services/deps.js";

/** How long requests cut off by the timeout get to send their answer before their sockets are closed. */
const ANSWER_GRACE_MS = 5_000;

function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  return Promise.race([promise.then(() => true), late]).finally(() => clearTimeout(timer));
}

/**
 * SIGTERM's work (docs/operations.md): stop accepting; stop schedulers and queues; let running requests finish within
 * the timeout, else cut running tasks short (a backup's temp file is removed by its own error path, and
 * the request answers 503); close every database (the last connection checkpoints and removes the WAL).
 */
export async function stopServer(server: Server, services: ServiceDeps, others: Server[] = []): Promise<void> {
  const { logger, config } = services;
  const started = performance.now();
  // The control socket stops with the port (closing it removes its file); its running operations finish alike.
  const servers = [server, ...others];
  const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  for (const s of servers) s.closeIdleConnections();
  await services.shutdown.stopAll(logger, config.shutdownTimeoutMs);
  const left = Math.max(0, config.shutdownTimeoutMs - (performance.now() - started));
  if (!(await settledWithin(closed, left))) {
    logger.warn(
      { timeoutMs: config.shutdownTimeoutMs },
      "requests still running at the shutdown timeout: cutting them off",
    );
    await services.tasks.stop();
    if (!(await settledWithin(closed, ANSWER_GRACE_MS))) for (const s of servers) s.closeAllConnections();
  }
  await services.tasks.stop();
  services.registry.closeAll();
  logger.info({ durationMs: Math.round(performance.now() - started) }, "stopped");
}

/** SIGTERM and SIGINT stop the server cleanly and exit 0; a second signal exits at once. */
export function exitOnSignals(stop: () => Promise<void>, logger: Logger): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "shutting down");
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
