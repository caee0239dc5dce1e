import { z } from "zod";
import { ValidationError } from "../../errors.js";
import { DEFAULT_SCOPE, scopeSchema } from "./scopes.js";

/** Usernames travel in the X-Auth-User header, so they stay within a header-safe alphabet. */
export const usernameSchema = z
  .string()
  .regex(/^[A-Za-z0-9._@+-]{3,64}$/, "username must be 3-64 letters, digits or . _ @ + -");

export const passwordSchema = z
  .string()
  .min(8, "password must be at least 8 characters")
  .max(128, "password must be at most 128 characters");

export const setupInput = z.object({
  username: usernameSchema,
  password: passwordSchema,
  setup_token: z
    .string()
    .max(256)
    .optional()
    .meta({ description: "The one-time token of the setup URL the server prints at start (`/?setup=<token>`)." }),
});

/** Login only bounds the sizes: a wrong-shaped but plausible credential is a 401, not a hint. */
export const loginInput = z.object({
  username: z.string().max(256, "username is too long"),
  password: z.string().max(1024, "password is too long"),
});

export const keyNameSchema = z
  .string()
  .trim()
  .min(1, "key name must not be empty")
  .max(64, "key name must be at most 64 characters")
  .regex(/^[^\p{Cc}]*$/u, "key name must not contain control characters");

/** `POST /auth/keys`: the scope defaults to read; no expiry means the key works until revoked. */
export const keyCreateInput = z.object({
  name: keyNameSchema,
  scope: scopeSchema.default(DEFAULT_SCOPE),
  expires_at: z.iso
    .datetime({ offset: true, error: "expires_at must be an ISO 8601 time, e.g. 2027-01-31T00:00:00Z" })
    .nullish()
    .meta({ description: "When the key stops working (ISO 8601); omitted or null: never." }),
});

export const keyIdSchema = z.string().regex(/^[a-z2-7]{16}$/, "not an API key id");

/** Validates a verb's input, so every transport (REST, tRPC, CLI) gets the same 400. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
    throw new ValidationError(issues[0]?.message ?? "invalid input", { issues });
  }
  return parsed.data;
}
