import { Command } from "commander";
import { listDatabases } from "../../services/databases/index.js";
import { action, type CommonOptions, emit, formatBytes, table, withCommonOptions, withServices } from "../common.js";
import { withOperator } from "../operator.js";

export function databasesCommands(): Command {
  const databases = new Command("databases").description("list and create knowledge-base databases");

  databases.addCommand(
    withCommonOptions(new Command("list").description("list databases; * marks the current one")).action(
      action<CommonOptions>((options) =>
        withServices(options, async (deps) => {
          const listed = listDatabases(deps);
          const rows = listed.databases.map((d) => [
            d.name === listed.current ? "*" : " ",
            d.name,
            formatBytes(d.size),
          ]);
          emit(options, listed, table(rows));
        }),
      ),
    ),
  );

  databases.addCommand(
    withCommonOptions(new Command("create").description("create an empty database with the current schema"))
      .argument("<name>", "1-64 letters, digits, '_' or '-'")
      .action(
        action<CommonOptions>((options, name) =>
          withOperator(options, async (operator) => {
            const created = await operator.run("databases.create", { name: name as string });
            emit(options, created, `created database ${created.name}`);
          }),
        ),
      ),
  );
  return databases;
}
