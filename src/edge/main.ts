import { prepareEdgePrefix, spawnNginx } from "./nginx.js";
import { edgeSettings, upstreamWarning } from "./settings.js";

/** `npm run edge`: nginx in the foreground on EDGE_PORT in front of CHAOSCYPHER_UPSTREAM. */
async function main(): Promise<number> {
  const { listen, upstream } = edgeSettings(process.env);
  const prefix = await prepareEdgePrefix({ listen, upstream, accessLog: "/dev/stdout" });
  process.stderr.write(`edge: http://${listen} -> ${upstream} (prefix ${prefix.dir})\n`);
  const nginx = spawnNginx(prefix, "inherit");
  const forward = (signal: NodeJS.Signals) => nginx.kill(signal === "SIGINT" ? "SIGQUIT" : signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  void upstreamWarning(upstream).then((warning) => warning && process.stderr.write(`${warning}\n`));
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
