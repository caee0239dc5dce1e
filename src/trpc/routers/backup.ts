import { z } from "zod";
import { backupFilenameSchema } from "../../lib/names.js";
import { createBackup, deleteBackup, listBackups, restoreBackup, verifyBackup } from "../../services/backup/index.js";
import { resolveDatabase } from "../../services/databases/index.js";
import { deleteBackupEverywhere } from "../../services/offsite/index.js";
import { databaseInput, protectedProcedure, router } from "../init.js";

const fileInput = databaseInput.extend({ filename: backupFilenameSchema });

export const backupRouter = router({
  list: protectedProcedure.input(databaseInput.optional()).query(({ ctx, input }) => {
    return listBackups(ctx.services, resolveDatabase(ctx.services, input?.database));
  }),
  create: protectedProcedure.input(databaseInput.optional()).mutation(({ ctx, input }) => {
    return createBackup(ctx.services, resolveDatabase(ctx.services, input?.database));
  }),
  restore: protectedProcedure.input(fileInput.extend({ force: z.boolean().optional() })).mutation(({ ctx, input }) => {
    const database = resolveDatabase(ctx.services, input.database);
    return restoreBackup(ctx.services, database, input.filename, { force: input.force });
  }),
  verify: protectedProcedure.input(fileInput).mutation(({ ctx, input }) => {
    return verifyBackup(ctx.services, resolveDatabase(ctx.services, input.database), input.filename);
  }),
  delete: protectedProcedure
    .input(fileInput.extend({ offsite: z.boolean().optional() }))
    .mutation(async ({ ctx, input }) => {
      const remove = input.offsite ? deleteBackupEverywhere : deleteBackup;
      await remove(ctx.services, resolveDatabase(ctx.services, input.database), input.filename);
      return { deleted: input.filename };
    }),
});

export type BackupRouterInput = z.infer<typeof fileInput>;
