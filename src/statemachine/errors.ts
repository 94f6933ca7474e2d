// Result codes. A rejection is a value every replica computes identically, never an exception.
// The order of `errorCodes` is the wire order: each code keeps its number forever (append only).
// The mapping to gRPC status codes lives in src/rpc, not here.

export const errorCodes = [
  // Spec, Appendix A.
  "INVALID_CIDR",
  "CIDR_OVERLAP",
  "SUBNET_OUTSIDE_VPC",
  "IP_OUTSIDE_SUBNET",
  "IP_ALREADY_ALLOCATED",
  "OVN_CONNECTION_FAILED",
  "SECURITY_GROUP_NOT_FOUND",
  "PORT_ALREADY_ATTACHED",
  // Added by the issue and by what Neutron / AWS VPC users expect.
  "INVALID_COMMAND",
  "INVALID_ARGUMENT",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "FAILED_PRECONDITION",
  "LIMIT_EXCEEDED",
  "IP_RESERVED",
  "SUBNET_EXHAUSTED",
  "CIDR_POOL_EXHAUSTED",
  "MAC_ADDRESS_IN_USE",
  "SECURITY_GROUP_IN_USE",
  "EXTERNAL_IP_POOL_EXHAUSTED",
  "EXTERNAL_IP_IN_USE",
  "EXTERNAL_IP_NOT_IN_POOL",
  "NOT_BOOTSTRAPPED",
  "SESSION_EXPIRED",
  "STALE_REQUEST",
] as const;

export type ErrorCode = (typeof errorCodes)[number];

/** What each code means; the doc table and the table tests are built from this. */
export const errorCodeMeaning: Readonly<Record<ErrorCode, string>> = {
  INVALID_CIDR:
    "Invalid CIDR format (or host bits set, a prefix length out of range, a range not allowed)",
  CIDR_OVERLAP: "CIDR overlaps with an existing subnet of the same VPC",
  SUBNET_OUTSIDE_VPC: "Subnet CIDR not within the VPC CIDR",
  IP_OUTSIDE_SUBNET: "IP address not within the subnet CIDR",
  IP_ALREADY_ALLOCATED: "IP address already in use by another port of the subnet",
  OVN_CONNECTION_FAILED:
    "Failed to connect to OVN (reported by the OVN sync; apply never returns it, the state machine does no I/O)",
  SECURITY_GROUP_NOT_FOUND:
    "A security group named by a port or by a rule source does not exist in the caller's project",
  PORT_ALREADY_ATTACHED: "Port already attached to another VM",
  INVALID_COMMAND:
    "The log entry is not a well-formed command of a known version (wrong field type, unknown field …)",
  INVALID_ARGUMENT: "A field is well-typed but invalid (bad name, MAC, IP, port range, MTU …)",
  NOT_FOUND: "The resource acted on does not exist, or belongs to another tenant",
  ALREADY_EXISTS: "A resource with this identity already exists",
  FAILED_PRECONDITION:
    "The resource is not in a state that allows the operation (e.g. a VPC or subnet still holds ports)",
  LIMIT_EXCEEDED: "A bound (…Max) would be exceeded",
  IP_RESERVED:
    "The address is reserved in its subnet (network, gateway, broadcast, configured reserved ranges)",
  SUBNET_EXHAUSTED: "No free address is left in the subnet",
  CIDR_POOL_EXHAUSTED: "No free block is left in the VPC auto-CIDR pool",
  MAC_ADDRESS_IN_USE: "MAC address already used by another port of the VPC",
  SECURITY_GROUP_IN_USE: "Security group is used by a port or referenced by another group's rule",
  EXTERNAL_IP_POOL_EXHAUSTED: "No free external IP is left in the external pool",
  EXTERNAL_IP_IN_USE:
    "External IP belongs to another VPC, or a 1:1 DNAT would share its external IP with another NAT rule",
  EXTERNAL_IP_NOT_IN_POOL: "External IP is not part of the configured external pool",
  NOT_BOOTSTRAPPED: "The replicated configuration has not been set by a Bootstrap command yet",
  SESSION_EXPIRED: "Unknown client session (never registered, closed, or expired): register again",
  STALE_REQUEST: "The request id is older than the responses the session still remembers",
};

/** Stable wire numbers (1-based position in errorCodes). */
export const errorCodeNumber: Readonly<Record<ErrorCode, number>> = Object.fromEntries(
  errorCodes.map((code, i) => [code, i + 1]),
) as Record<ErrorCode, number>;

export interface Ok<T> {
  readonly ok: true;
  readonly value: T;
}

export interface Err {
  readonly ok: false;
  readonly code: ErrorCode;
  readonly message: string;
}

export type Result<T> = Ok<T> | Err;

export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

export function err(code: ErrorCode, message: string): Err {
  return { ok: false, code, message };
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" && (errorCodes as readonly string[]).includes(value);
}
