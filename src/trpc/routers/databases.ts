import { z } from "zod";
import { createDatabase, listDatabases, setCurrentDatabase } from "../../services/databases/index.js";
import { protectedProcedure, router } from "../init.js";

const nameInput = z.object({ name: z.string() });

export const databasesRouter = router({
  list: protectedProcedure.query(({ ctx }) => listDatabases(ctx.services)),
  create: protectedProcedure.input(nameInput).mutation(({ ctx, input }) => createDatabase(ctx.services, input.name)),
  setCurrent: protectedProcedure
    .input(nameInput)
    .mutation(({ ctx, input }) => setCurrentDatabase(ctx.services, input.name)),
});
