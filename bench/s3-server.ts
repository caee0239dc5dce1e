// @ts-expect-error s3rver ships no types
import S3rver from "s3rver";

/** A local S3-compatible store for the off-site phase, in its own process so it never shares the probe's loop. */
const server = new S3rver({
  port: Number(process.env.PORT ?? 0),
  address: process.env.HOST ?? "127.0.0.1",
  directory: process.env.S3_DIR,
  silent: true,
  configureBuckets: [{ name: process.env.S3_BUCKET ?? "bench" }],
});
await server.run();
