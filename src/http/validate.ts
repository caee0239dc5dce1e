import type { Context } from "hono";
import type { z } from "zod";
import { ValidationError } from "../errors.js";

/** Parses a JSON body against a schema; malformed JSON and schema misses are the client's 400. */
export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw new ValidationError("request body must be JSON");
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
    throw new ValidationError(issues[0]?.message ?? "invalid request body", { issues });
  }
  return parsed.data;
}
