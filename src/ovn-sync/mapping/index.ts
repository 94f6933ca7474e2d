// Public surface of the NovaNET → OVN Northbound mapping (see README.md).

export { aclPriorityAllow, aclPriorityDrop, dropMatch, ruleMatch } from "./acl.js";
export {
  clusterWideKinds,
  defaultDhcpLeaseTimeS,
  defaultMtu,
  desiredNorthbound,
  type ExternalNetwork,
  type Kind,
  kinds,
  type MappingOptions,
  rowKey,
  type ScopedQueries,
  type StateReader,
} from "./desired.js";
export { addressSetOf, derivedMac, names, portGroupNamePattern } from "./names.js";
export {
  type InsertOperation,
  insertAllOperations,
  type OvsdbRow,
  type OvsdbUuid,
  type OvsdbValue,
  ovsdbRow,
} from "./ovsdb-json.js";
export * from "./types.js";
