import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The CLI from its sources: transpiled once for this run by the suite's setup (test/setup/build-sources.ts), or
 * through tsx (`node --import tsx src/cli/entry.ts`) without it. Tests exercise the code under test, never whatever
 * dist/ was built last (test/ops/production-install.test.ts runs the built `bin`).
 */
const BUILT = process.env.CHAOSCYPHER_TEST_BUILD;
export const CLI_ARGV = BUILT
  ? [path.join(BUILT, "cli/entry.js")]
  : ["--import", "tsx", fileURLToPath(new URL("../../src/cli/entry.ts", import.meta.url))];
/** The server's entry, the same way. */
export const SERVER_ARGV = BUILT
  ? [path.join(BUILT, "main.js")]
  : ["--import", "tsx", fileURLToPath(new URL("../../src/main.ts", import.meta.url))];
/** For shell command lines (`script` runs the CLI under a pseudo-terminal). */
export const BIN = CLI_ARGV.join(" ");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A clean environment: nothing from the developer's shell decides where data goes or how much is logged. */
function cliEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const { CHAOSCYPHER_DATA_DIR: _d, LOG_LEVEL: _l, HOST: _h, PORT: _p, ...env } = process.env;
  return { ...env, ...extra };
}

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  done: Promise<CliResult>;
}

/** Starts the real CLI (`node bin/chaoscypher.js ...`) with piped stdio: no terminal, as a script runs it. */
export function spawnCli(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): RunningCli {
  const child = spawn(process.execPath, [...CLI_ARGV, ...args], {
    env: cliEnv(options.env),
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin?.end();
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    stderr += chunk;
  });
  const done = once(child, "close").then(([code]) => ({ code: code as number | null, stdout, stderr }));
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return spawnCli(args, options).done;
}

/** Resolves once `read()` satisfies `test`; the child's exit first is a failure with its output. */
export async function waitForOutput(cli: RunningCli, read: () => string, test: (text: string) => boolean) {
  let exited = false;
  cli.done.then(() => {
    exited = true;
  });
  while (!test(read())) {
    if (exited) throw new Error(`process exited early:\n${cli.stdout()}\n${cli.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export interface CliServer {
  url: string;
  cli: RunningCli;
  stop(): Promise<CliResult>;
}

/** `chaoscypher serve` on a free port; the port is read back from its "listening" log line. */
export async function startCliServer(dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<CliServer> {
  const cli = spawnCli(["serve", "--port", "0", "--data-dir", dataDir], { env });
  let url = "";
  await waitForOutput(cli, cli.stdout, (text) => {
    for (const line of text.split("\n")) {
      if (line.includes('"listening"')) url = (JSON.parse(line) as { url: string }).url;
    }
    return url !== "";
  });
  return {
    url,
    cli,
    async stop() {
      cli.child.kill("SIGTERM");
      return cli.done;
    },
  };
}

/** The last line of stderr, checked to be the only one: failures explain themselves in one line. */
export function oneLine(result: CliResult): string {
  const lines = result.stderr.split("\n").filter((l) => l.length > 0);
  if (lines.length !== 1) throw new Error(`expected one line on stderr, got:\n${result.stderr}`);
  return lines[0] as string;
}

export function parseJson<T = Record<string, unknown>>(result: CliResult): T {
  return JSON.parse(result.stdout) as T;
}
