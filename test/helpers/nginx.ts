import type { ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { type EdgePrefix, prepareEdgePrefix, spawnNginx } from "../../src/edge/nginx.js";

export interface Edge {
  url: string;
  port: number;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function waitUntilServing(url: string, nginx: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (nginx.exitCode !== null) throw new Error(`nginx exited with ${nginx.exitCode}: ${stderr()}`);
    const ok = await fetch(`${url}/api/v1/health`).then(
      (res) => res.status === 200,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nginx did not start serving in time: ${stderr()}`);
}

function stopProcess(nginx: ChildProcess): Promise<void> {
  if (nginx.exitCode !== null || nginx.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    nginx.once("exit", () => resolve());
    nginx.kill("SIGTERM");
  });
}

/** Debian's nginx, rendered from nginx/nginx.conf.template, on a free port in front of `upstream`. */
export async function startEdge(upstream: string): Promise<Edge> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const prefix: EdgePrefix = await prepareEdgePrefix({ listen: `127.0.0.1:${port}`, upstream, accessLog: "off" });
    const nginx = spawnNginx(prefix, ["ignore", "ignore", "pipe"]);
    let stderr = "";
    nginx.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    try {
      await waitUntilServing(url, nginx, () => stderr);
      return {
        url,
        port,
        stop: async () => {
          await stopProcess(nginx);
          await prefix.remove();
        },
      };
    } catch (error) {
      await stopProcess(nginx);
      await prefix.remove();
      // Another process may have taken the port between probing and binding it.
      if (attempt >= 3) throw error;
    }
  }
}
