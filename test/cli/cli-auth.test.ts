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
      scope: "read",
      prefix: `cc_live_${key.id.slice(0, 8)}`,
      key: expect.stringMatching(/^cc_live_/),
      created_at: expect.any(String),
      expires_at: null,
    });
    const human = await cli(
      "keys",
      "create",
      "--name",
      "ci",
      "--scope",
      "operate",
      "--expires-at",
      "2099-01-31T00:00:00Z",
    );
    expect(human.stdout.split("\n")[0]).toMatch(/^cc_live_\S+$/);
    expect(human.stdout).toContain("scope operate, expires 2099-01-31 00:00:00 UTC");

    const listed = await cli("keys", "list", "--json");
    const second = { id: expect.any(String), name: "ci", scope: "operate", prefix: expect.stringMatching(/^cc_live_/) };
    const { key: _secret, ...first } = key as unknown as Record<string, unknown>;
    expect(parseJson(listed)).toEqual({
      keys: [
        { ...first, last_used_at: null },
        { ...second, created_at: expect.any(String), expires_at: "2099-01-31T00:00:00.000Z", last_used_at: null },
      ],
    });
    expect(listed.stdout).not.toContain(key.key);
    // Two keys named "ci": the table tells them apart by prefix, scope and expiry.
    const table = (await cli("keys", "list")).stdout.split("\n");
    expect(table[0]).toMatch(/^ID +PREFIX +NAME +SCOPE +CREATED +EXPIRES +LAST USED$/);
    expect(table[1]).toMatch(new RegExp(`^${key.id} +cc_live_${key.id.slice(0, 8)} +ci +read .* never +never$`));
    expect(table[2]).toMatch(/ cc_live_[a-z2-7]{8} +ci +operate .* 2099-01-31 00:00:00 UTC +never$/);
    expect(table.join("\n")).not.toContain(key.key);

    const refused = await cli("keys", "revoke", key.id);
    expect(refused.code).toBe(1);
    expect(oneLine(refused)).toBe("chaoscypher: refusing to revoke without --yes (there is no terminal to ask)");
    const revoked = await cli("keys", "revoke", key.id, "--yes", "--json");
    expect(parseJson(revoked)).toEqual({ revoked: key.id });
    const gone = await cli("keys", "revoke", key.id, "--yes", "--json");
    expect(gone.code).toBe(1);
    expect(parseJson(gone)).toMatchObject({ error: "NOT_FOUND" });
    const left = parseJson<{ keys: { scope: string }[] }>(await cli("keys", "list", "--json"));
    expect(left.keys.map((k) => k.scope)).toEqual(["operate"]);
    // A dozen CLI starts: on a loaded machine each can take seconds.
  }, 120_000);

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
