import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { findNginx } from "../../src/edge/nginx.js";
import { makeTempDir, removeDir } from "../helpers/app.js";

const repo = (file: string) => fileURLToPath(new URL(`../../${file}`, import.meta.url));
const read = (file: string) => readFileSync(repo(file), "utf8");

describe("container files", () => {
  let dir = "";
  afterEach(() => removeDir(dir));

  it("the image is the tested production install, started with `chaoscypher serve` as a non-root user", () => {
    const dockerfile = read("Dockerfile");
    // test/ops/production-install.test.ts runs this same script on a copy of the checkout.
    expect(dockerfile).toContain("RUN sh scripts/production-install.sh");
    expect(dockerfile).toMatch(/^FROM node:20-[\w-]*slim$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^VOLUME \/data$/m);
    expect(dockerfile).toContain("/api/v1/health");
    expect(dockerfile).toMatch(/^CMD \["chaoscypher", "serve"\]$/m);
    expect(read(".dockerignore").split("\n")).toEqual(expect.arrayContaining(["node_modules", "dist", ".git"]));
    const compose = read("compose.yaml");
    expect(compose).toMatch(/^ {2}chaoscypher:$/m);
    expect(compose).toContain("build: ./nginx");
    expect(compose).toContain("CHAOSCYPHER_UPSTREAM: chaoscypher:8080");
  });

  it("the edge container renders the template at start into a config nginx accepts", () => {
    dir = makeTempDir("cc-edge-image-");
    const env = (upstream: string) => ({
      ...process.env,
      EDGE_TEMPLATE: repo("nginx/nginx.conf.template"),
      EDGE_PREFIX: dir,
      EDGE_LISTEN: "127.0.0.1:18088",
      CHAOSCYPHER_UPSTREAM: upstream,
      EDGE_ACCESS_LOG: "off",
      NGINX_BIN: findNginx(),
    });
    const entry = repo("nginx/docker-entrypoint.sh");
    const ok = spawnSync("sh", [entry, "-t"], { env: env("127.0.0.1:8080"), encoding: "utf8" });
    expect(ok.stderr).toBe("");
    expect(ok.status).toBe(0);
    expect(readFileSync(`${dir}/nginx.conf`, "utf8")).toContain("server 127.0.0.1:8080;");
    const bad = spawnSync("sh", [entry, "-t"], { env: env("x; evil"), encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe('edge: expected host:port, got "x; evil"\n');
  });
});
