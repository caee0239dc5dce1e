import { z } from "zod";
import { prepareEdgePrefix, spawnNginx } from "./nginx.js";

const envSchema = z.object({
  EDGE_HOST: z.string().min(1).default("127.0.0.1"),
  EDGE_PORT: z.coerce.number().int().min(1).max(65535).default(8088),
  CHAOSCYPHER_UPSTREAM: z.string().min(1).default("127.0.0.1:8080"),
});

/** `npm run edge`: nginx in the foreground on EDGE_PORT in front of CHAOSCYPHER_UPSTREAM. */
async function main(): Promise<number> {
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(process.env).filter(([, v]) => v !== "")));
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  }
  const env = parsed.data;
  const host = env.EDGE_HOST.includes(":") ? `[${env.EDGE_HOST}]` : env.EDGE_HOST;
  const prefix = await prepareEdgePrefix({
    listen: `${host}:${env.EDGE_PORT}`,
    upstream: env.CHAOSCYPHER_UPSTREAM,
    accessLog: "/dev/stdout",
  });
  process.stderr.write(`edge: http://${host}:${env.EDGE_PORT} -> ${env.CHAOSCYPHER_UPSTREAM} (prefix ${prefix.dir})\n`);
  const nginx = spawnNginx(prefix, "inherit");
  const forward = (signal: NodeJS.Signals) => nginx.kill(signal === "SIGINT" ? "SIGQUIT" : signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  const code = await new Promise<number>((resolve) => {
    nginx.once("error", (error) => {
      process.stderr.write(`edge: ${error.message}\n`);
      resolve(1);
    });
    nginx.once("exit", (exitCode, signal) => resolve(exitCode ?? (signal ? 0 : 1)));
  });
  await prefix.remove();
  return code;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`edge: ${error.message}\n`);
    process.exit(1);
  },
);
