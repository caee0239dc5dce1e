import { request } from "node:http";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { useTestApps } from "../helpers/app.js";
import { listen } from "../helpers/server.js";

/** A login attempt over a real socket from `localAddress` (the proxy), claiming client `realIp`. */
function login(port: number, localAddress: string, realIp: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        localAddress,
        method: "POST",
        path: "/api/v1/auth/login",
        headers: { "content-type": "application/json", "x-real-ip": realIp },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify({ username: "operator", password: "wrong password" }));
  });
}

/** A correct login from `localAddress` claiming TLS: the session cookie it gets back. */
function signedInCookie(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        localAddress,
        method: "POST",
        path: "/api/v1/auth/login",
        headers: { "content-type": "application/json", "x-forwarded-proto": "https" },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(String(res.headers["set-cookie"] ?? "")));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify({ username: "operator", password: "correct horse battery" }));
  });
}

async function throttledUntil429(port: number, proxy: string, client: string): Promise<void> {
  for (let i = 0; i < 100; i++) if ((await login(port, proxy, client)) === 429) return;
  throw new Error("never throttled");
}

describe("CHAOSCYPHER_TRUSTED_PROXIES", () => {
  const newApp = useTestApps();

  it("behind a trusted non-loopback-address proxy, one client's throttling does not lock out another", async () => {
    // 127.0.0.2 plays nginx in another container (on Linux it is a local address, outside the default list).
    const t = newApp({ config: { trustedProxies: "127.0.0.2/32" } });
    await t.setupOperator();
    const server = await listen(t.app.fetch);
    try {
      await throttledUntil429(server.port, "127.0.0.2", "203.0.113.7");
      expect(await login(server.port, "127.0.0.2", "198.51.100.9")).toBe(401);
    } finally {
      await server.close();
    }
  }, 60_000);

  it("ignores X-Real-IP from a peer that is not trusted", async () => {
    const t = newApp({ config: { trustedProxies: "127.0.0.1/32" } });
    await t.setupOperator();
    const server = await listen(t.app.fetch);
    try {
      await throttledUntil429(server.port, "127.0.0.2", "203.0.113.7");
      expect(await login(server.port, "127.0.0.2", "198.51.100.9")).toBe(429);
    } finally {
      await server.close();
    }
  }, 60_000);

  it("believes X-Forwarded-Proto (the cookie's Secure) only from a trusted proxy", async () => {
    const t = newApp({ config: { trustedProxies: "127.0.0.2/32" } });
    await t.setupOperator("operator", "correct horse battery");
    const server = await listen(t.app.fetch);
    try {
      expect(await signedInCookie(server.port, "127.0.0.2")).toMatch(/cc_session=.*;\s*Secure/i);
      const untrusted = await signedInCookie(server.port, "127.0.0.1");
      expect(untrusted).toMatch(/cc_session=/);
      expect(untrusted).not.toMatch(/Secure/i);
    } finally {
      await server.close();
    }
  });

  it("is parsed once at start: a list of CIDRs, loopback by default, one clear line for a bad value", () => {
    expect(loadConfig({}).trustedProxies).toEqual(["127.0.0.0/8", "::1/128"]);
    expect(loadConfig({ CHAOSCYPHER_TRUSTED_PROXIES: "172.18.0.0/16, 10.0.0.5" }).trustedProxies).toEqual([
      "172.18.0.0/16",
      "10.0.0.5",
    ]);
    expect(() => loadConfig({ CHAOSCYPHER_TRUSTED_PROXIES: "nginx" })).toThrow(/CHAOSCYPHER_TRUSTED_PROXIES/);
  });
});
