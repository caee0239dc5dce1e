import { z } from "zod";
import { changePasswordInput } from "../../services/auth/password-change.js";
import { keyCreateInput, keyIdSchema, keyNameSchema, loginInput, setupInput } from "../../services/auth/schemas.js";
import { scopeSchema } from "../../services/auth/scopes.js";
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
export const KeyCreateRequest = keyCreateInput
  .extend({ name: keyNameSchema.meta({ pattern: "^[^\\p{Cc}]*$" }) })
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

export const Me = z
  .object({
    username: z.string(),
    via: z.enum(["session", "api_key"]),
    scope: scopeSchema.meta({ description: "What this credential may do; a session is admin." }),
  })
  .meta({ id: "Me" });

const keyFields = {
  id: z.string(),
  name: z.string(),
  scope: scopeSchema,
  prefix: z
    .string()
    .regex(/^cc_live_/)
    .meta({ description: "The key's first characters (never its secret), to tell keys of one name apart." }),
  created_at: IsoTime,
  expires_at: IsoTime.nullable().meta({ description: "When the key stops working; null: never." }),
};

export const MintedKey = z
  .object({
    ...keyFields,
    key: z
      .string()
      .regex(/^cc_live_/)
      .meta({ description: "The whole key, shown this once only." }),
  })
  .meta({ id: "MintedKey" });

export const KeyList = z
  .object({
    keys: z.array(z.object({ ...keyFields, last_used_at: IsoTime.nullable() })),
  })
  .meta({ id: "KeyList" });
