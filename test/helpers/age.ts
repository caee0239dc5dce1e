import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { encodeHeader } from "../../src/lib/age/header.js";
import { AgeDecryptStream, AgeEncryptStream, parseIdentityFile } from "../../src/lib/age/index.js";
import { parseRecipient, wrapFileKey } from "../../src/lib/age/keys.js";
import { CHUNK_SIZE, payloadKey, sealChunk } from "../../src/lib/age/stream.js";

export const AGE_CLI = "/usr/bin/age";
export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** A fresh X25519 key from Debian's age-keygen. */
export function cliKeyPair(): { identity: string; recipient: string } {
  const file = execFileSync("age-keygen", { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  const identity = file.split("\n").find((line) => line.startsWith("AGE-SECRET-KEY-1")) as string;
  const recipient = execFileSync("age-keygen", ["-y"], { input: identity, encoding: "utf8" }).trim();
  return { identity, recipient };
}

/** Feeds `bytes` in pieces of `piece` bytes, so chunk boundaries fall inside and across writes. */
function pieces(bytes: Uint8Array, piece: number): Readable {
  const parts: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += piece) parts.push(Buffer.from(bytes.subarray(at, at + piece)));
  return Readable.from(parts);
}

export async function encrypt(plain: Uint8Array, recipients: string[], piece = 1024 * 1024): Promise<Buffer> {
  return buffer(pieces(plain, piece).pipe(new AgeEncryptStream(recipients)));
}

/** Decrypts with ours; on failure the plaintext released before the error is on `error.released`. */
export async function decrypt(file: Uint8Array, identities: string, piece = 64 * 1024): Promise<Buffer> {
  const stream = new AgeDecryptStream(parseIdentityFile(identities));
  const released: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => released.push(chunk));
  const done = new Promise<Buffer>((resolve, reject) => {
    stream.on("end", () => resolve(Buffer.concat(released)));
    stream.on("error", (error) => reject(Object.assign(error, { released: Buffer.concat(released) })));
  });
  pieces(file, piece).pipe(stream);
  return done;
}

/**
 * An age file whose STREAM is laid out by hand: `chunks` are the plaintexts and `lastFlag` the flag of the final
 * one. It is what a broken or hostile writer could produce, for the refusals a normal encryptor cannot make.
 */
export function craftFile(recipient: string, chunks: Buffer[], lastFlag: boolean): Buffer {
  const fileKey = randomBytes(16);
  const nonce = randomBytes(16);
  const key = payloadKey(fileKey, nonce);
  const parts = [encodeHeader([wrapFileKey(fileKey, parseRecipient(recipient))], fileKey), nonce];
  chunks.forEach((plain, i) => {
    parts.push(...sealChunk(key, i, i === chunks.length - 1 ? lastFlag : false, plain));
  });
  return Buffer.concat(parts);
}

export { CHUNK_SIZE };
