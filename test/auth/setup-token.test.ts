import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { makeTempDir, removeDir, TEST_SETUP_TOKEN, useTestApps } from "../helpers/app.js";
import { type CliServer, startCliServer, waitForOutput } from "../helpers/cli.js";

const json = { "content-type": "application/json" };
const account = { username: "operator", password: "correct horse battery" };

describe("first-run setup needs the server's one-time token", () => {
  const newApp = useTestApps();

  it("refuses a missing or wrong token with a 403 that says where the token is; the right one sets up", async () => {
    const t = newApp();
    const post = (body: object) =>
      t.app.request("/api/v1/auth/setup", { method: "POST", headers: json, body: JSON.stringify(body) });
    const missing = await post(account);
    expect(missing.status).toBe(403);
    const body = (await missing.json()) as { error: string; message: string };
    expect(body.error).toBe("FORBIDDEN");
    expect(body.message).toContain("CHAOSCYPHER_SETUP_TOKEN");
    expect(body.message).toContain("chaoscypher auth setup");
    expect((await post({ ...account, setup_token: "guessed-guessed-guessed" })).status).toBe(403);
    expect(await (await t.app.request("/api/v1/auth/status")).json()).toMatchObject({ setup_needed: true });

    expect((await post({ ...account, setup_token: TEST_SETUP_TOKEN })).status).toBe(201);
  });

  it("refuses a CHAOSCYPHER_SETUP_TOKEN shorter than 16 characters at start", () => {
    expect(() => loadConfig({ CHAOSCYPHER_SETUP_TOKEN: "short" })).toThrow(ConfigError);
    expect(() => loadConfig({ CHAOSCYPHER_SETUP_TOKEN: "short" })).toThrow(/CHAOSCYPHER_SETUP_TOKEN/);
  });
});

describe("chaoscypher serve on a fresh data dir", () => {
  const dir = makeTempDir("cc-setup-");
  let server: CliServer | undefined;
  afterAll(async () => {
    await server?.stop();
    removeDir(dir);
  });

  it("prints a setup URL whose token claims the server; a wrong token is told to look in the log", async () => {
    server = await startCliServer(dir);
    const cli = server.cli;
    let url = "";
    await waitForOutput(cli, cli.stderr, (text) => {
      url = /Create it at (http:\/\/\S+\/\?setup=\S+)/.exec(text)?.[1] ?? "";
      return url !== "";
    });
    expect(cli.stdout()).toContain('"setup_url"');
    const token = new URL(url).searchParams.get("setup") ?? "";
    expect(token.length).toBeGreaterThanOrEqual(16);

    const setup = (setup_token: string) =>
      fetch(`${server?.url}/api/v1/auth/setup`, {
        method: "POST",
        headers: { ...json, origin: server?.url ?? "" },
        body: JSON.stringify({ ...account, setup_token }),
      });
    const wrong = await setup("not-the-token-at-all");
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as { message: string }).message).toContain("/?setup=<token>");
    expect((await setup(token)).status).toBe(201);
  });
});
