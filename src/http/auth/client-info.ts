import { BlockList, isIP } from "node:net";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Context } from "hono";
import type { ClientInfo } from "../../lib/client-info.js";

const lists = new WeakMap<readonly string[], BlockList>();

/** The configured CIDRs as a BlockList, built once per config. */
function trustedList(cidrs: readonly string[]): BlockList {
  let list = lists.get(cidrs);
  if (list) return list;
  list = new BlockList();
  for (const cidr of cidrs) {
    const [address = "", prefix] = cidr.split("/");
    const type = isIP(address) === 6 ? "ipv6" : "ipv4";
    list.addSubnet(address, prefix === undefined ? (type === "ipv4" ? 32 : 128) : Number(prefix), type);
  }
  lists.set(cidrs, list);
  return list;
}

/** Whether the socket's peer is one of the trusted proxies; an IPv4-mapped IPv6 peer counts as its IPv4 address. */
export function isTrustedProxy(peer: string, cidrs: readonly string[]): boolean {
  const v4 = peer.startsWith("::ffff:") && isIP(peer.slice(7)) === 4 ? peer.slice(7) : null;
  const list = trustedList(cidrs);
  if (v4) return list.check(v4, "ipv4");
  return list.check(peer, isIP(peer) === 6 ? "ipv6" : "ipv4");
}

function peerAddress(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
}

/**
 * X-Real-IP and X-Forwarded-Proto are believed only from a trusted proxy (CHAOSCYPHER_TRUSTED_PROXIES): that
 * is the nginx edge, which sets both; from anyone else they are the client's own claim and are ignored.
 */
export function clientInfo(c: Context, trustedProxies: readonly string[]): ClientInfo {
  const peer = peerAddress(c);
  const trusted = peer !== undefined && isIP(peer) !== 0 && isTrustedProxy(peer, trustedProxies);
  const forwarded = c.req.header("x-real-ip")?.trim();
  const ip = trusted && forwarded ? forwarded : (peer ?? "unknown");
  const proto = trusted ? c.req.header("x-forwarded-proto")?.trim().toLowerCase() : undefined;
  return { ip, secure: proto === "https" || new URL(c.req.url).protocol === "https:" };
}
