import {
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from "node:crypto";
import { bech32 } from "@scure/base";
import { decodeBase64, encodeBase64 } from "./base64.js";
import { AgeError } from "./errors.js";

/** X25519 keys as DER: these fixed prefixes and the raw 32 bytes are the whole encoding (RFC 8410). */
const SPKI_PREFIX = Buffer.from("302a300506032b656e032100", "hex");
const PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const X25519_INFO = "age-encryption.org/v1/X25519";
const ZERO_NONCE = Buffer.alloc(12);
const FILE_KEY_SIZE = 16;

export interface Stanza {
  type: string;
  args: string[];
  body: Buffer;
}

export interface Identity {
  privateKey: KeyObject;
  /** The raw recipient bytes: part of the wrap key's salt. */
  publicKey: Buffer;
}

function decodeBech32(text: string, prefix: string, what: string): Buffer {
  try {
    const decoded = bech32.decode(text as `${string}1${string}`, 100);
    const bytes = Buffer.from(bech32.fromWords(decoded.words));
    if (decoded.prefix === prefix && bytes.length === 32) return bytes;
  } catch {
    // Reported below without echoing the key: an identity is a secret.
  }
  throw new AgeError("header", `not a valid ${what}`);
}

const publicKeyObject = (raw: Buffer) =>
  createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: "der", type: "spki" });

const rawPublicKey = (key: KeyObject) => key.export({ format: "der", type: "spki" }).subarray(SPKI_PREFIX.length);

/** `age1…` (lowercase Bech32 only, as age-keygen writes it). */
export function parseRecipient(text: string): Buffer {
  if (text !== text.toLowerCase()) throw new AgeError("header", "not a valid age recipient");
  return decodeBech32(text, "age", "age recipient");
}

/** `AGE-SECRET-KEY-1…` (uppercase, as age-keygen writes it). */
export function parseIdentity(text: string): Identity {
  if (text !== text.toUpperCase()) throw new AgeError("header", "not a valid age identity");
  const secret = decodeBech32(text.toLowerCase(), "age-secret-key-", "age identity");
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, secret]), format: "der", type: "pkcs8" });
  return { privateKey, publicKey: rawPublicKey(createPublicKey(privateKey)) };
}

/** Every `AGE-SECRET-KEY-1…` line of an identity file; comments and blank lines are skipped. */
export function parseIdentityFile(text: string): Identity[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.startsWith("AGE-SECRET-KEY-"))
    .map(parseIdentity);
}

function wrapKey(sharedSecret: Buffer, share: Buffer, recipient: Buffer): Buffer {
  if (sharedSecret.every((b) => b === 0)) throw new AgeError("header", "an X25519 share is a low-order point");
  const salt = Buffer.concat([share, recipient]);
  return Buffer.from(hkdfSync("sha256", sharedSecret, salt, X25519_INFO, 32));
}

function sharedSecret(privateKey: KeyObject, publicKey: KeyObject): Buffer {
  try {
    return diffieHellman({ privateKey, publicKey });
  } catch {
    // OpenSSL refuses an all-zero result itself: the share was a low-order point.
    throw new AgeError("header", "an X25519 share is a low-order point");
  }
}

/** A fresh ephemeral key per stanza: the file key wrapped for one recipient. */
export function wrapFileKey(fileKey: Buffer, recipient: Buffer): Stanza {
  const ephemeral = generateKeyPairSync("x25519");
  const share = rawPublicKey(ephemeral.publicKey);
  const key = wrapKey(sharedSecret(ephemeral.privateKey, publicKeyObject(recipient)), share, recipient);
  const cipher = createCipheriv("chacha20-poly1305", key, ZERO_NONCE, { authTagLength: 16 });
  const body = Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
  return { type: "X25519", args: [encodeBase64(share)], body };
}

/**
 * The file key if this X25519 stanza was made for `identity`, null if it was made for someone else. A malformed
 * X25519 stanza is an error, not a miss: the sizes are checked before decrypting (no partitioning oracle).
 */
export function unwrapFileKey(stanza: Stanza, identity: Identity): Buffer | null {
  if (stanza.args.length !== 1) throw new AgeError("header", "an X25519 stanza has the wrong number of arguments");
  const share = decodeBase64(stanza.args[0] as string, "an X25519 share");
  if (share.length !== 32) throw new AgeError("header", "an X25519 share is not 32 bytes");
  if (stanza.body.length !== FILE_KEY_SIZE + 16) throw new AgeError("header", "an X25519 stanza body is not 32 bytes");
  const key = wrapKey(sharedSecret(identity.privateKey, publicKeyObject(share)), share, identity.publicKey);
  const decipher = createDecipheriv("chacha20-poly1305", key, ZERO_NONCE, { authTagLength: 16 });
  decipher.setAuthTag(stanza.body.subarray(FILE_KEY_SIZE));
  try {
    return Buffer.concat([decipher.update(stanza.body.subarray(0, FILE_KEY_SIZE)), decipher.final()]);
  } catch {
    return null;
  }
}

export { FILE_KEY_SIZE };
