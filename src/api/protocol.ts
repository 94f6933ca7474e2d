// Conventions shared by the server (src/rpc) and the client library (src/client) beyond the
// generated messages: metadata keys and the domain error codes carried in statuses.

/** Trailing metadata on every error: the domain code (e.g. IP_ALREADY_ALLOCATED). */
export const errorCodeMetadata = "x-novanet-error-code";
/** The leader's client API address (host:port), on forwarded writes and UNAVAILABLE errors. */
export const leaderAddressMetadata = "x-novanet-leader";
export const leaderIdMetadata = "x-novanet-leader-id";
/** On reads: the replica's applied log index the answer reflects. */
export const appliedIndexMetadata = "x-novanet-applied-index";
/** On UNAVAILABLE: how long to wait before retrying (an election is probably in progress). */
export const retryAfterMetadata = "x-novanet-retry-after-ms";
/** A caller's request id, echoed in the response and carried in every server log line. */
export const requestIdMetadata = "x-request-id";

/**
 * Codes the RPC layer adds to the state machine's (which are listed in
 * src/statemachine/errors.ts and repeated in docs/api.md).
 */
export const rpcErrorCodes = [
  "UNAUTHENTICATED",
  "PERMISSION_DENIED",
  "NO_LEADER",
  "TIMEOUT",
  "OVERLOADED",
  "INTERNAL",
] as const;

/**
 * A status message is "<DOMAIN_CODE>: <human text>"; this recovers the code from a message when
 * metadata is unavailable.
 */
export function domainCodeOf(message: string): string | undefined {
  const m = /^([A-Z][A-Z0-9_]+): /.exec(message);
  return m?.[1];
}
