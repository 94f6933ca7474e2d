// Public surface of the replicated network state machine (see docs/statemachine.md).

export { AssertionError } from "./assert.js";
export { commandMagic, decodeCommand, encodeCommand, parseCommand } from "./codec.js";
export type * from "./commands.js";
export { commandFormatVersion, commandTypes } from "./commands.js";
export { defaultNetworkConfig, type NetworkConfig } from "./config.js";
export {
  type Err,
  type ErrorCode,
  errorCodeMeaning,
  errorCodeNumber,
  errorCodes,
  isErrorCode,
  type Ok,
  type Result,
} from "./errors.js";
export * as limits from "./limits.js";
export { type ApplyContext, type CommandResult, NetworkStateMachine } from "./machine.js";
export type { Page, PageRequest, PortFilter, Queries, Scope } from "./queries.js";
export {
  type LogPosition,
  rebaseSnapshot,
  SnapshotError,
  snapshotFormatVersion,
} from "./snapshot.js";
export type * from "./types.js";
export { directions, natProtocols, protocols, sourceTypes } from "./types.js";
export { generateMacAddress } from "./validate.js";
