import { z } from "zod";
import { databaseNameSchema } from "../../lib/names.js";

export const DatabaseNameRequest = z.object({ name: databaseNameSchema }).meta({ id: "DatabaseNameRequest" });

export const DatabaseList = z
  .object({
    current: z.string(),
    databases: z.array(z.object({ name: z.string(), size: z.int().nonnegative() })),
  })
  .meta({ id: "DatabaseList" });

export const DatabaseCreated = z.object({ name: z.string() }).meta({ id: "DatabaseCreated" });
export const CurrentDatabase = z.object({ current: z.string() }).meta({ id: "CurrentDatabase" });
