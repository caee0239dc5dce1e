import { link, rename } from "node:fs/promises";
import type { FileOps } from "../../src/services/deps.js";

/** File operations (hard links work) whose `failOn`-th rename (counting from 1) fails with EIO; every other rename is real. */
export function failingRename(failOn: number): FileOps {
  let calls = 0;
  return {
    rename: async (from, to) => {
      calls++;
      if (calls === failOn) throw Object.assign(new Error("injected rename failure"), { code: "EIO" });
      await rename(from, to);
    },
    link,
  };
}
