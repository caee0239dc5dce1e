import { resolveDatabase } from "../../services/databases/index.js";
import { listUpgradeStatus, rollbackUpgrade, upgradeDatabase } from "../../services/migrations/index.js";
import { databaseInput, protectedProcedure, router } from "../init.js";

const allowBlocked = { allowBlocked: true };

export const upgradeRouter = router({
  /** Every database's upgrade status, or only the one named. */
  pending: protectedProcedure.input(databaseInput.optional()).query(({ ctx, input }) => {
    const requested = input?.database;
    const only = requested === undefined ? undefined : resolveDatabase(ctx.services, requested, allowBlocked);
    return listUpgradeStatus(ctx.services, only);
  }),
  /** `apply` is a word tRPC reserves, hence the longer name. */
  applyPending: protectedProcedure.input(databaseInput.optional()).mutation(({ ctx, input }) => {
    const database = resolveDatabase(ctx.services, input?.database, allowBlocked);
    return upgradeDatabase(ctx.services, database, { includeRolledBack: true });
  }),
  rollback: protectedProcedure.input(databaseInput.optional()).mutation(({ ctx, input }) => {
    return rollbackUpgrade(ctx.services, resolveDatabase(ctx.services, input?.database, allowBlocked));
  }),
});
