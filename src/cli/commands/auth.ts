import { Command } from "commander";
import { resetPassword, setupOperator } from "../../services/auth/index.js";
import { deleteSession } from "../../services/auth/sessions.js";
import { parseSessionToken } from "../../services/auth/tokens.js";
import { AUTH_DATABASE } from "../../services/auth/types.js";
import {
  action,
  CliError,
  type CommonOptions,
  emit,
  withCommonOptions,
  withDatabaseLock,
  withServices,
} from "../common.js";
import { ask } from "../prompt.js";

interface SetupOptions extends CommonOptions {
  username?: string;
  password?: string;
}

/** Missing values are asked for on a terminal; the password twice, without echo. */
async function credentials(options: SetupOptions): Promise<{ username: string; password: string }> {
  const username = options.username ?? (await ask("Username: ")).trim();
  if (options.password !== undefined) return { username, password: options.password };
  const password = await ask("Password: ", { hidden: true });
  if ((await ask("Repeat password: ", { hidden: true })) !== password)
    throw new CliError("the passwords differ, nothing was changed");
  return { username, password };
}

export function authCommands(): Command {
  const auth = new Command("auth").description("the operator account");
  auth.addCommand(
    withCommonOptions(
      new Command("setup").description("create the operator account (first run only; asks for what is not given)"),
    )
      .option("--username <name>", "3-64 letters, digits or . _ @ + -")
      .option(
        "--password <password>",
        "8-128 characters (visible to other local users and in shell history: prefer the prompt)",
      )
      .action(
        action<SetupOptions>((options) =>
          withServices(options, async (deps) => {
            const given = await credentials(options);
            const signed = await withDatabaseLock(deps, AUTH_DATABASE, "auth", async () => {
              const signed = await setupOperator(deps, given, { clientIp: null, local: true });
              // The setup verb signs the operator in; the CLI has no browser to hold that session, so it ends now.
              const session = parseSessionToken(signed.session.token);
              if (session) await deleteSession(deps, session.id);
              return signed;
            });
            emit(options, { username: signed.username }, `operator account "${signed.username}" created`);
          }),
        ),
      ),
  );
  auth.addCommand(
    withCommonOptions(
      new Command("reset-password").description(
        "set a new password for the operator account and end every session (access to the data dir is the authority)",
      ),
    )
      .option(
        "--password <password>",
        "8-128 characters (visible to other local users and in shell history: prefer the prompt)",
      )
      .action(
        action<SetupOptions>((options) =>
          withServices(options, async (deps) => {
            const { password } = await credentials({ ...options, username: "" });
            const reset = await withDatabaseLock(deps, AUTH_DATABASE, "auth", () => resetPassword(deps, password));
            emit(
              options,
              reset,
              `password of operator "${reset.username}" reset; ${reset.sessions_ended} session(s) ended, log in again`,
            );
          }),
        ),
      ),
  );
  return auth;
}
