import { z } from "zod";
import { RestoreResult } from "./backup.js";

const Revision = z.string().nullable().meta({ description: "A migration tag; null for a fresh, empty file." });

export const UpgradeStatus = z
  .object({
    database: z.string(),
    state: z.enum(["up_to_date", "pending", "blocked", "rolled_back", "newer_schema", "unreadable"]),
    revision: Revision,
    pending: z.array(z.string()),
    message: z.string().nullable().meta({ description: "What is wrong and what to run, when not up to date." }),
    last_backup: z
      .object({ filename: z.string(), revision: Revision, created_at: z.string(), path: z.string() })
      .nullable(),
    last_applied: z.object({ revisions: z.array(z.string()), at: z.string() }).nullable(),
    blocked: z
      .object({
        reason: z.enum(["migration_failed", "backup_failed", "unreadable"]),
        revision: Revision,
        error: z.string(),
        backup: z.string().nullable(),
        at: z.string(),
      })
      .nullable(),
    rolled_back: z.object({ backup: z.string(), revision: Revision, at: z.string() }).nullable(),
  })
  .meta({ id: "UpgradeStatus" });

export const UpgradeStatusList = z.object({ databases: z.array(UpgradeStatus) }).meta({ id: "UpgradeStatusList" });

export const UpgradeResult = z
  .object({
    database: z.string(),
    outcome: z.enum(["applied", "up_to_date", "held"]),
    applied: z.array(z.string()),
    backup: z.string().nullable().meta({ description: "The automatic backup taken before applying." }),
  })
  .meta({ id: "UpgradeResult" });

export const RollbackResult = RestoreResult.extend({ revision: Revision }).meta({ id: "RollbackResult" });
