import { lstat } from "node:fs/promises";
import { request } from "node:http";
import { connect } from "node:net";

/** Linux keeps a socket's path in 108 bytes, its terminating NUL included. */
export const MAX_SOCKET_PATH_BYTES = 107;

/**
 * Whether a server answers on the socket: `running`; `stale` when the file is left by a killed server
 * (nobody accepts on it); `absent` when there is no socket file. Any other failure (a socket this user may
 * not open) is thrown: a server may be running, and acting beside it unknowingly is what this check prevents.
 */
export async function probeControlSocket(file: string): Promise<"running" | "stale" | "absent"> {
  const info = await lstat(file).catch(() => null);
  if (!info?.isSocket()) return "absent";
  return new Promise((resolve, reject) => {
    const socket = connect(file);
    socket.once("connect", () => {
      socket.destroy();
      resolve("running");
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ECONNREFUSED" || error.code === "ENOENT") resolve("stale");
      else reject(error);
    });
  });
}

/** An answer of the control socket: its HTTP status and parsed JSON body. */
export interface ControlAnswer {
  status: number;
  body: unknown;
}

/** POSTs `args` as JSON to the operation `name` on the control socket and waits for the whole answer. */
export function callControlSocket(file: string, name: string, args: unknown): Promise<ControlAnswer> {
  const payload = JSON.stringify(args);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: file,
        method: "POST",
        path: `/v1/operations/${encodeURIComponent(name)}`,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          text += chunk;
        });
        res.on("error", reject);
        res.on("end", () => {
          try {
            resolve({ status: res.statusCode ?? 500, body: JSON.parse(text) });
          } catch {
            reject(new Error(`the server answered ${res.statusCode} without a JSON body`));
          }
        });
      },
    );
    req.on("error", reject);
    req.end(payload);
  });
}
