import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import path from "node:path";

export interface WriterResult {
  commits: number;
  errors: number;
  seconds: number;
  perSecond: number;
}

/** Drives bench/writer.ts, a separate process writing to the live app.db. */
export class Writer {
  private constructor(private readonly child: ChildProcess) {}

  static async open(appDb: string): Promise<Writer> {
    const child = fork(path.join(import.meta.dirname, "../writer.ts"), [appDb], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    await once(child, "message");
    return new Writer(child);
  }

  start(): void {
    this.child.send("start");
  }

  async stop(): Promise<WriterResult> {
    this.child.send("stop");
    const [result] = (await once(this.child, "message")) as [Omit<WriterResult, "perSecond">];
    return { ...result, perSecond: result.commits / result.seconds };
  }

  async close(): Promise<void> {
    this.child.send("exit");
    if (this.child.exitCode === null) await once(this.child, "exit");
  }
}
