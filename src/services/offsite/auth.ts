import { type MacVerdict, type ObjectType, verifyMac } from "../../lib/offsite-format.js";
import type { RemoteMetadata } from "./remote.js";
import { FORMAT2_ROOT, type OffsiteSettings, relativeKey } from "./settings.js";

/** The install a format-2 key belongs to (`<prefix>v2/<install>/…`), null for a format-1 key. */
export function keyInstall(settings: OffsiteSettings, key: string): string | null {
  const rel = relativeKey(settings, key);
  if (!rel.startsWith(FORMAT2_ROOT)) return null;
  return rel.slice(FORMAT2_ROOT.length).split("/")[0] || null;
}

/**
 * Whether an object is what a trusted install wrote at this key: its MAC covers the key, its claims and the
 * plaintext's SHA-256 (`sha256` given for a blob, whose hash is only in the manifests).
 */
export function authenticate(
  settings: OffsiteSettings,
  key: string,
  meta: RemoteMetadata,
  expect: { type: ObjectType; sha256?: string },
): MacVerdict {
  if (meta.version !== "2" || meta.mac === null) return "unauthenticated";
  const install = keyInstall(settings, key);
  const verdict = verifyMac(settings.trusted, meta, {
    key: relativeKey(settings, key),
    type: expect.type,
    install: install ?? "",
    kind: meta.kind ?? "",
    createdAt: meta.createdAt ?? "",
    size: meta.size ?? -1,
    sha256: expect.sha256 ?? meta.sha256 ?? "",
  });
  // The metadata's own install and type must say what the MAC covered.
  if (verdict === "authenticated" && (meta.install !== install || meta.type !== expect.type)) return "mac_mismatch";
  return verdict;
}
