import autocannon from "autocannon";

export type Headers = Record<string, string>;

export interface LoadResult {
  requests: number;
  rps: number;
  p99Ms: number;
  maxMs: number;
  /** Non-2xx answers plus connection errors and timeouts: every one is a failed /verify. */
  failures: number;
}

function summarize(result: autocannon.Result): LoadResult {
  return {
    requests: result.requests.total,
    rps: result.requests.total / result.duration,
    p99Ms: result.latency.p99,
    maxMs: result.latency.max,
    failures: result.non2xx + result.errors,
  };
}

/** Saturating load: as many requests per second as the server answers, keep-alive connections. */
export async function saturate(url: string, headers: Headers, seconds: number, connections = 16): Promise<LoadResult> {
  const result = await autocannon({ url, headers, connections, duration: seconds, timeout: 10 });
  return summarize(result);
}

export interface RunningLoad {
  stop(): Promise<LoadResult>;
}

/**
 * A steady request rate, the way nginx forwards real traffic, until stopped. Latency is taken per request,
 * so a request held at a closed gate shows up as its full wait in `maxMs`.
 */
export function steady(url: string, headers: Headers, rate: number, connections = 8): RunningLoad {
  let settle: (result: autocannon.Result) => void = () => {};
  let fail: (error: Error) => void = () => {};
  const done = new Promise<autocannon.Result>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  const options = { url, headers, connections, overallRate: rate, duration: 3600, timeout: 10 };
  const instance = autocannon(options, (error, result) => (error ? fail(error) : settle(result)));
  return {
    async stop() {
      instance.stop();
      return summarize(await done);
    },
  };
}

export async function steadyFor(url: string, headers: Headers, rate: number, seconds: number): Promise<LoadResult> {
  const result = await autocannon({ url, headers, connections: 8, overallRate: rate, duration: seconds, timeout: 10 });
  return summarize(result);
}
