import type { Headers } from "./load.js";

/** The first-run setup token the bench gives the service (CHAOSCYPHER_SETUP_TOKEN). */
export const BENCH_SETUP_TOKEN = "bench-setup-token-0123456789";

export interface BackupInfo {
  filename: string;
  size: number;
}

export interface Credentials {
  key: Headers;
  cookie: Headers;
}

async function expectOk(res: Response, what: string): Promise<Response> {
  if (!res.ok) throw new Error(`${what}: HTTP ${res.status} ${await res.text()}`);
  return res;
}

/** The REST calls the bench makes, as an operator's script would. */
export class ServiceClient {
  headers: Headers = {};

  constructor(readonly url: string) {}

  /** First-run setup, then an API key; null when this build has no auth routes yet. */
  async setupAuth(): Promise<Credentials | null> {
    const setup = await fetch(`${this.url}/api/v1/auth/setup`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: this.url },
      body: JSON.stringify({ username: "bench", password: "bench-password-1", setup_token: BENCH_SETUP_TOKEN }),
    });
    if (setup.status === 404) return null;
    await expectOk(setup, "auth setup");
    const session = setup.headers
      .getSetCookie()
      .map((c) => c.split(";")[0] ?? "")
      .find((c) => c.startsWith("cc_session="));
    if (!session) throw new Error("auth setup set no cc_session cookie");
    const cookie = { cookie: session };
    const res = await fetch(`${this.url}/api/v1/auth/keys`, {
      method: "POST",
      headers: { ...cookie, "content-type": "application/json", origin: this.url },
      body: JSON.stringify({ name: "bench", scope: "admin" }),
    });
    const { key } = (await (await expectOk(res, "key create")).json()) as { key: string };
    return { key: { authorization: `Bearer ${key}` }, cookie };
  }

  async backup(): Promise<BackupInfo> {
    const res = await fetch(`${this.url}/api/v1/backup`, { method: "POST", headers: this.headers });
    return (await (await expectOk(res, "backup")).json()) as BackupInfo;
  }

  /**
   * Deletes a backup once its background verification has ended: that verification (a read of the whole
   * file) would otherwise run into the next timed round, slowing only the service's side.
   */
  async deleteBackup(filename: string): Promise<void> {
    await this.verified(filename);
    const res = await fetch(`${this.url}/api/v1/backup/${filename}`, { method: "DELETE", headers: this.headers });
    await expectOk(res, "delete backup");
  }

  /** Waits (at most two minutes) until `filename` is no longer listed as pending verification. */
  async verified(filename: string): Promise<void> {
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const res = await fetch(`${this.url}/api/v1/backup`, { headers: this.headers });
      const { backups } = (await (await expectOk(res, "list")).json()) as {
        backups: { filename: string; verification: { state: string } }[];
      };
      if (backups.find((b) => b.filename === filename)?.verification.state !== "pending") return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async restore(filename: string): Promise<void> {
    const res = await fetch(`${this.url}/api/v1/backup/${filename}/restore`, { method: "POST", headers: this.headers });
    await expectOk(res, "restore");
  }

  /** Reads the whole download and returns its length; the bytes are dropped as they arrive. */
  async download(filename: string): Promise<number> {
    const res = await fetch(`${this.url}/api/v1/backup/${filename}/download`, { headers: this.headers });
    await expectOk(res, "download");
    if (!res.body) throw new Error("download has no body");
    const reader = res.body.getReader();
    let bytes = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return bytes;
      bytes += value.byteLength;
    }
  }
}
