// NovaNET client library: the public surface. See docs/client.md.

export type {
  AddLearnerRequest,
  BackupChunk,
  ClusterStatus,
  ListMembersResponse,
  Member,
  ReplicaProgress,
  SnapshotResponse,
} from "../api/gen/novanet/v1/cluster.js";
export {
  Consistency,
  Direction,
  type DnatConfig,
  type IpRange,
  type ListDnatsResponse,
  type ListPortsResponse,
  type ListSecurityGroupsResponse,
  type ListSubnetsResponse,
  type ListVpcsResponse,
  type Port,
  type PortRange,
  Protocol,
  type SecurityGroup,
  type SecurityRule,
  type SnatConfig,
  SourceType,
  type Subnet,
  type Vpc,
} from "../api/gen/novanet/v1/network.js";
export {
  type BackupOptions,
  type BackupResult,
  ClusterClient,
  type EndpointStatus,
} from "./cluster-client.js";
export { isRetryable, NovanetError, OutcomeUnknownError } from "./errors.js";
export {
  type Input,
  NetworkClient,
  type NetworkClientOptions,
  type RequestInput,
} from "./network-client.js";
export type {
  CallOptions,
  ReadFrom,
  ResponseInfo,
  RetryOptions,
  TlsOptions,
  TokenSource,
  TransportOptions,
} from "./transport.js";
