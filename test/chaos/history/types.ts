// The chaos-test history: one event per line (JSONL), Jepsen style. Every operation a client
// performs appears as an `invoke` followed (from the same process) by exactly one completion:
//
//   ok    the operation took effect (writes) / returned this value (reads);
//   fail  the operation certainly did NOT take effect (see `classifyError`);
//   info  indefinite: it may have taken effect at any time after the invoke, or never.
//
// A process has at most one operation outstanding. A process whose operation ended `info` is
// retired (its operation stays pending forever, as in Jepsen); the harness continues with a fresh
// process id. `index` is the position in the history and is the checkers' clock: the recorder
// appends an invoke before the request is sent and a completion after the response arrived, so
// "a.index < b.index" is a real-time order. `time` (monotonic ns since the recorder started) is
// informational (latencies, correlating with the fault schedule and replica logs).

import { status as GrpcStatus } from "@grpc/grpc-js";
import { type ErrorCode, errorCodes } from "../../../src/statemachine/index.js";

export type EventType = "invoke" | "ok" | "fail" | "info";

export const opNames = [
  "CreatePort",
  "DeletePort",
  "AttachPort",
  "DetachPort",
  "GetPort",
  "ListPorts",
  "CreateSnat",
  "DeleteSnat",
  "GetSnat",
  "CreateDnat",
  "DeleteDnat",
  "ListDnats",
  "CreateVpc",
  "DeleteVpc",
  "CreateSubnet",
  "DeleteSubnet",
] as const;

export type OpName = (typeof opNames)[number];

/** Operations without effects: a failed or indefinite read is simply `fail`. */
export const readOps: ReadonlySet<OpName> = new Set<OpName>([
  "GetPort",
  "ListPorts",
  "GetSnat",
  "ListDnats",
]);

export interface EventError {
  /** Domain code (IP_ALREADY_ALLOCATED, NO_LEADER …) or the gRPC status name. */
  code: string;
  /** gRPC status code. */
  grpcCode: number;
  message?: string;
  /** The client threw OutcomeUnknownError. */
  outcomeUnknown?: boolean;
}

export interface HistoryEvent {
  /** 0-based position in the history (assigned by the recorder; checked by the reader). */
  index: number;
  type: EventType;
  /** Client (logical process) id. */
  process: string;
  op: OpName;
  /** Request arguments (on invoke; completions may repeat them). */
  args?: Record<string, unknown>;
  /** Result value on `ok` (the response message as plain JSON). */
  value?: unknown;
  /** The error on `fail` / `info`. */
  error?: EventError;
  /** Monotonic nanoseconds since the recorder started. */
  time: number;
}

/**
 * Domain codes computed by the state machine's apply: a write rejected with one of these was
 * applied as a rejection, and because writes go through a client session (client_id, request_id
 * reused across retries, responses remembered), an earlier attempt of the same request cannot have
 * succeeded: the retry would have returned the remembered success. So these are definite.
 * Excluded on purpose: SESSION_EXPIRED / STALE_REQUEST (the session forgot earlier attempts),
 * NOT_BOOTSTRAPPED and OVN_CONNECTION_FAILED (not per-request outcomes).
 */
const notDefinite: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "SESSION_EXPIRED",
  "STALE_REQUEST",
  "NOT_BOOTSTRAPPED",
  "OVN_CONNECTION_FAILED",
]);
export const definiteDomainCodes: ReadonlySet<string> = new Set(
  errorCodes.filter((c) => !notDefinite.has(c)),
);

export interface ClassifyOptions {
  /**
   * The caller knows the request never left the client (e.g. `neverSent(err)` from
   * src/client/errors.ts, or the client's "not sent: … still in flight" window refusal).
   */
  notSent?: boolean;
}

/**
 * How a write's error completes the history: `fail` only when the write certainly was not
 * applied, else `info`.
 *
 * - OutcomeUnknownError (`outcomeUnknown`) → info, always.
 * - A domain code from `definiteDomainCodes` → fail (see there why retries don't change that).
 * - Everything else → info: UNAVAILABLE / NO_LEADER, DEADLINE_EXCEEDED / TIMEOUT, OVERLOADED,
 *   INTERNAL, UNKNOWN, CANCELLED, UNAUTHENTICATED / PERMISSION_DENIED (an earlier attempt of the
 *   retried request may have been applied before the refusal), SESSION_EXPIRED, STALE_REQUEST.
 * - …unless `notSent`: nothing left the client → fail. The client's own window refusal
 *   ("not sent: …", DEADLINE_EXCEEDED) and grpc-js "No connection established" are recognised.
 *
 * Reads have no effect: the recorder completes every failed read with `fail`.
 */
export function classifyError(
  op: OpName,
  error: EventError,
  opts: ClassifyOptions = {},
): "fail" | "info" {
  if (readOps.has(op)) return "fail";
  if (error.outcomeUnknown === true) return "info";
  if (opts.notSent === true) return "fail";
  const message = error.message ?? "";
  if (error.grpcCode === GrpcStatus.DEADLINE_EXCEEDED && /^not sent: /.test(message)) return "fail";
  if (
    error.grpcCode === GrpcStatus.UNAVAILABLE &&
    error.code === "UNAVAILABLE" &&
    /^No connection established/.test(message)
  ) {
    return "fail";
  }
  return definiteDomainCodes.has(error.code) ? "fail" : "info";
}

/** An EventError from anything thrown (a NovanetError / OutcomeUnknownError or another Error). */
export function eventErrorOf(e: unknown): EventError {
  if (typeof e === "object" && e !== null) {
    const o = e as Record<string, unknown>;
    if (typeof o.code === "string" && typeof o.grpcCode === "number") {
      return {
        code: o.code,
        grpcCode: o.grpcCode,
        ...(typeof o.message === "string" ? { message: o.message } : {}),
        ...(o.outcomeUnknown === true ? { outcomeUnknown: true } : {}),
      };
    }
  }
  return {
    code: "UNKNOWN",
    grpcCode: GrpcStatus.UNKNOWN,
    message: e instanceof Error ? e.message : String(e),
  };
}
