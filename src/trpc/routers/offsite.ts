import { backupFilenameSchema } from "../../lib/names.js";
import { resolveDatabase } from "../../services/databases/index.js";
import { fetchCopy, listRemoteCopies, pushCopies } from "../../services/offsite/index.js";
import { databaseInput, protectedProcedure, router } from "../init.js";

export const offsiteRouter = router({
  list: protectedProcedure.input(databaseInput.optional()).query(({ ctx, input }) => {
    return listRemoteCopies(ctx.services, input?.database ?? ctx.services.settings.current);
  }),
  push: protectedProcedure.input(databaseInput.optional()).mutation(({ ctx, input }) => {
    return pushCopies(ctx.services, resolveDatabase(ctx.services, input?.database));
  }),
  fetch: protectedProcedure
    .input(databaseInput.extend({ filename: backupFilenameSchema }))
    .mutation(({ ctx, input }) => {
      return fetchCopy(ctx.services, resolveDatabase(ctx.services, input.database), input.filename);
    }),
});
