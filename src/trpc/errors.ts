import { TRPCError } from "@trpc/server";
import type { ServiceError } from "../errors.js";
import { trpcCodes } from "../lib/trpc-codes.js";

export { trpcCodes } from "../lib/trpc-codes.js";

export function toTRPCError(error: ServiceError): TRPCError {
  return new TRPCError({ code: trpcCodes[error.code], message: error.message, cause: error });
}
