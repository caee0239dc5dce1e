/**
 * age v1 (https://age-encryption.org/v1) on node:crypto: X25519 recipients and identities, the STREAM payload.
 * OpenSSL's ChaCha20-Poly1305 runs about 10× the pure-JS cipher, which bounded off-site copies and fetches.
 */
export { AgeDecryptor, AgeDecryptStream } from "./decrypt.js";
export { AgeEncryptor, AgeEncryptStream } from "./encrypt.js";
export { AgeError, type AgeFailure } from "./errors.js";
export { type Identity, parseIdentity, parseIdentityFile, parseRecipient } from "./keys.js";
