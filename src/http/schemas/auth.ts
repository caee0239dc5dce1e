import { z } from "zod";
import { changePasswordInput } from "../../services/auth/password-change.js";
import { keyIdSchema, keyNameSchema, loginInput, setupInput } from "../../services/auth/schemas.js";
import { IsoTime } from "./common.js";

// Request bodies are the verbs' own schemas, so REST refuses exactly what tRPC and the CLI refuse.
export const SetupRequest = setupInput.meta({ id: "SetupRequest" });
export const LoginRequest = loginInput.meta({ id: "LoginRequest" });
export const PasswordChangeRequest = changePasswordInput.meta({ id: "PasswordChangeRequest" });
export const PasswordChanged = z
  .object({
    username: z.string(),
    sessions_ended: z.number().int().meta({ description: "Other sessions that were ended; this one stays." }),
  })
  .meta({ id: "PasswordChanged" });
// The library mistranslates the `u` flag of keyNameSchema's regex; the pattern is stated for it.
export const KeyCreateRequest = z
  .object({ name: keyNameSchema.meta({ pattern: "^[^\\p{Cc}]*$" }) })
  .meta({ id: "KeyCreateRequest" });
export const KeyIdParam = z.object({
  id: keyIdSchema.meta({ example: "abcdefghijklmnop" }),
});

export const AuthStatus = z
  .object({
    setup_needed: z.boolean().meta({ description: "True until the operator account is created." }),
    authenticated: z.boolean(),
    username: z.string().optional(),
  })
  .meta({ id: "AuthStatus" });

export const SignedIn = z.object({ username: z.string() }).meta({ id: "SignedIn" });

export const Me = z.object({ username: z.string(), via: z.enum(["session", "api_key"]) }).meta({ id: "Me" });

export const MintedKey = z
  .object({
    id: z.string(),
    name: z.string(),
    key: z
      .string()
      .regex(/^cc_live_/)
      .meta({ description: "The whole key, shown this once only." }),
    created_at: IsoTime,
  })
  .meta({ id: "MintedKey" });

export const KeyList = z
  .object({
    keys: z.array(
      z.object({ id: z.string(), name: z.string(), created_at: IsoTime, last_used_at: IsoTime.nullable() }),
    ),
  })
  .meta({ id: "KeyList" });
