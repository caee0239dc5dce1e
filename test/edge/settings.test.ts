import { once } from "node:events";
import { type AddressInfo, createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { edgeSettings, upstreamWarning } from "../../src/edge/settings.js";
import { createTestApp, removeDir } from "../helpers/app.js";
import { listen } from "../helpers/server.js";

describe("npm run edge settings", () => {
  it("follows the service's PORT unless CHAOSCYPHER_UPSTREAM is set", () => {
    expect(edgeSettings({})).toEqual({ listen: "127.0.0.1:8088", upstream: "127.0.0.1:8080" });
    expect(edgeSettings({ PORT: "9090" }).upstream).toBe("127.0.0.1:9090");
    expect(edgeSettings({ PORT: "9090", CHAOSCYPHER_UPSTREAM: "10.0.0.2:8081" }).upstream).toBe("10.0.0.2:8081");
    expect(edgeSettings({ EDGE_HOST: "::1", EDGE_PORT: "9000", CHAOSCYPHER_UPSTREAM: "" })).toEqual({
      listen: "[::1]:9000",
      upstream: "127.0.0.1:8080",
    });
  });

  it("warns in one line when nothing answers at the upstream", async () => {
    const closed = createServer().listen(0, "127.0.0.1");
    await once(closed, "listening");
    const { port } = closed.address() as AddressInfo;
    closed.close();
    await once(closed, "close");
    const warning = await upstreamWarning(`127.0.0.1:${port}`);
    expect(warning).toContain(`nothing answers at 127.0.0.1:${port}`);
    expect(warning).not.toContain("\n");

    const t = createTestApp();
    const server = await listen(t.app.fetch);
    try {
      expect(await upstreamWarning(`127.0.0.1:${server.port}`)).toBeNull();
    } finally {
      await server.close();
      await t.close();
      removeDir(t.dataDir);
    }
  });
});
