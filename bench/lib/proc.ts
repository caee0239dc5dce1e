import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import path from "node:path";

export const REPO_ROOT = path.resolve(import.meta.dirname, "../..");

/** A port the kernel just handed out on 127.0.0.1; the child binds it right after. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

export interface NodeProcess {
  pid: number;
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function waitForHttp(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`process exited with ${child.exitCode}: ${stderr()}`);
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`${url} did not answer within 60 s: ${stderr()}`);
}

/**
 * Runs an entry as a real node process (no npx wrapper, so the pid is the server's): built `.js` as is, a
 * TypeScript one through `--import tsx`; waits until `readyPath` answers.
 */
export async function startNode(entry: string, env: Record<string, string>, readyPath: string): Promise<NodeProcess> {
  const port = await freePort();
  const loader = entry.endsWith(".ts") ? ["--import", "tsx"] : [];
  const child = spawn(process.execPath, [...loader, entry], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, HOST: "127.0.0.1", PORT: String(port) },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let errors = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    errors = (errors + chunk.toString()).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(url + readyPath, child, () => errors);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${entry} has no pid`);
  return {
    pid,
    url,
    child,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await once(child, "exit");
      clearTimeout(timer);
    },
  };
}

/** Runs a command to completion; rejects with its stderr when it fails. */
export async function run(command: string, args: string[]): Promise<void> {
  const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
  let errors = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    errors += chunk.toString();
  });
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`${command} exited with ${code}: ${errors.trim()}`);
}

/**
 * Flushes dirty pages and finishes the file system's pending work (freed blocks of deleted backups are
 * discarded at the next journal commit) so a timed run does not pay for the one before it.
 */
export async function settle(): Promise<void> {
  await run("sync", []);
}
