import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../src/logger.js";

/** A real pino logger writing JSON lines into memory, for tests that check what reaches the log. */
export function capturingLogger(level = "debug"): {
  logger: Logger;
  lines: () => Record<string, unknown>[];
  text: () => string;
} {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const logger = createLogger(level, sink as unknown as Parameters<typeof createLogger>[1]);
  const text = () => chunks.join("");
  const lines = () =>
    text()
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, text };
}
