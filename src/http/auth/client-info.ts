import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context } from "hono";
import type { ClientInfo } from "../../lib/client-info.js";

const LOOPBACK = new Set(["127.0.0.1", "::1", "::ffff:127.0.0.1"]);

function peerAddress(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
}

/** X-Real-IP is believed only from a loopback peer: that is the local nginx, which overwrites it. */
export function clientInfo(c: Context): ClientInfo {
  const peer = peerAddress(c);
  const forwarded = c.req.header("x-real-ip")?.trim();
  const ip = peer && LOOPBACK.has(peer) && forwarded ? forwarded : (peer ?? "unknown");
  const proto = c.req.header("x-forwarded-proto")?.trim().toLowerCase();
  return { ip, secure: proto === "https" || new URL(c.req.url).protocol === "https:" };
}
