const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/**
 * A spinner with elapsed time on stderr while `work` runs, only when stderr is a terminal and the output is
 * for a person: VACUUM INTO and a migration report no progress, so a bar would be made up. Piped output
 * gets nothing extra.
 */
export async function withProgress<T>(label: string, json: boolean | undefined, work: () => Promise<T>): Promise<T> {
  const stream = process.stderr;
  if (json || !stream.isTTY) return work();
  const started = Date.now();
  let frame = 0;
  const draw = () => {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    stream.write(`\r${FRAMES[frame++ % FRAMES.length]} ${label} ${seconds}s\x1b[K`);
  };
  draw();
  const timer = setInterval(draw, 100);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    stream.write("\r\x1b[K");
  }
}
