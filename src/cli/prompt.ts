import { CliError } from "./common.js";

/** Input typed ahead of the question that will read it (several answers can arrive in one chunk). */
let typedAhead = "";

/**
 * Asks one question on the terminal and reads the answer in raw mode, echoing it unless `hidden`
 * (a password). Ctrl-C aborts. One reader for every prompt, so answers typed ahead are not lost.
 */
export function ask(question: string, { hidden = false } = {}): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) throw new CliError(`no terminal to ask "${question.trim()}"; pass it as an option`);
  const out = process.stderr;
  out.write(question);
  return new Promise((resolve, reject) => {
    let value = "";
    const finish = (settle: () => void) => {
      stdin.off("data", onData);
      stdin.setRawMode(false);
      stdin.pause();
      out.write("\n");
      settle();
    };
    const consume = (chunk: string): void => {
      for (let i = 0; i < chunk.length; i++) {
        const ch = chunk[i] as string;
        if (ch === "\r" || ch === "\n") {
          typedAhead = chunk.slice(chunk[i + 1] === "\n" && ch === "\r" ? i + 2 : i + 1);
          finish(() => resolve(value));
          return;
        }
        if (ch === "\u0003") {
          finish(() => reject(new CliError("aborted, nothing was changed")));
          return;
        }
        if (ch === "\u007f" || ch === "\b") {
          if (value.length > 0 && !hidden) out.write("\b \b");
          value = value.slice(0, -1);
        } else {
          value += ch;
          if (!hidden) out.write(ch);
        }
      }
    };
    const onData = (chunk: string) => consume(chunk);
    stdin.setRawMode(true);
    stdin.setEncoding("utf8");
    stdin.on("data", onData);
    stdin.resume();
    const ahead = typedAhead;
    typedAhead = "";
    if (ahead) consume(ahead);
  });
}

/** Asks before a destructive step unless --yes; without a terminal to ask, refuses rather than guess. */
export async function confirm(question: string, yes: boolean | undefined, refusal: string): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new CliError(`${refusal} without --yes (there is no terminal to ask)`);
  const answer = await ask(`${question} [y/N] `);
  if (!/^y(es)?$/i.test(answer.trim())) throw new CliError("aborted, nothing was changed");
}
