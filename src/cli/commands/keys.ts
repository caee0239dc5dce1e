import { Command } from "commander";
import { DEFAULT_SCOPE, listKeys } from "../../services/auth/index.js";
import { AUTH_DATABASE } from "../../services/auth/types.js";
import {
  action,
  type CommonOptions,
  emit,
  humanTime,
  table,
  withCommonOptions,
  withDatabaseLock,
  withServices,
} from "../common.js";
import { withOperator } from "../operator.js";
import { confirm } from "../prompt.js";

interface KeyOptions extends CommonOptions {
  name?: string;
  scope?: string;
  expiresAt?: string;
  yes?: boolean;
}

export function keysCommands(): Command {
  const keys = new Command("keys").description("API keys for scripts (Authorization: Bearer cc_live_...)");

  keys.addCommand(
    withCommonOptions(new Command("create").description("mint an API key; it is printed this once only"))
      .requiredOption("--name <name>", "what the key is for, 1-64 characters")
      .option(
        "--scope <scope>",
        "read (lists, status, metrics, downloads), operate (+ backup, restore, delete, verify, upload, off-site), admin (+ keys, schedules, databases, upgrades)",
        DEFAULT_SCOPE,
      )
      .option("--expires-at <time>", "when the key stops working, ISO 8601 (e.g. 2027-01-31T00:00:00Z); default never")
      .action(
        action<KeyOptions>((options) =>
          withOperator(options, async (operator) => {
            const input = { name: options.name, scope: options.scope, expires_at: options.expiresAt };
            const minted = await operator.run("keys.create", input);
            const expiry = minted.expires_at ? `, expires ${humanTime(minted.expires_at)}` : "";
            // The key alone on the first line, for copying; it is not stored and cannot be shown again.
            emit(options, minted, [
              minted.key,
              `API key "${minted.name}" (id ${minted.id}, scope ${minted.scope}${expiry}): store it now, it is not shown again`,
            ]);
          }),
        ),
      ),
  );

  keys.addCommand(
    withCommonOptions(
      new Command("list").description("list the keys that still work (never the keys themselves)"),
    ).action(
      action<KeyOptions>((options) =>
        withServices(options, async (deps) => {
          const listed = await withDatabaseLock(deps, AUTH_DATABASE, "keys", () => listKeys(deps));
          const now = deps.now().getTime();
          const rows = listed.keys.map((k) => [
            k.id,
            k.prefix,
            k.name,
            k.scope,
            humanTime(k.created_at),
            expiryCell(k.expires_at, now),
            k.last_used_at ? humanTime(k.last_used_at) : "never",
          ]);
          const head = ["ID", "PREFIX", "NAME", "SCOPE", "CREATED", "EXPIRES", "LAST USED"];
          emit(options, listed, rows.length === 0 ? "no API keys" : table([head, ...rows]));
        }),
      ),
    ),
  );

  keys.addCommand(
    withCommonOptions(new Command("revoke").description("revoke a key: refused by a running server within 5 seconds"))
      .argument("<id>", "the key's id, as `keys list` shows it")
      .option("-y, --yes", "do not ask for confirmation")
      .action(
        action<KeyOptions>((options, id) =>
          withOperator(options, async (operator) => {
            await confirm(`Revoke API key ${id}? Scripts using it stop working.`, options.yes, "refusing to revoke");
            const revoked = await operator.run("keys.revoke", { id: id as string });
            emit(options, revoked, `revoked API key ${revoked.revoked}`);
          }),
        ),
      ),
  );
  return keys;
}

function expiryCell(expiresAt: string | null, now: number): string {
  if (!expiresAt) return "never";
  return Date.parse(expiresAt) <= now ? `${humanTime(expiresAt)} (expired)` : humanTime(expiresAt);
}
