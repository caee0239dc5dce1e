import { z } from "zod";

/**
 * The versioned JSON files of the data dir (docs/format.md). Every file carries `version`; one written before
 * the field existed is version 1. A version this build does not know is refused, never guessed at: a newer
 * build wrote it, and reading it as ours could drop what it says.
 */
export const FORMAT_VERSION = 1;

/** A file written by a newer build (or edited into a version that does not exist). */
export class FormatVersionError extends Error {
  constructor(
    readonly file: string,
    readonly found: unknown,
  ) {
    super(
      `${file} has format version ${JSON.stringify(found)}; this build reads version ${FORMAT_VERSION} only ` +
        "(it was written by a newer chaoscypher: run that build, or see docs/format.md)",
    );
    this.name = "FormatVersionError";
  }
}

/** A file whose content does not match its format (hand-edited, or not ours). */
export class FormatError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = "FormatError";
  }
}

export interface VersionedFormat<T> {
  /** Parses the JSON text; FormatVersionError for an unknown version, FormatError for anything else wrong. */
  parse(text: string, file: string): T;
  /** The JSON text, with `version` first. */
  serialize(value: T, options?: { pretty?: boolean }): string;
}

/** A JSON format whose content is `schema` plus the `version` envelope field (stripped from what `parse` returns). */
export function versionedJson<S extends z.ZodType<object>>(schema: S): VersionedFormat<z.output<S>> {
  return {
    parse(text, file) {
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        throw new FormatError(file, "not valid JSON");
      }
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new FormatError(file, "not an object");
      const { version = FORMAT_VERSION, ...rest } = raw as { version?: unknown };
      if (version !== FORMAT_VERSION) throw new FormatVersionError(file, version);
      const parsed = schema.safeParse(rest);
      if (!parsed.success) throw new FormatError(file, z.prettifyError(parsed.error).replaceAll("\n", "; "));
      return parsed.data;
    },
    serialize(value, options = {}) {
      const body = { version: FORMAT_VERSION, ...value };
      return options.pretty ? `${JSON.stringify(body, null, 2)}\n` : `${JSON.stringify(body)}\n`;
    },
  };
}
