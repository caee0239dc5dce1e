import { z } from "zod";

const envSchema = z.object({
  EDGE_HOST: z.string().min(1).default("127.0.0.1"),
  EDGE_PORT: z.coerce.number().int().min(1).max(65535).default(8088),
  /** The service's own PORT: the edge follows it unless CHAOSCYPHER_UPSTREAM says otherwise. */
  PORT: z.coerce.number().int().min(1).max(65535).default(8080),
  CHAOSCYPHER_UPSTREAM: z.string().min(1).optional(),
});

export interface EdgeSettings {
  /** `host:port` nginx listens on (an IPv6 host in brackets). */
  listen: string;
  /** `host:port` of the service. */
  upstream: string;
}

/** `npm run edge`'s settings from the environment; empty variables count as unset. */
export function edgeSettings(env: NodeJS.ProcessEnv): EdgeSettings {
  const parsed = envSchema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== "")));
  if (!parsed.success) {
    throw new Error(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  }
  const { EDGE_HOST, EDGE_PORT, PORT, CHAOSCYPHER_UPSTREAM } = parsed.data;
  const host = EDGE_HOST.includes(":") ? `[${EDGE_HOST}]` : EDGE_HOST;
  return { listen: `${host}:${EDGE_PORT}`, upstream: CHAOSCYPHER_UPSTREAM ?? `127.0.0.1:${PORT}` };
}

/** A one-line warning when nothing answers at the upstream (every request would be a 502); null when it does. */
export async function upstreamWarning(upstream: string, timeoutMs = 2_000): Promise<string | null> {
  try {
    await fetch(`http://${upstream}/api/v1/health`, { signal: AbortSignal.timeout(timeoutMs) });
    return null;
  } catch {
    return (
      `edge: warning: nothing answers at ${upstream}; start the service (npm start) there, ` +
      "or set CHAOSCYPHER_UPSTREAM (or PORT) to where it listens"
    );
  }
}
