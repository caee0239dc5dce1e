import { describe, expect, it } from "vitest";
import { RateLimitedError } from "../../src/errors.js";
import { DEFAULT_SCRYPT, hashPassword, verifyPassword } from "../../src/services/auth/password.js";
import { Throttle } from "../../src/services/auth/throttle.js";
import {
  hashSecret,
  newApiKey,
  newSessionToken,
  parseApiKey,
  parseSessionToken,
  secretMatches,
} from "../../src/services/auth/tokens.js";
import { TEST_KDF } from "../helpers/app.js";

describe("session tokens and API keys", () => {
  it("mints session tokens as <id>.<secret> that parse back", () => {
    const { id, secret, token } = newSessionToken();
    expect(token).toBe(`${id}.${secret}`);
    expect(parseSessionToken(token)).toEqual({ id, secret });
    expect(newSessionToken().token).not.toBe(token);
  });

  it("mints API keys with the fixed cc_live_ prefix that parse back", () => {
    const { id, secret, key } = newApiKey();
    expect(key).toBe(`cc_live_${id}_${secret}`);
    expect(parseApiKey(key)).toEqual({ id, secret });
  });

  it("refuses tokens with the wrong shape, prefix or size", () => {
    const { key } = newApiKey();
    const { token } = newSessionToken();
    for (const bad of [
      key.replace("cc_live_", "cc_test_"),
      key.toUpperCase(),
      `${key}x`,
      key.slice(0, -1),
      `${key}\r\nX-Auth-User: admin`,
      `cc_live_${"a".repeat(500)}`,
      "",
    ]) {
      expect(parseApiKey(bad)).toBeNull();
    }
    for (const bad of [token.replace(".", "_"), `${token}.x`, token.slice(1), `${"a".repeat(24)}.${"b".repeat(300)}`]) {
      expect(parseSessionToken(bad)).toBeNull();
    }
  });

  it("stores a SHA-256 of the secret and compares against it", () => {
    const { secret } = newSessionToken();
    const stored = hashSecret(secret);
    expect(stored).toMatch(/^[0-9a-f]{64}$/);
    expect(stored).not.toContain(secret);
    expect(secretMatches(secret, stored)).toBe(true);
    expect(secretMatches(`${secret.slice(0, -1)}a`, stored)).toBe(secret.endsWith("a"));
    expect(secretMatches(secret, "not hex")).toBe(false);
  });
});

describe("password hashing", () => {
  it("uses scrypt with OWASP-level parameters by default", async () => {
    const stored = await hashPassword("correct horse battery");
    expect(stored).toMatch(new RegExp(`^\\$scrypt\\$ln=${DEFAULT_SCRYPT.ln},r=8,p=${DEFAULT_SCRYPT.p}\\$`));
    // OWASP Password Storage Cheat Sheet: N=2^17/p=1, 2^16/p=2, 2^15/p=3, 2^14/p=5 or 2^13/p=10, all with r=8.
    const owasp = [`17/1`, `16/2`, `15/3`, `14/5`, `13/10`];
    expect(owasp).toContain(`${DEFAULT_SCRYPT.ln}/${DEFAULT_SCRYPT.p}`);
    expect(stored).not.toContain("correct horse battery");
    expect(await verifyPassword("correct horse battery", stored)).toBe(true);
  });

  it("salts every hash and refuses wrong passwords and tampered hashes", async () => {
    const a = await hashPassword("password-one", TEST_KDF);
    const b = await hashPassword("password-one", TEST_KDF);
    expect(a).not.toBe(b);
    expect(await verifyPassword("password-two", a)).toBe(false);
    expect(await verifyPassword("password-one", a.replace("ln=12", "ln=13"))).toBe(false);
    expect(await verifyPassword("password-one", a.replace("ln=12", "ln=30"))).toBe(false);
    expect(await verifyPassword("password-one", "plaintext")).toBe(false);
  });
});

describe("the login throttle", () => {
  it("allows a burst, then refuses with the seconds to wait, then refills", () => {
    let now = 0;
    const throttle = new Throttle({ capacity: 3, perMinute: 6 }, () => now);
    for (let i = 0; i < 3; i++) throttle.take("login:1.2.3.4");
    let refused: unknown;
    try {
      throttle.take("login:1.2.3.4");
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(RateLimitedError);
    expect((refused as RateLimitedError).retryAfterSeconds).toBe(10);
    expect(() => throttle.take("login:5.6.7.8")).not.toThrow();
    now += 10_000;
    expect(() => throttle.take("login:1.2.3.4")).not.toThrow();
    expect(() => throttle.take("login:1.2.3.4")).toThrow(RateLimitedError);
  });

  it("forgets the least recently used clients beyond its size bound", () => {
    const throttle = new Throttle({ capacity: 1, perMinute: 1, maxKeys: 2 }, () => 0);
    throttle.take("a");
    throttle.take("b");
    throttle.take("c");
    expect(() => throttle.take("a")).not.toThrow();
    expect(() => throttle.take("c")).toThrow(RateLimitedError);
  });
});
