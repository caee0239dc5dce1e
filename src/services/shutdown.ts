import type { Logger } from "../logger.js";

/** Something that runs in the background and must stop with the server (a scheduler, a job queue). */
export interface Stoppable {
  stop(): void | Promise<void>;
}

/**
 * What the server stops on SIGTERM before it closes the databases. Services that start background work
 * register it here (`deps.shutdown.add("schedules", scheduler)`); it is stopped newest first.
 */
export class ShutdownRegistry {
  readonly #entries: { name: string; stoppable: Stoppable }[] = [];

  add(name: string, stoppable: Stoppable): void {
    this.#entries.push({ name, stoppable });
  }

  /** Stops everything registered, each within `timeoutMs`; a failure is logged and the rest still stop. */
  async stopAll(logger: Logger, timeoutMs: number): Promise<void> {
    for (const { name, stoppable } of this.#entries.splice(0).reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), timeoutMs);
      });
      try {
        const outcome = await Promise.race([Promise.resolve(stoppable.stop()), late]);
        if (outcome === "late") logger.warn({ name, timeoutMs }, "did not stop in time; going on");
      } catch (err) {
        logger.warn({ err, name }, "failed to stop; going on");
      } finally {
        clearTimeout(timer);
      }
    }
  }
}
