import type { IncomingMessage } from "node:http";
import { Readable } from "node:stream";
import type { Context } from "hono";

/** HTTP framing of backup bytes: RFC 9530 digests, strong ETags and the upload's declared length. */

/** `Repr-Digest: sha-256=:<base64>:` and a strong ETag of the hex checksum; nothing while it is unknown. */
export function digestHeaders(sha256: string | null): Record<string, string> {
  if (!sha256) return {};
  const base64 = Buffer.from(sha256, "hex").toString("base64");
  return { "Repr-Digest": `sha-256=:${base64}:`, ETag: `"${sha256}"` };
}

/** `If-None-Match` with our strong ETag (or `*`) in its list; weak validators compare by value (RFC 9110 §13.1.2). */
export function matchesEtag(ifNoneMatch: string | undefined, sha256: string | null): boolean {
  if (!ifNoneMatch || !sha256) return false;
  return ifNoneMatch
    .split(",")
    .map((tag) => tag.trim().replace(/^W\//, ""))
    .some((tag) => tag === "*" || tag === `"${sha256}"`);
}

export function declaredLength(header: string | undefined): number | null {
  if (header === undefined || !/^\d+$/.test(header.trim())) return null;
  return Number(header);
}

/**
 * The request body as a Node stream. Under @hono/node-server that is the socket's own IncomingMessage
 * (backpressure straight to TCP, no per-chunk web-stream conversion: several times faster for a GiB);
 * elsewhere (tests' app.request) the web body.
 */
export function requestBodyStream(c: Context): Readable {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming && !c.req.raw.bodyUsed) return incoming;
  const body = c.req.raw.body;
  return body ? Readable.fromWeb(body as import("node:stream/web").ReadableStream) : Readable.from([]);
}
