// The one place where domain result codes become gRPC statuses. Every error a client sees is
// "<CODE>: <text>" with the code also in trailing metadata; no stack trace reaches a client.
import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import {
  errorCodeMetadata,
  leaderAddressMetadata,
  leaderIdMetadata,
  retryAfterMetadata,
} from "../api/protocol.js";
import type { ErrorCode } from "../statemachine/index.js";

export type RpcErrorCode =
  | ErrorCode
  | "UNAUTHENTICATED"
  | "PERMISSION_DENIED"
  | "NO_LEADER"
  | "TIMEOUT"
  | "OVERLOADED"
  | "INTERNAL";

export const grpcStatusOf: Readonly<Record<RpcErrorCode, status>> = {
  INVALID_CIDR: status.INVALID_ARGUMENT,
  CIDR_OVERLAP: status.ALREADY_EXISTS,
  SUBNET_OUTSIDE_VPC: status.INVALID_ARGUMENT,
  IP_OUTSIDE_SUBNET: status.INVALID_ARGUMENT,
  IP_ALREADY_ALLOCATED: status.ALREADY_EXISTS,
  OVN_CONNECTION_FAILED: status.UNAVAILABLE,
  SECURITY_GROUP_NOT_FOUND: status.NOT_FOUND,
  PORT_ALREADY_ATTACHED: status.FAILED_PRECONDITION,
  INVALID_COMMAND: status.INVALID_ARGUMENT,
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  LIMIT_EXCEEDED: status.RESOURCE_EXHAUSTED,
  IP_RESERVED: status.INVALID_ARGUMENT,
  SUBNET_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  CIDR_POOL_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  MAC_ADDRESS_IN_USE: status.ALREADY_EXISTS,
  SECURITY_GROUP_IN_USE: status.FAILED_PRECONDITION,
  EXTERNAL_IP_POOL_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  EXTERNAL_IP_IN_USE: status.ALREADY_EXISTS,
  EXTERNAL_IP_NOT_IN_POOL: status.INVALID_ARGUMENT,
  NOT_BOOTSTRAPPED: status.UNAVAILABLE,
  SESSION_EXPIRED: status.FAILED_PRECONDITION,
  STALE_REQUEST: status.FAILED_PRECONDITION,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  NO_LEADER: status.UNAVAILABLE,
  TIMEOUT: status.DEADLINE_EXCEEDED,
  OVERLOADED: status.RESOURCE_EXHAUSTED,
  INTERNAL: status.INTERNAL,
};

/** An error on its way to a client: a domain code, a message, and optional leader hints. */
export class RpcError extends Error {
  override name = "RpcError";
  constructor(
    readonly code: RpcErrorCode,
    message: string,
    readonly hints: { leaderId?: string; leaderAddress?: string; retryAfterMs?: number } = {},
  ) {
    super(message);
  }
}

export function toServiceError(err: unknown): Partial<ServiceError> {
  const e =
    err instanceof RpcError ? err : new RpcError("INTERNAL", "internal error; see the server log");
  const md = new Metadata();
  md.set(errorCodeMetadata, e.code);
  if (e.hints.leaderId) md.set(leaderIdMetadata, e.hints.leaderId);
  if (e.hints.leaderAddress) md.set(leaderAddressMetadata, e.hints.leaderAddress);
  if (e.hints.retryAfterMs !== undefined) md.set(retryAfterMetadata, String(e.hints.retryAfterMs));
  return { code: grpcStatusOf[e.code], details: `${e.code}: ${e.message}`, metadata: md };
}
