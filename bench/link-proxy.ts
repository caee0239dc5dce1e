import net from "node:net";

/**
 * A TCP proxy that gives the bench's store a downlink of a fixed rate, in its own process: every connection's bytes
 * from the store share one link (RATE_BYTES_PER_S), so a rebuild's many GETs and a fetch's one GET pay the same
 * per byte, as they would from a store on the network. Requests go up unthrottled (they are small); every byte
 * back arrives RTT_MS after its turn on the link, so each request waits a round trip for its first byte.
 */
const upstream = new URL(process.env.UPSTREAM ?? "http://127.0.0.1:9000");
const rate = Number(process.env.RATE_BYTES_PER_S ?? 62.5e6);
const rtt = Number(process.env.RTT_MS ?? 0);
/** How far the link may run ahead of its clock: makes up for late timers without raising the rate. */
const BURST_MS = 20;
let linkFreeAt = 0;

/** When `bytes` may go: the link is one queue, each chunk takes its share of a second. */
function slot(bytes: number): number {
  const now = performance.now();
  const at = Math.max(now - BURST_MS, linkFreeAt);
  linkFreeAt = at + (bytes / rate) * 1000;
  return Math.max(0, at - now);
}

/**
 * Bytes a connection holds before it stops reading the store: enough to keep the link busy between timers, plus
 * what is in flight over one round trip (the bandwidth-delay product, as a TCP window would grow to), so the round
 * trip delays the first byte but does not cap one stream's rate.
 */
const QUEUED_MAX = (1 << 20) + Math.ceil((rate * rtt) / 1000);

const server = net.createServer((client) => {
  const store = net.connect(Number(upstream.port), upstream.hostname);
  client.pipe(store);
  // One queue per connection, sent in order: each chunk at its slot on the shared link.
  const queue: { at: number; chunk: Buffer }[] = [];
  let queued = 0;
  let ended = false;
  let timer: NodeJS.Timeout | null = null;
  let blocked = false;
  // A client that stops reading stops its queue (as TCP's window would), not the other connections.
  client.on("drain", () => {
    blocked = false;
    if (!timer) drain();
  });
  const drain = () => {
    timer = null;
    while (!blocked && queue.length > 0 && (queue[0]?.at ?? 0) <= performance.now()) {
      const { chunk } = queue.shift() as { chunk: Buffer };
      queued -= chunk.length;
      blocked = !client.write(chunk);
    }
    if (blocked) return;
    if (queued < QUEUED_MAX) store.resume();
    if (queue.length > 0) timer = setTimeout(drain, Math.max(0, (queue[0]?.at ?? 0) - performance.now()));
    else if (ended) client.end();
  };
  store.on("data", (chunk: Buffer) => {
    queue.push({ at: performance.now() + slot(chunk.length) + rtt, chunk });
    queued += chunk.length;
    if (queued >= QUEUED_MAX) store.pause();
    if (!timer) timer = setTimeout(drain, Math.max(0, (queue[0]?.at ?? 0) - performance.now()));
  });
  store.on("end", () => {
    ended = true;
    if (!timer) drain();
  });
  const close = () => {
    if (timer) clearTimeout(timer);
    client.destroy();
    store.destroy();
  };
  store.on("error", close);
  client.on("error", close);
  client.on("close", close);
});
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? "127.0.0.1");
