export {
  type UpgradeOptions,
  type UpgradeOutcome,
  type UpgradeReport,
  type UpgradeResult,
  upgradeAll,
  upgradeDatabase,
} from "./apply.js";
export { assertNotBlocked, LeaseGuard } from "./guard.js";
export { type RollbackResult, rollbackUpgrade } from "./rollback.js";
export { listUpgradeStatus, type UpgradeStateName, type UpgradeStatus, upgradeStatus } from "./status.js";
