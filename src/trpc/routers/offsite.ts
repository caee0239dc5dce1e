import { z } from "zod";
import { backupFilenameSchema, installIdSchema as InstallId } from "../../lib/names.js";
import { resolveDatabase } from "../../services/databases/index.js";
import { fetchCopy, listRemoteCopies, pushCopies } from "../../services/offsite/index.js";
import { databaseInput, protectedProcedure, router } from "../init.js";

export const offsiteRouter = router({
  list: protectedProcedure
    .input(databaseInput.extend({ install: InstallId.optional() }).optional())
    .query(({ ctx, input }) => {
      return listRemoteCopies(ctx.services, input?.database ?? ctx.services.settings.current, input ?? {});
    }),
  push: protectedProcedure.input(databaseInput.optional()).mutation(({ ctx, input }) => {
    return pushCopies(ctx.services, resolveDatabase(ctx.services, input?.database));
  }),
  fetch: protectedProcedure
    .input(
      databaseInput.extend({
        filename: backupFilenameSchema,
        install: InstallId.optional(),
        acceptUnauthenticated: z.boolean().optional(),
        uploads: z.boolean().optional(),
      }),
    )
    .mutation(({ ctx, input }) => {
      return fetchCopy(ctx.services, resolveDatabase(ctx.services, input.database), input.filename, input);
    }),
});
