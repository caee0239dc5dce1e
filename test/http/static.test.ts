import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir, removeDir, useTestApps } from "../helpers/app.js";

const INDEX = "<!doctype html><title>ui</title>";

describe("the web UI at /", () => {
  const testApp = useTestApps();
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) removeDir(dir);
  });

  function builtUi(): string {
    const webDir = makeTempDir("cc-web-");
    dirs.push(webDir);
    mkdirSync(path.join(webDir, "assets"));
    writeFileSync(path.join(webDir, "index.html"), INDEX);
    writeFileSync(path.join(webDir, "assets", "index-abc123.js"), "console.log(1)");
    return webDir;
  }

  it("serves index.html at / and for every page path, never cached, never framed", async () => {
    const { app } = testApp({ config: { webDir: builtUi() } });
    for (const page of ["/", "/db/notes/settings/maintenance/backups", "/settings/api-keys"]) {
      const res = await app.request(page);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
      expect(await res.text()).toBe(INDEX);
    }
  });

  it("serves hashed assets for a year and answers a missing one with a JSON 404", async () => {
    const { app } = testApp({ config: { webDir: builtUi() } });
    const asset = await app.request("/assets/index-abc123.js");
    expect(asset.status).toBe(200);
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect(await asset.text()).toBe("console.log(1)");

    const missing = await app.request("/assets/index-gone.js");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: "NOT_FOUND" });
  });

  it("leaves the API's own paths alone", async () => {
    const { app } = testApp({ config: { webDir: builtUi() } });
    // Unknown API paths answer in JSON (404, or 401 first where auth guards them), never with the UI's page.
    for (const apiPath of ["/api/v1/nope", "/api/nope", "/verify/x"]) {
      const res = await app.request(apiPath);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(await res.json()).toHaveProperty("error");
    }
    expect((await app.request("/trpc/nope.nothing")).headers.get("content-type")).toMatch(/json/);
    expect((await app.request("/", { method: "POST" })).status).toBe(404);
  });

  it("says how to build the UI when it is not built, instead of failing", async () => {
    const { app } = testApp({ config: { webDir: path.join(makeTempDir("cc-web-"), "missing") } });
    const res = await app.request("/");
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("npm run build:web");
  });

  it("refuses paths that climb out of the UI directory", async () => {
    const webDir = builtUi();
    const outside = path.join(path.dirname(webDir), `${path.basename(webDir)}-secret.txt`);
    writeFileSync(outside, "TOP SECRET");
    dirs.push(outside);
    const { app } = testApp({ config: { webDir } });
    for (const attempt of [`/..%2f${path.basename(outside)}`, `/../${path.basename(outside)}`]) {
      const res = await app.request(attempt);
      expect(res.status).toBe(404);
      expect(await res.text()).not.toContain("TOP SECRET");
    }
  });
});
