// Public surface of the OVN sync: the reconciler the server wires, and its contract.

export type {
  OvnSyncOptions,
  OvnSyncPhase,
  OvnSyncStatus,
  PortOvnStatus,
  SyncScope,
} from "./contract.js";
export { scopeOfCommand } from "./reconciler/scope.js";
export { OvnSync } from "./reconciler/sync.js";
