import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { afterAll, describe, expect, it } from "vitest";
import { stagedFileSink } from "../../src/lib/file-sink.js";
import { makeTempDir, removeDir } from "../helpers/app.js";

describe("the staged file sink", () => {
  const dir = makeTempDir("cc-sink-");
  afterAll(() => removeDir(dir));

  it("writes chunks of any size across its two stages, in order, byte for byte", async () => {
    const sizes = [1, 4095, 65536, 70_000, 3, 250_000, 1_000_000, 17, 65_552];
    const chunks = sizes.map((n) => randomBytes(n));
    const file = path.join(dir, "out");
    const handle = await open(file, "wx");
    try {
      await pipeline(Readable.from(chunks), stagedFileSink(handle, { stageBytes: 64 * 1024, syncEveryBytes: 200_000 }));
    } finally {
      await handle.close();
    }
    expect(readFileSync(file).equals(Buffer.concat(chunks))).toBe(true);
  });

  it("fails the stream when the file refuses a write", async () => {
    const file = path.join(dir, "read-only");
    await (await open(file, "w")).close();
    const handle = await open(file, "r");
    try {
      const written = pipeline(Readable.from([randomBytes(300_000)]), stagedFileSink(handle, { stageBytes: 65_536 }));
      await expect(written).rejects.toMatchObject({ code: "EBADF" });
    } finally {
      await handle.close();
    }
  });
});
