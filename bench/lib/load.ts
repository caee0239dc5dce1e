import autocannon from "autocannon";

export type Headers = Record<string, string>;

export interface LoadResult {
  requests: number;
  rps: number;
  /** Non-2xx answers plus connection errors and timeouts: every one is a failed /verify. */
  failures: number;
}

function summarize(result: autocannon.Result): LoadResult {
  return {
    requests: result.requests.total,
    rps: result.requests.total / result.duration,
    failures: result.non2xx + result.errors,
  };
}

/** Saturating load: as many requests per second as the server answers, keep-alive connections. */
export async function saturate(url: string, headers: Headers, seconds: number, connections = 16): Promise<LoadResult> {
  const result = await autocannon({ url, headers, connections, duration: seconds, timeout: 10 });
  return summarize(result);
}
