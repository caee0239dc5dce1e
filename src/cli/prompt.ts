import { createInterface } from "node:readline/promises";
import { CliError } from "./common.js";

/** Asks before a destructive step unless --yes; without a terminal to ask, refuses rather than guess. */
export async function confirm(question: string, yes: boolean | undefined, refusal: string): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new CliError(`${refusal} without --yes (there is no terminal to ask)`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliError("aborted, nothing was changed");
  } finally {
    rl.close();
  }
}

/** Reads a line from the terminal without echoing it (a password); Ctrl-C aborts. */
export function askHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new CliError("no terminal to ask for the password; pass --password");
  process.stderr.write(question);
  stdin.setRawMode(true);
  stdin.setEncoding("utf8");
  stdin.resume();
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = (settle: () => void) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write("\n");
      settle();
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === "\r" || ch === "\n") return finish(() => resolve(value));
        if (ch === "\u0003") return finish(() => reject(new CliError("aborted, nothing was changed")));
        value = ch === "\u007f" || ch === "\b" ? value.slice(0, -1) : value + ch;
      }
    };
    stdin.on("data", onData);
  });
}
