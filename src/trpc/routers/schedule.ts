import { z } from "zod";
import { resolveDatabase } from "../../services/databases/index.js";
import { getSchedule, type Retention, scheduleHealth, setSchedule } from "../../services/schedules/index.js";
import { databaseInput, protectedProcedure, router } from "../init.js";

/**
 * Typed for the client, checked by the service (400 naming the field), so tRPC and REST refuse the same
 * input with the same message.
 */
const setInput = databaseInput.extend({
  enabled: z.custom<boolean>(),
  cron: z.custom<string>(),
  timezone: z.custom<string>().optional(),
  retention: z.custom<Retention>(),
});

export const scheduleRouter = router({
  get: protectedProcedure.input(databaseInput.optional()).query(({ ctx, input }) => {
    return getSchedule(ctx.services, resolveDatabase(ctx.services, input?.database));
  }),
  set: protectedProcedure.input(setInput).mutation(({ ctx, input }) => {
    const { database, ...schedule } = input;
    return setSchedule(ctx.services, resolveDatabase(ctx.services, database), schedule);
  }),
  /** What the Backups page warns about: overdue backups and a failed last run. */
  health: protectedProcedure.input(databaseInput.optional()).query(({ ctx, input }) => {
    return scheduleHealth(ctx.services, resolveDatabase(ctx.services, input?.database));
  }),
});
