/**
 * Up to `width` tasks in flight; their results are handed to `take` in the order the tasks were started, so a
 * writer of ordered output (a manifest) gets latency-bound work done side by side with memory bounded by `width`.
 */
export class OrderedWindow<T> {
  #queue: Promise<T>[] = [];

  constructor(
    private readonly width: number,
    private readonly take: (value: T) => Promise<void> | void,
  ) {}

  /** Starts `task`, first taking the oldest result when the window is full; `done` is the task's own promise. */
  async push(task: () => Promise<T>): Promise<{ done: Promise<T> }> {
    if (this.#queue.length >= this.width) await this.#takeOldest();
    const done = task();
    // Rejections are seen when taken (or by `settle`), never reported as unhandled meanwhile.
    done.catch(() => undefined);
    this.#queue.push(done);
    return { done };
  }

  /** Takes every result still in flight, in order. */
  async drain(): Promise<void> {
    while (this.#queue.length > 0) await this.#takeOldest();
  }

  /** After a failure: waits for the tasks still running (their results dropped), so nothing outlives the caller. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.#queue.splice(0));
  }

  async #takeOldest(): Promise<void> {
    const oldest = this.#queue.shift();
    if (oldest) await this.take(await oldest);
  }
}
