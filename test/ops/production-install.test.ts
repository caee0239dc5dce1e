import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, removeDir } from "../helpers/app.js";
import { type RunningCli, waitForOutput } from "../helpers/cli.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const DEV_ONLY = [
  "tsx",
  "typescript",
  "vite",
  "vitest",
  "@biomejs/biome",
  "drizzle-kit",
  "react",
  "@scalar/api-reference",
];

/**
 * better-sqlite3's prebuilt binary, as its installer would download it (offline here, it would compile SQLite
 * from source for minutes instead): the one this checkout's own `npm ci` produced, as a local prebuild.
 */
function localPrebuild(dir: string): NodeJS.ProcessEnv {
  const pkg = path.join(REPO, "node_modules/better-sqlite3");
  const { version } = JSON.parse(readFileSync(path.join(pkg, "package.json"), "utf8")) as { version: string };
  const tarball = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
  execFileSync("tar", ["czf", path.join(dir, tarball), "-C", pkg, "build/Release/better_sqlite3.node"]);
  return {
    ...process.env,
    npm_config_better_sqlite3_local_prebuilds: dir,
    // The build runs on the dependencies this checkout's `npm ci` installed from the same lockfile.
    CHAOSCYPHER_BUILD_MODULES: path.join(REPO, "node_modules"),
  };
}

/** The files a fresh clone of this working tree has (tracked or new, never ignored ones). */
function copyCheckout(to: string): void {
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO })
    .toString()
    .split("\0")
    .filter((f) => f && existsSync(path.join(REPO, f)));
  for (const file of files) {
    mkdirSync(path.dirname(path.join(to, file)), { recursive: true });
    cpSync(path.join(REPO, file), path.join(to, file));
  }
}

function start(cwd: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const child = spawn(command, args, { cwd, env: { ...process.env, LOG_LEVEL: "info", ...env }, stdio: "pipe" });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c) => {
    stdout += c;
  });
  child.stderr.on("data", (c) => {
    stderr += c;
  });
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once("close", (code) => resolve({ code, stdout, stderr })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

/** Reads `{"msg":"listening","url":...,"pid":...}` from a server's log. */
async function listening(cli: RunningCli): Promise<{ url: string; pid: number }> {
  let found: { url: string; pid: number } | undefined;
  await waitForOutput(cli, cli.stdout, (text) => {
    const line = text.split("\n").find((l) => l.includes('"listening"'));
    if (line) found = JSON.parse(line) as { url: string; pid: number };
    return found !== undefined;
  });
  return found as { url: string; pid: number };
}

describe("the production install: build, then npm ci --omit=dev (scripts/production-install.sh)", () => {
  const tree = makeTempDir("cc-prod-");
  const data = makeTempDir("cc-prod-data-");
  const prebuilds = makeTempDir("cc-prod-prebuilds-");
  const bin = path.join(tree, "bin/chaoscypher.js");
  const cli = (...args: string[]) => execFileSync(process.execPath, [bin, ...args, "--data-dir", data]).toString();

  beforeAll(() => {
    copyCheckout(tree);
    const env = localPrebuild(prebuilds);
    execFileSync("sh", ["scripts/production-install.sh", tree], { cwd: REPO, stdio: "ignore", env });
  }, 900_000);
  afterAll(() => {
    removeDir(tree);
    removeDir(data);
    removeDir(prebuilds);
  });

  it("has no dev dependency and no TypeScript loader; serves, backs up and restores from dist/", async () => {
    for (const name of DEV_ONLY) expect(existsSync(path.join(tree, "node_modules", name)), name).toBe(false);
    expect(existsSync(path.join(tree, "dist/web/index.html"))).toBe(true);
    expect(cli("--help")).toContain("Usage: chaoscypher");
    cli("auth", "setup", "--username", "operator", "--password", "correct horse");
    const { key } = JSON.parse(cli("keys", "create", "--name", "prod", "--scope", "operate", "--json")) as {
      key: string;
    };

    const server = start(tree, process.execPath, [bin, "serve", "--port", "0", "--data-dir", data]);
    const { url } = await listening(server);
    const api = (p: string, method = "GET") =>
      fetch(`${url}/api/v1${p}`, { method, headers: { authorization: `Bearer ${key}` } });
    expect((await fetch(`${url}/`)).status).toBe(200);
    // The API reference's script was copied into dist/ by the build, its package pruned.
    const script = await fetch(`${url}/api/v1/docs/scalar.js`);
    expect(script.status).toBe(200);
    expect((await script.text()).length).toBeGreaterThan(1_000_000);
    const created = await api("/backup", "POST");
    expect(created.status).toBe(200);
    const { filename } = (await created.json()) as { filename: string };
    expect((await api(`/backup/${filename}/restore`, "POST")).status).toBe(200);
    server.child.kill("SIGTERM");
    expect((await server.done).code).toBe(0);
    expect(cli("backup", "list")).toContain(filename);
  });

  it("`npm start` stops with one SIGTERM to npm: nothing keeps serving", async () => {
    // Its prestart build needs the dev dependencies this tree no longer has; the start itself does not.
    const npm = start(tree, "npm", ["start", "--ignore-scripts"], { PORT: "0", CHAOSCYPHER_DATA_DIR: data });
    const { url, pid } = await listening(npm);
    expect((await fetch(`${url}/api/v1/health`)).status).toBe(200);
    npm.child.kill("SIGTERM");
    await npm.done;
    await waitForOutput(npm, npm.stdout, (text) => text.includes('"msg":"stopped"'));
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    while (alive()) await new Promise((resolve) => setTimeout(resolve, 20));
    await expect(fetch(`${url}/api/v1/health`)).rejects.toThrow();
  });
});
