import { readFileSync } from "node:fs";
import { writeFileAtomic } from "../lib/durable-fs.js";

interface SettingsFile {
  current: string;
}

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
    await writeFileAtomic(this.file, JSON.stringify({ current: name } satisfies SettingsFile));
    this.#current = name;
  }

  #read(): SettingsFile | null {
    try {
      return JSON.parse(readFileSync(this.file, "utf8")) as SettingsFile;
    } catch {
      return null;
    }
  }
}
