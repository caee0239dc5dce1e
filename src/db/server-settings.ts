import { readFileSync } from "node:fs";
import { z } from "zod";
import { writeFileAtomic } from "../lib/durable-fs.js";
import { FormatVersionError, versionedJson } from "../lib/format.js";

/** `server-settings.json` (docs/format.md): the database the server acts on when a request names none. */
const settingsFormat = versionedJson(z.object({ current: z.string() }));

/** Server-wide settings that belong to no single database, persisted as a small JSON file. */
export class ServerSettings {
  #current: string;

  constructor(private readonly file: string) {
    this.#current = this.#read()?.current ?? "default";
  }

  get current(): string {
    return this.#current;
  }

  async setCurrent(name: string): Promise<void> {
    await writeFileAtomic(this.file, settingsFormat.serialize({ current: name }));
    this.#current = name;
  }

  /** A missing or unreadable file means `default`; one a newer build wrote stops the start with its reason. */
  #read(): { current: string } | null {
    try {
      return settingsFormat.parse(readFileSync(this.file, "utf8"), this.file);
    } catch (error) {
      if (error instanceof FormatVersionError) throw error;
      return null;
    }
  }
}
