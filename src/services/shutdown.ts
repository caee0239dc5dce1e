import type { Logger } from "../logger.js";

/** Something that runs in the background and must stop with the server (a scheduler, a job queue). */
export interface Stoppable {
  stop(): void | Promise<void>;
}

/** A background part: started by its owner (the server only; the CLI starts none), stopped on SIGTERM. */
export interface BackgroundPart extends Stoppable {
  start?(): void | Promise<void>;
}

/**
 * The one owner of a process's background work (`deps.shutdown`). Each part (verification queue, off-site
 * queue, scheduler, notifier) registers its start and stop here; `start()` starts what is registered and not
 * started yet, in order, and `stopAll()` stops everything newest first. The worker threads are not a part: they
 * serve requests too, so the server stops them (`deps.tasks.stop()`) only after requests finished.
 */
export class BackgroundWork {
  readonly #entries: { name: string; part: BackgroundPart; started: boolean }[] = [];

  add(name: string, part: BackgroundPart): void {
    this.#entries.push({ name, part, started: part.start === undefined });
  }

  /** Starts, in registration order, every part not started yet; a failure stops the start (the server exits). */
  async start(): Promise<void> {
    for (const entry of this.#entries) {
      if (entry.started) continue;
      entry.started = true;
      await entry.part.start?.();
    }
  }

  /** Stops everything registered, each within `timeoutMs`; a failure is logged and the rest still stop. */
  async stopAll(logger: Logger, timeoutMs: number): Promise<void> {
    for (const { name, part } of this.#entries.splice(0).reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), timeoutMs);
      });
      try {
        const outcome = await Promise.race([Promise.resolve(part.stop()), late]);
        if (outcome === "late") logger.warn({ name, timeoutMs }, "did not stop in time; going on");
      } catch (err) {
        logger.warn({ err, name }, "failed to stop; going on");
      } finally {
        clearTimeout(timer);
      }
    }
  }
}
