import { AgeError } from "./errors.js";

const BASE64_CHARS = /^[A-Za-z0-9+/]*$/;

/** Unpadded standard base64, as age writes it. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64").replace(/=+$/, "");
}

/**
 * Strict decoding: only the 64 characters, no padding, and canonical (the unused low bits zero). Node's own decoder
 * skips bad characters, so the result is re-encoded and compared: a tampered stanza never decodes "close enough".
 */
export function decodeBase64(text: string, what: string): Buffer {
  if (!BASE64_CHARS.test(text) || text.length % 4 === 1) throw new AgeError("header", `${what} is not valid base64`);
  const bytes = Buffer.from(text, "base64");
  if (encodeBase64(bytes) !== text) throw new AgeError("header", `${what} is not canonical base64`);
  return bytes;
}
