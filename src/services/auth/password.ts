import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";

export interface ScryptParams {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  r: number;
  p: number;
}

/** OWASP's scrypt equivalent of N=2^17,p=1 at a third of the memory: 32 MiB per hash. */
export const DEFAULT_SCRYPT: ScryptParams = { ln: 15, r: 8, p: 3 };

const KEY_LENGTH = 32;
const FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

/** Async scrypt runs in libuv's thread pool, off the event loop. */
function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.ln;
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 256 * N * params.r };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFC"), salt, KEY_LENGTH, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/** A self-describing hash: `$scrypt$ln=15,r=8,p=3$<salt>$<key>` (base64). */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, params);
  return `$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

/** False for a wrong password and for a stored value that is not a hash this code wrote. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const match = FORMAT.exec(stored);
  if (!match) return false;
  const params = { ln: Number(match[1]), r: Number(match[2]), p: Number(match[3]) };
  // Bounds keep a tampered row from asking for gigabytes of memory.
  if (params.ln < 10 || params.ln > 20 || params.r < 1 || params.r > 16 || params.p < 1 || params.p > 16) return false;
  const expected = Buffer.from(match[5] as string, "base64");
  if (expected.length !== KEY_LENGTH) return false;
  const key = await derive(password, Buffer.from(match[4] as string, "base64"), params);
  return timingSafeEqual(key, expected);
}
