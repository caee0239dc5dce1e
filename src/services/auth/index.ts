export {
  type AuthStatus,
  authStatus,
  type Caller,
  login,
  logout,
  pendingSetupUrl,
  type SignedIn,
  setupOperator,
  setupToken,
} from "./account.js";
export { type Authenticated, authenticate, type Credential } from "./authenticate.js";
export { createKey, type ExpiredKey, type KeyInfo, listKeys, type MintedKey, revokeKey } from "./keys.js";
export { changePassword, changePasswordInput, type PasswordChanged, resetPassword } from "./password-change.js";
export { authRestoreHook, reconcileCredentials } from "./restore-hook.js";
export { type AuthRuntime, type AuthRuntimeOptions, createAuthRuntime } from "./runtime.js";
export { allows, DEFAULT_SCOPE, outOfScope, requireScope, SCOPES, type Scope, scopeSchema } from "./scopes.js";
export type { NewSession } from "./sessions.js";
export { API_KEY_PREFIX, MAX_TOKEN_LENGTH } from "./tokens.js";
export { AUTH_DATABASE, type Identity, SESSION_LIFETIME_MS } from "./types.js";
