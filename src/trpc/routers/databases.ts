import { z } from "zod";
import { createDatabase, listDatabases, setCurrentDatabase } from "../../services/databases/index.js";
import { publicProcedure, router } from "../init.js";

const nameInput = z.object({ name: z.string() });

export const databasesRouter = router({
  list: publicProcedure.query(({ ctx }) => listDatabases(ctx.services)),
  create: publicProcedure.input(nameInput).mutation(({ ctx, input }) => createDatabase(ctx.services, input.name)),
  setCurrent: publicProcedure
    .input(nameInput)
    .mutation(({ ctx, input }) => setCurrentDatabase(ctx.services, input.name)),
});
