import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";

type Fetch = (request: Request, env: unknown) => Response | Promise<Response>;

export interface Listening {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Serves `fetch` with the real @hono/node-server on 127.0.0.1 and a free port. */
export function listen(fetch: Fetch): Promise<Listening> {
  return new Promise((resolve) => {
    const server = serve({ fetch, hostname: "127.0.0.1", port: 0 }, (info: AddressInfo) => {
      resolve({
        port: info.port,
        url: `http://127.0.0.1:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            if ("closeAllConnections" in server) server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
