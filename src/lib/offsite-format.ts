import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Off-site format 2 (docs/offsite.md, "Format 2"): the install's key, its id, the MAC over an object's claims and
 * the id of a content-addressed object. Shared by the main thread and the copy/fetch workers.
 */

export const FORMAT_VERSION = "2";
export const KEY_LINE = /^CHAOSCYPHER-OFFSITE-KEY-1-([0-9a-f]{64})$/;
export const KIT_KEY_COMMENT = /^#\s*chaoscypher-offsite-key:\s*(CHAOSCYPHER-OFFSITE-KEY-1-[0-9a-f]{64})\s*$/;
export const INSTANCE_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export type ObjectType = "database" | "manifest" | "blob" | "install";

/** What an object claims about itself; the MAC binds all of it to the install's key. */
export interface ObjectClaims {
  /** The key relative to the configured prefix (`v2/<install>/…`), so a moved tree still verifies. */
  key: string;
  type: ObjectType;
  install: string;
  kind: string;
  createdAt: string;
  size: number;
  sha256: string;
}

export const keyLine = (key: Buffer) => `CHAOSCYPHER-OFFSITE-KEY-1-${key.toString("hex")}`;

export function parseKeyLine(line: string): Buffer | null {
  const match = KEY_LINE.exec(line.trim());
  return match ? Buffer.from(match[1] as string, "hex") : null;
}

export const keyId = (key: Buffer) =>
  createHmac("sha256", key).update("chaoscypher offsite key id").digest("hex").slice(0, 16);

export function macInput(c: ObjectClaims): string {
  return [
    "chaoscypher-offsite-mac-v2",
    `key:${c.key}`,
    `type:${c.type}`,
    `install:${c.install}`,
    `kind:${c.kind}`,
    `created-at:${c.createdAt}`,
    `size:${c.size}`,
    `sha256:${c.sha256}`,
    "",
  ].join("\n");
}

export const computeMac = (key: Buffer, claims: ObjectClaims) =>
  createHmac("sha256", key).update(macInput(claims)).digest("hex");

/** The object id of some plaintext: keyed, so the bucket does not tell which known document it holds. */
export const blobId = (key: Buffer, sha256: string) =>
  createHmac("sha256", key).update(`chaoscypher blob id\n${sha256}`).digest("hex");

export type MacVerdict = "authenticated" | "unauthenticated" | "unknown_key" | "mac_mismatch";

/** Checks an object's metadata MAC against the trusted keys (by key id), in constant time. */
export function verifyMac(
  trusted: ReadonlyMap<string, Buffer>,
  meta: { keyId: string | null; mac: string | null },
  claims: ObjectClaims,
): MacVerdict {
  if (!meta.mac || !meta.keyId) return "unauthenticated";
  const key = trusted.get(meta.keyId);
  if (!key) return "unknown_key";
  const expected = Buffer.from(computeMac(key, claims), "hex");
  const given = Buffer.from(meta.mac, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected) ? "authenticated" : "mac_mismatch";
}

/** The metadata a format-2 object is written with. */
export function objectMetadata(key: Buffer, claims: ObjectClaims): Record<string, string> {
  return {
    version: FORMAT_VERSION,
    type: claims.type,
    install: claims.install,
    size: String(claims.size),
    kind: claims.kind,
    "created-at": claims.createdAt,
    // A blob's hash is in the manifests only: in the bucket it would tell which document is stored.
    ...(claims.type === "blob" ? {} : { sha256: claims.sha256 }),
    "key-id": keyId(key),
    mac: computeMac(key, claims),
  };
}

export const BLOB_ID = /^[0-9a-f]{64}$/;

/** A blob's key relative to the prefix: `v2/<install>/blobs/<id[0:2]>/<id>.age` (no `.age` in plaintext mode). */
export const blobRelativeKey = (install: string, id: string, encrypted: boolean) =>
  `v2/${install}/blobs/${id.slice(0, 2)}/${id}${encrypted ? ".age" : ""}`;
