import { describe, expect, it } from "vitest";
import { createTestApp, makeTempDir, removeDir, type TestApp, useTestApps } from "../helpers/app.js";
import { oneLine, parseJson, runCli } from "../helpers/cli.js";

const json = { "content-type": "application/json" };
const cookieOf = (res: Response) => (res.headers.get("set-cookie") ?? "").split(";")[0] as string;

async function logIn(t: TestApp, password: string): Promise<Response> {
  return t.app.request("/api/v1/auth/login", {
    method: "POST",
    headers: json,
    body: JSON.stringify({ username: "operator", password }),
  });
}
const me = (t: TestApp, cookie: string) => t.app.request("/api/v1/auth/me", { headers: { cookie } });

describe("a way back in: changing and resetting the operator's password", () => {
  const newApp = useTestApps();

  it("changes the password with the current one; other sessions end, this one stays", async () => {
    const t = newApp();
    const operator = await t.setupOperator("operator", "first password");
    const laptop = cookieOf(await logIn(t, "first password"));
    const change = (body: object) =>
      t.app.request("/api/v1/auth/password", {
        method: "POST",
        headers: { ...json, cookie: operator.cookie },
        body: JSON.stringify(body),
      });

    const wrong = await change({ current_password: "not it", new_password: "second password" });
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toMatchObject({ error: "FORBIDDEN", message: expect.stringContaining("current") });
    expect((await me(t, laptop)).status).toBe(200);
    expect((await change({ current_password: "first password", new_password: "short" })).status).toBe(400);

    const done = await change({ current_password: "first password", new_password: "second password" });
    expect(done.status).toBe(200);
    expect(await done.json()).toEqual({ username: "operator", sessions_ended: 1 });
    expect((await me(t, laptop)).status).toBe(401);
    expect((await me(t, operator.cookie)).status).toBe(200);
    expect((await logIn(t, "first password")).status).toBe(401);
    expect((await logIn(t, "second password")).status).toBe(200);
  });

  it("chaoscypher auth reset-password sets a new one from the host and ends every session", async () => {
    const dir = makeTempDir("cc-reset-");
    try {
      const none = await runCli(["auth", "reset-password", "--password", "new password", "--data-dir", dir]);
      expect(none.code).toBe(1);
      expect(oneLine(none)).toContain("chaoscypher auth setup");

      const before = createTestApp({ dataDir: dir });
      const operator = await before.setupOperator("operator", "forgotten password");
      await before.close();

      const reset = await runCli(["auth", "reset-password", "--password", "new password", "--data-dir", dir, "--json"]);
      expect(reset.code).toBe(0);
      expect(parseJson(reset)).toEqual({ username: "operator", sessions_ended: 1 });

      const after = createTestApp({ dataDir: dir });
      try {
        expect((await me(after, operator.cookie)).status).toBe(401);
        expect((await logIn(after, "forgotten password")).status).toBe(401);
        expect((await logIn(after, "new password")).status).toBe(200);
      } finally {
        await after.close();
      }
    } finally {
      removeDir(dir);
    }
  });
});
