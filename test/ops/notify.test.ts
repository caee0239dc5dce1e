import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.js";
import { type Notification, Notifier, startNotifier } from "../../src/services/observability/notify.js";
import { useTestApps } from "../helpers/app.js";

interface Received {
  body: Notification;
  res: ServerResponse;
}

/** A webhook receiver on 127.0.0.1 that holds each request until the test answers it. */
async function receiver() {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    let text = "";
    for await (const chunk of req) text += chunk;
    received.push({ body: JSON.parse(text) as Notification, res });
    for (const wake of waiters.splice(0)) wake();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    received,
    async next(count: number): Promise<Received> {
      while (received.length < count) await new Promise<void>((wake) => waiters.push(wake));
      return received[count - 1] as Received;
    },
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

describe("failure notifications (CHAOSCYPHER_NOTIFY_URL)", () => {
  const newApp = useTestApps();
  let hook: Awaited<ReturnType<typeof receiver>> | undefined;
  afterEach(() => hook?.close());

  it("posts a failed restore without holding it up, and retries a receiver that failed", async () => {
    hook = await receiver();
    const t = newApp({ config: { notifyUrl: hook.url } });
    const notifier = startNotifier(t.services, { backoffMs: 10 });
    const junk = "app_20200101_000000.db";
    writeFileSync(path.join(t.dataDir, "backups", "default", junk), "not a database");

    // The receiver has not answered yet, and the restore has already been refused.
    const refused = await t.request(`/api/v1/backup/${junk}/restore`, { method: "POST" });
    expect(refused.status).toBe(422);
    const first = await hook.next(1);
    expect(first.body).toMatchObject({
      event: "restore.failed",
      database: "default",
      filename: junk,
      error: expect.stringContaining("not a SQLite database"),
      text: expect.stringContaining(`restore of database "default" (${junk}) failed`),
    });
    expect(new Date(first.body.at).toISOString()).toBe(first.body.at);
    first.res.writeHead(503).end();

    const retry = await hook.next(2);
    expect(retry.body).toEqual(first.body);
    retry.res.writeHead(204).end();
    await notifier?.stop();
    expect(hook.received).toHaveLength(2);
  });

  it("sends successes only with CHAOSCYPHER_NOTIFY_ON_SUCCESS", async () => {
    hook = await receiver();
    const quiet = newApp({ config: { notifyUrl: hook.url } });
    startNotifier(quiet.services);
    expect((await quiet.request("/api/v1/backup", { method: "POST" })).status).toBe(200);
    const loud = newApp({ config: { notifyUrl: hook.url, notifyOnSuccess: "true" } });
    startNotifier(loud.services);
    const created = await loud.request("/api/v1/backup", { method: "POST" });
    const { filename } = (await created.json()) as { filename: string };
    const sent = await hook.next(1);
    sent.res.writeHead(200).end();
    expect(sent.body).toMatchObject({ event: "backup.succeeded", database: "default", filename });
    expect(sent.body.error).toBeUndefined();
    expect(hook.received).toHaveLength(1);
  });
});

describe("a notification URL's secrets", () => {
  const newApp = useTestApps();

  it("never logs the userinfo or query string of a URL that cannot be delivered to", async () => {
    const t = newApp();
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger("debug", sink as unknown as Parameters<typeof createLogger>[1]);
    // Config refuses such a URL; a Notifier given one anyway (an older config path) must still not leak it.
    const notifier = new Notifier(
      { ...t.services, logger },
      "http://hook-user:s3cr3t-token@127.0.0.1:9/hook?key=q-s3cr3t",
      { attempts: 2, backoffMs: 1 },
    );
    t.services.events.emit({ type: "backup.failed", database: "default", kind: "backup", error: "x", durationMs: 1 });
    await notifier.stop();
    const log = lines.join("");
    expect(log).toContain("notification could not be delivered");
    expect(log).not.toContain("s3cr3t");
  });
});
