import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { makeTempDir, removeDir } from "../helpers/app.js";
import { BIN, oneLine, parseJson, runCli } from "../helpers/cli.js";
import { inspect } from "../helpers/seed.js";

describe("chaoscypher CLI: auth setup and API keys", () => {
  let dir: string;
  const cli = (...args: string[]) => runCli([...args, "--data-dir", dir]);
  const sessions = () =>
    inspect(
      `${dir}/databases/default/app.db`,
      (s) => (s.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number }).n,
    );
  afterEach(() => removeDir(dir));

  it("sets up the operator once, mints, lists and revokes keys", async () => {
    dir = makeTempDir("cc-cli-");
    const early = await cli("keys", "create", "--name", "ci", "--json");
    expect(early.code).toBe(1);
    expect(parseJson(early)).toMatchObject({ error: "CONFLICT" });

    const noTerminal = await cli("auth", "setup");
    expect(noTerminal.code).toBe(1);
    expect(oneLine(noTerminal)).toBe('chaoscypher: no terminal to ask "Username:"; pass it as an option');
    const weak = await cli("auth", "setup", "--username", "operator", "--password", "short");
    expect(weak.code).toBe(1);
    expect(oneLine(weak)).toBe("chaoscypher: password must be at least 8 characters");

    const setup = await cli("auth", "setup", "--username", "operator", "--password", "correct horse", "--json");
    expect(setup.code).toBe(0);
    expect(parseJson(setup)).toEqual({ username: "operator" });
    expect(sessions()).toBe(0); // nobody holds a session the CLI would have opened
    const again = await cli("auth", "setup", "--username", "other", "--password", "correct horse");
    expect(again.code).toBe(1);
    expect(oneLine(again)).toBe("chaoscypher: the operator account is already set up");

    const minted = await cli("keys", "create", "--name", "ci", "--json");
    expect(minted.code).toBe(0);
    const key = parseJson<{ id: string; key: string }>(minted);
    expect(key).toEqual({
      id: expect.stringMatching(/^[a-z2-7]{16}$/),
      name: "ci",
      key: expect.stringMatching(/^cc_live_/),
      created_at: expect.any(String),
    });
    const human = await cli("keys", "create", "--name", "backup job");
    expect(human.stdout.split("\n")[0]).toMatch(/^cc_live_\S+$/);

    const listed = await cli("keys", "list", "--json");
    expect(parseJson(listed)).toEqual({
      keys: [
        { id: key.id, name: "ci", created_at: expect.any(String), last_used_at: null },
        { id: expect.any(String), name: "backup job", created_at: expect.any(String), last_used_at: null },
      ],
    });
    expect(listed.stdout).not.toContain("cc_live_");

    const refused = await cli("keys", "revoke", key.id);
    expect(refused.code).toBe(1);
    expect(oneLine(refused)).toBe("chaoscypher: refusing to revoke without --yes (there is no terminal to ask)");
    const revoked = await cli("keys", "revoke", key.id, "--yes", "--json");
    expect(parseJson(revoked)).toEqual({ revoked: key.id });
    const gone = await cli("keys", "revoke", key.id, "--yes", "--json");
    expect(gone.code).toBe(1);
    expect(parseJson(gone)).toMatchObject({ error: "NOT_FOUND" });
    const left = parseJson<{ keys: { name: string }[] }>(await cli("keys", "list", "--json"));
    expect(left.keys.map((k) => k.name)).toEqual(["backup job"]);
  });

  it("asks for the username and, without echo, the password twice on a terminal", () => {
    dir = makeTempDir("cc-cli-");
    const command = `${process.execPath} ${BIN} auth setup --data-dir ${dir}`;
    const differ = spawnSync("script", ["-qec", command, "/dev/null"], {
      input: "operator\nfirst password\nother password\n",
      encoding: "utf8",
    });
    expect(differ.status).toBe(1);
    expect(differ.stdout).toContain("chaoscypher: the passwords differ, nothing was changed");
    const done = spawnSync("script", ["-qec", command, "/dev/null"], {
      input: "operator\ncorrect horse\ncorrect horse\n",
      encoding: "utf8",
    });
    expect(done.status).toBe(0);
    expect(done.stdout).toContain("Repeat password: ");
    expect(done.stdout).toContain('operator account "operator" created');
  });
});
