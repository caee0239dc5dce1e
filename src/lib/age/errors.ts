/**
 * Why an age file was refused. `no_match`: none of the identities opens a stanza; `header`: the header does not
 * parse or a stanza is malformed; `mac`: the header was altered; `payload`: a chunk is altered, missing or extra.
 */
export type AgeFailure = "no_match" | "header" | "mac" | "payload";

export class AgeError extends Error {
  constructor(
    readonly failure: AgeFailure,
    message: string,
  ) {
    super(message);
    this.name = "AgeError";
  }
}
