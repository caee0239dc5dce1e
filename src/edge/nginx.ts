import { type ChildProcess, type StdioOptions, spawn } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const templateFile = fileURLToPath(new URL("../../nginx/nginx.conf.template", import.meta.url));

const ADDRESS = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/;

export interface EdgeConfig {
  /** `host:port` nginx listens on. */
  listen: string;
  /** `host:port` of the service. */
  upstream: string;
  /** An access log path, or "off". */
  accessLog: string;
}

/** Fills the template's placeholders; addresses are checked so nothing else can reach the config. */
export function renderNginxConfig(config: EdgeConfig, template = readFileSync(templateFile, "utf8")): string {
  for (const [name, value] of [
    ["listen", config.listen],
    ["upstream", config.upstream],
  ] as const) {
    if (!ADDRESS.test(value)) throw new Error(`${name} must be host:port, got "${value}"`);
  }
  if (!/^(off|\/[\w./-]+)$/.test(config.accessLog)) throw new Error(`access log must be "off" or an absolute path`);
  return template
    .replaceAll("{{LISTEN}}", config.listen)
    .replaceAll("{{UPSTREAM}}", config.upstream)
    .replaceAll("{{ACCESS_LOG}}", config.accessLog);
}

/** nginx from NGINX_BIN, PATH, or Debian's /usr/sbin (not on PATH for ordinary users). */
export function findNginx(env: NodeJS.ProcessEnv = process.env): string {
  const dirs = [...(env.PATH ?? "").split(path.delimiter).filter(Boolean), "/usr/sbin", "/usr/local/sbin"];
  const candidates = env.NGINX_BIN ? [env.NGINX_BIN] : dirs.map((dir) => path.join(dir, "nginx"));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  throw new Error("nginx not found: install it (apt-get install nginx) or set NGINX_BIN");
}

export interface EdgePrefix {
  dir: string;
  conf: string;
  remove(): Promise<void>;
}

/** A private prefix dir with the rendered config; pid, temp files and logs all stay inside it. */
export async function prepareEdgePrefix(config: EdgeConfig): Promise<EdgePrefix> {
  const dir = await mkdtemp(path.join(tmpdir(), "cc-edge-"));
  // Workers drop to an unprivileged user when started as root; they need to reach tmp/.
  await chmod(dir, 0o755);
  await mkdir(path.join(dir, "tmp"), { mode: 0o755 });
  const conf = path.join(dir, "nginx.conf");
  await writeFile(conf, renderNginxConfig(config), { mode: 0o644 });
  return { dir, conf, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs nginx in the foreground (`daemon off`), logging errors to stderr. */
export function spawnNginx(prefix: EdgePrefix, stdio: StdioOptions, bin = findNginx()): ChildProcess {
  return spawn(bin, ["-p", prefix.dir, "-c", prefix.conf, "-e", "stderr", "-g", "daemon off;"], { stdio });
}
