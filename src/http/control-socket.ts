import { chmodSync } from "node:fs";
import { rm } from "node:fs/promises";
import type { Server } from "node:http";
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { PayloadTooLargeError, ValidationError } from "../errors.js";
import { MAX_SOCKET_PATH_BYTES, probeControlSocket } from "../lib/control-socket.js";
import type { ServiceDeps } from "../services/deps.js";
import { isOperationName, runOperation } from "../services/operations/index.js";
import { errorResponse } from "./errors.js";

const MAX_BODY = 64 * 1024;

/**
 * The control socket's app: the CLI's write operations, run by this server on its own databases. No session or
 * key is asked for: the socket is 0600 in the data dir, so reaching it takes the same access as the data dir
 * itself, and nothing of this app is served on the TCP port.
 */
function controlApp(services: ServiceDeps) {
  const app = new Hono();
  app.onError((error, c) => errorResponse(error, c, services.logger));
  app.notFound((c) => c.json({ error: "NOT_FOUND", message: "no such control operation" }, 404));
  app.post(
    "/v1/operations/:name",
    bodyLimit({
      maxSize: MAX_BODY,
      onError: () => {
        throw new PayloadTooLargeError("the operation's arguments are too large");
      },
    }),
    async (c) => {
      const name = c.req.param("name");
      if (!isOperationName(name)) throw new ValidationError(`unknown operation: ${name}`, { operation: name });
      const args = await c.req.json().catch(() => {
        throw new ValidationError("the body is not JSON");
      });
      const started = performance.now();
      const log = services.logger.child({ operation: name, via: "control_socket" });
      try {
        const result = await runOperation(services, name, args);
        log.info({ durationMs: Math.round(performance.now() - started) }, "CLI operation done");
        return c.json(result as object, 200);
      } catch (error) {
        log.info({ durationMs: Math.round(performance.now() - started), err: error }, "CLI operation failed");
        throw error;
      }
    },
  );
  return app;
}

/**
 * Listens on `<data-dir>/chaoscypher.sock`, mode 0600. A socket left by a killed server (nobody answers) is
 * removed first; a live one belongs to another server on this data dir and is left alone (null: this server
 * then has no socket, and says so). Closing the server removes the file.
 */
export async function listenControlSocket(services: ServiceDeps): Promise<Server | null> {
  const file = services.paths.controlSocket;
  const log = services.logger.child({ socket: file });
  if (Buffer.byteLength(file) > MAX_SOCKET_PATH_BYTES) {
    log.warn("the data dir's path is too long for a unix socket: CLI commands will not go through this server");
    return null;
  }
  const found = await probeControlSocket(file).catch(() => "running" as const);
  if (found === "running") {
    log.warn("another server answers on this data dir's control socket: this one serves no socket");
    return null;
  }
  if (found === "stale") {
    log.info("removing the control socket a stopped server left");
    await rm(file, { force: true });
  }
  const server = createAdaptorServer({ fetch: controlApp(services).fetch }) as Server;
  // A restore or an off-site fetch may take long: the CLI waits for its answer, however long.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    // The socket is created with no access for others, then made 0600 (umask is restored in the same tick).
    const umask = process.umask(0o177);
    try {
      server.listen(file, () => resolve());
    } finally {
      process.umask(umask);
    }
  });
  chmodSync(file, 0o600);
  log.info("control socket listening");
  return server;
}
