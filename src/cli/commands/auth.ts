import { Command } from "commander";
import { action, CliError, type CommonOptions, emit, withCommonOptions } from "../common.js";
import { withOperator } from "../operator.js";
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
          withOperator(options, async (operator) => {
            const given = await credentials(options);
            const signed = await operator.run("auth.setup", given);
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
          withOperator(options, async (operator) => {
            const { password } = await credentials({ ...options, username: "" });
            const reset = await operator.run("auth.reset-password", { password });
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
