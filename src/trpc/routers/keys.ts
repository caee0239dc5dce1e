import { z } from "zod";
import { createKey, listKeys, revokeKey } from "../../services/auth/index.js";
import { keyCreateInput, keyIdSchema } from "../../services/auth/schemas.js";
import { protectedProcedure, router } from "../init.js";

export const keysRouter = router({
  create: protectedProcedure.input(keyCreateInput).mutation(({ ctx, input }) => createKey(ctx.services, input)),
  list: protectedProcedure.query(({ ctx }) => listKeys(ctx.services)),
  revoke: protectedProcedure
    .input(z.object({ id: keyIdSchema }))
    .mutation(({ ctx, input }) => revokeKey(ctx.services, input.id)),
});
