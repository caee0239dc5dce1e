import { loadConfig } from "../config.js";
import { dataPaths } from "../db/paths.js";
import { type ErrorCode, type ErrorDetails, ServiceError } from "../errors.js";
import { callControlSocket, probeControlSocket } from "../lib/control-socket.js";
import { AUTH_DATABASE } from "../services/auth/types.js";
import type { ServiceDeps } from "../services/deps.js";
import type { OperationKind } from "../services/locks.js";
import {
  type OperationArgs,
  type OperationHooks,
  type OperationName,
  type OperationResult,
  runOperation,
} from "../services/operations/index.js";
import { CliError, type CommonOptions, requireDataDir, withDatabaseLock, withServices } from "./common.js";

/** Runs the write operations of one command: in this process, or through the server running on the data dir. */
export interface Operator {
  /** True when a server runs on the data dir and does the work (its schedules run too). */
  readonly viaServer: boolean;
  run<N extends OperationName>(name: N, args: OperationArgs<N>, hooks?: OperationHooks): Promise<OperationResult<N>>;
}

/** Operations on the auth tables take the cross-process lock when this process runs them itself. */
const LOCAL_LOCKS: Partial<Record<OperationName, OperationKind>> = {
  "keys.create": "keys",
  "keys.revoke": "keys",
  "auth.setup": "auth",
  "auth.reset-password": "auth",
};

/**
 * With a server running on the data dir, every write goes through its control socket: the server holds the
 * databases and their locks, so a restore is its own restore, not a second process refused beside it. Without
 * one (no socket, or a killed server's), the same operations run here, on the data dir directly.
 */
export async function withOperator<T>(options: CommonOptions, work: (operator: Operator) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env, { dataDir: options.dataDir });
  requireDataDir(config.dataDir);
  const socket = dataPaths(config.dataDir).controlSocket;
  if ((await serverOn(socket)) === "running") return work(remoteOperator(socket));
  return withServices(options, async (deps) => {
    try {
      return await work(localOperator(deps));
    } finally {
      // The off-site client's sockets would keep the process alive.
      await deps.offsite?.stop();
    }
  });
}

/** `running` when a server answers on the data dir's control socket; a socket this user cannot open is said so. */
export async function serverOn(socket: string): Promise<"running" | "stale" | "absent"> {
  try {
    return await probeControlSocket(socket);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "error";
    throw new CliError(
      `a server seems to run on this data dir, but its control socket ${socket} cannot be opened (${code}): run the command as the server's user`,
    );
  }
}

function localOperator(deps: ServiceDeps): Operator {
  return {
    viaServer: false,
    run(name, args, hooks) {
      const lock = LOCAL_LOCKS[name];
      const work = () => runOperation(deps, name, args, hooks);
      return lock ? withDatabaseLock(deps, AUTH_DATABASE, lock, work) : work();
    },
  };
}

function remoteOperator(socket: string): Operator {
  return {
    viaServer: true,
    async run(name, args) {
      const answer = await callControlSocket(socket, name, args).catch((error: NodeJS.ErrnoException) => {
        throw new CliError(
          `the server running on this data dir went away before answering (${error.code ?? error.message}); ` +
            "the operation may have finished: check with `chaoscypher status` or `chaoscypher backup list`",
        );
      });
      if (answer.status === 200) return answer.body as OperationResult<typeof name>;
      const body = answer.body as { error?: ErrorCode; message?: string; details?: ErrorDetails };
      throw new ServiceError(
        body.error ?? "INTERNAL_ERROR",
        body.message ?? `the server answered ${answer.status}`,
        body.details,
      );
    },
  };
}
