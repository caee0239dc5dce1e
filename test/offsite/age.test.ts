import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { inflateSync } from "node:zlib";
import { Decrypter, Encrypter } from "age-encryption";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgeError, type AgeFailure } from "../../src/lib/age/index.js";
import { AGE_CLI, CHUNK_SIZE, cliKeyPair, craftFile, decrypt, encrypt, sha256 } from "../helpers/age.js";

const SEALED = CHUNK_SIZE + 16;
const MiB = 1024 * 1024;
/** Empty, one byte, a chunk less one, exactly one, one byte into the second, multiples, and a couple of MiB. */
const keyDir = mkdtempSync(path.join(tmpdir(), "age-test-"));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

/** Debian's age reads identities from a file: one per key, in a private temp dir. */
function identityFile(identity: string): string {
  const file = path.join(keyDir, `${sha256(Buffer.from(identity)).slice(0, 12)}.txt`);
  writeFileSync(file, `${identity}\n`, { mode: 0o600 });
  return file;
}

const SIZES = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 2 * MiB + 1, 2 * MiB];

function ageCliDecrypt(file: Uint8Array, identity: string): Buffer {
  const result = spawnSync(AGE_CLI, ["-d", "-i", identityFile(identity)], { input: file, maxBuffer: 64 * MiB });
  if (result.status !== 0) throw new Error(`age -d failed: ${result.stderr}`);
  return result.stdout;
}

async function expectRefused(file: Uint8Array, identity: string, failure: AgeFailure, message?: RegExp) {
  const error = await decrypt(file, identity).then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AgeError);
  expect((error as AgeError).failure).toBe(failure);
  if (message) expect((error as AgeError).message).toMatch(message);
}

describe("age v1 on node:crypto", () => {
  let key: { identity: string; recipient: string };
  beforeAll(() => {
    key = cliKeyPair();
  });

  it.each(SIZES)("decrypts with Debian's age -d and age-encryption what it writes (%i bytes)", async (size) => {
    const plain = randomBytes(size);
    // Odd write sizes put chunk boundaries inside and across writes.
    const file = await encrypt(plain, [key.recipient], 10_007);
    expect(file.length).toBeGreaterThan(size);
    expect(sha256(ageCliDecrypt(file, key.identity))).toBe(sha256(plain));
    const js = new Decrypter();
    js.addIdentity(key.identity);
    expect(sha256(await js.decrypt(file))).toBe(sha256(plain));
    expect(sha256(await decrypt(file, key.identity, 7_001))).toBe(sha256(plain));
  });

  it.each(SIZES)("decrypts what age -r and age-encryption write (%i bytes)", async (size) => {
    const plain = randomBytes(size);
    const cli = execFileSync(AGE_CLI, ["-r", key.recipient], { input: plain, maxBuffer: 64 * MiB });
    expect(sha256(await decrypt(cli, key.identity))).toBe(sha256(plain));
    const js = new Encrypter();
    js.addRecipient(key.recipient);
    expect(sha256(await decrypt(await js.encrypt(plain), key.identity, MiB))).toBe(sha256(plain));
  });

  it("writes one stanza per recipient; each identity opens the file", async () => {
    const other = cliKeyPair();
    const file = await encrypt(randomBytes(1000), [key.recipient, other.recipient]);
    expect(file.toString("latin1").match(/^-> X25519 /gm)).toHaveLength(2);
    expect(ageCliDecrypt(file, other.identity)).toHaveLength(1000);
    expect(await decrypt(file, `# comment\n${other.identity}\n`)).toHaveLength(1000);
  });

  describe("refuses a damaged, truncated, extended or foreign file", () => {
    const plain = randomBytes(3 * CHUNK_SIZE + 100);
    let file: Buffer;
    let payloadStart: number;
    beforeAll(() => {
      file = execFileSync(AGE_CLI, ["-r", key.recipient], { input: plain });
      // Header end: "---", a space, 43 characters of MAC and LF; then the 16-byte nonce.
      payloadStart = file.indexOf("\n---") + 1 + 48 + 16;
    });
    const flip = (at: number) => {
      const copy = Buffer.from(file);
      copy[at] = (copy[at] as number) ^ 0x01;
      return copy;
    };
    /**
     * A different base64 character in the header: flipping a bit there could make a byte that is not base64 at
     * all (`+` becomes `*`), which is a malformed header, not the wrong MAC or stanza this is meant to test.
     */
    const otherBase64 = (at: number) => {
      const copy = Buffer.from(file);
      copy[at] = copy[at] === 0x41 ? 0x42 : 0x41;
      return copy;
    };

    it("a wrong identity", async () => {
      await expectRefused(file, cliKeyPair().identity, "no_match", /no identity matched/);
    });

    it("a flipped bit in the header MAC, in a stanza's share and in its body", async () => {
      const macAt = file.indexOf("\n--- ") + 10;
      await expectRefused(otherBase64(macAt), key.identity, "mac", /MAC/);
      // Another character inside the share or body leaves canonical base64 of the right size: the stanza does not open.
      await expectRefused(otherBase64(file.indexOf("-> X25519 ") + 12), key.identity, "no_match");
      await expectRefused(otherBase64(file.indexOf("\n", file.indexOf("-> X25519")) + 5), key.identity, "no_match");
    });

    it("a flipped bit in a chunk (first, middle, last) and in the payload nonce", async () => {
      for (const at of [payloadStart + 5, payloadStart + SEALED + 100, file.length - 1, file.length - 20]) {
        await expectRefused(flip(at), key.identity, "payload", /does not authenticate/);
      }
      await expectRefused(flip(payloadStart - 3), key.identity, "payload", /chunk 0/);
    });

    it("truncation at and between chunk boundaries, keeping only authenticated plaintext", async () => {
      for (const chunks of [1, 2, 3]) {
        const cut = file.subarray(0, payloadStart + chunks * SEALED);
        await expectRefused(cut, key.identity, "payload", /truncated/);
        const error = await decrypt(cut, key.identity).catch((e: { released: Buffer }) => e);
        // What was released is authenticated plaintext, a prefix of the file's, never more than what was sent.
        const released = (error as { released: Buffer }).released;
        expect(released.length).toBe(chunks * CHUNK_SIZE);
        expect(released.equals(plain.subarray(0, released.length))).toBe(true);
      }
      for (const cut of [payloadStart + 100, payloadStart + SEALED + 5, file.length - 1, payloadStart + 8]) {
        await expectRefused(file.subarray(0, cut), key.identity, "payload");
      }
      await expectRefused(file.subarray(0, payloadStart), key.identity, "payload", /truncated/);
      await expectRefused(file.subarray(0, payloadStart - 1), key.identity, "header", /ends inside/);
      await expectRefused(file.subarray(0, 40), key.identity, "header");
    });

    it("trailing data, and two files glued together", async () => {
      await expectRefused(Buffer.concat([file, Buffer.from("x")]), key.identity, "payload");
      const full = execFileSync(AGE_CLI, ["-r", key.recipient], { input: plain.subarray(0, 2 * CHUNK_SIZE) });
      await expectRefused(Buffer.concat([full, randomBytes(40)]), key.identity, "payload", /after the last chunk/);
    });

    it("a missing last-chunk flag, and an empty last chunk after a full one — as age -d does", async () => {
      const chunk = randomBytes(CHUNK_SIZE);
      const noFlag = craftFile(key.recipient, [chunk, randomBytes(10)], false);
      await expectRefused(noFlag, key.identity, "payload", /does not authenticate/);
      const emptyLast = craftFile(key.recipient, [chunk, Buffer.alloc(0)], true);
      await expectRefused(emptyLast, key.identity, "payload", /last chunk is empty/);
      for (const bad of [noFlag, emptyLast]) expect(() => ageCliDecrypt(bad, key.identity)).toThrow(/age -d failed/);
      // The same layout with the flag set is a valid file: the crafting itself is sound.
      const good = craftFile(key.recipient, [chunk, Buffer.from("end")], true);
      expect(ageCliDecrypt(good, key.identity)).toEqual(Buffer.concat([chunk, Buffer.from("end")]));
    });
  });
});

/** The C2SP CCTV age vectors for X25519, the header and STREAM (test/fixtures/age-cctv, 0BSD/CC0). */
describe("C2SP CCTV age test vectors", () => {
  const dir = path.join(import.meta.dirname, "../fixtures/age-cctv");
  const names = readdirSync(dir).filter((name) => name !== "LICENSE");
  const EXPECTED: Record<string, AgeFailure | "success"> = {
    success: "success",
    "no match": "no_match",
    "HMAC failure": "mac",
    "header failure": "header",
    "payload failure": "payload",
  };

  it.each(names)("%s", async (name) => {
    const raw = readFileSync(path.join(dir, name));
    const split = raw.indexOf("\n\n");
    const fields = raw.subarray(0, split).toString("utf8").split("\n");
    const field = (k: string) => fields.filter((l) => l.startsWith(`${k}: `)).map((l) => l.slice(k.length + 2));
    let body = raw.subarray(split + 2);
    if (field("compressed")[0] === "zlib") body = inflateSync(body);
    const expected = EXPECTED[field("expect")[0] as string];
    const result = await decrypt(body, field("identity").join("\n")).then(
      (plain) => ({ plain, failure: "success" }),
      (error: AgeError & { released: Buffer }) => ({ plain: error.released, failure: error.failure ?? error.message }),
    );
    expect(result.failure).toBe(expected);
    if (expected === "success" || expected === "payload") expect(sha256(result.plain)).toBe(field("payload")[0]);
  });
});
