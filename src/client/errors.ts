// Errors surfaced by the client library. Every failure of a call — a status from a replica, a
// deadline, a connection problem — becomes a NovanetError carrying the domain code.
import { status as GrpcStatus, type Metadata, type ServiceError } from "@grpc/grpc-js";
import {
  domainCodeOf,
  errorCodeMetadata,
  leaderAddressMetadata,
  retryAfterMetadata,
} from "../api/protocol.js";

export interface NovanetErrorInit {
  /** Domain code ("IP_ALREADY_ALLOCATED", "NO_LEADER", …) or, when the server sent none, the gRPC status name. */
  code: string;
  /** The gRPC status code (see `status` in @grpc/grpc-js). */
  grpcCode: number;
  /** Human text, without the "CODE: " prefix. */
  message: string;
  /** The leader's client API address when the replica named it (`x-novanet-leader`). */
  leader?: string | undefined;
  /** The replica's hint how long to wait before retrying (`x-novanet-retry-after-ms`). */
  retryAfterMs?: number | undefined;
  /** The endpoint that produced the error (the last one tried). */
  endpoint?: string | undefined;
  cause?: unknown;
}

/** A failed NovaNET call. `code` is the domain code; `message` carries no stack trace. */
export class NovanetError extends Error {
  override name = "NovanetError";
  readonly code: string;
  readonly grpcCode: number;
  readonly leader: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly endpoint: string | undefined;

  constructor(init: NovanetErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.code = init.code;
    this.grpcCode = init.grpcCode;
    this.leader = init.leader;
    this.retryAfterMs = init.retryAfterMs;
    this.endpoint = init.endpoint;
  }

  /** The gRPC status name, e.g. "UNAVAILABLE". */
  get grpcStatus(): string {
    return GrpcStatus[this.grpcCode] ?? String(this.grpcCode);
  }

  /** "CODE: message", as the CLI prints it. */
  override toString(): string {
    return `${this.code}: ${this.message}`;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      grpcCode: this.grpcCode,
      message: this.message,
      ...(this.leader !== undefined ? { leader: this.leader } : {}),
      ...(this.endpoint !== undefined ? { endpoint: this.endpoint } : {}),
    };
  }
}

/**
 * A write whose outcome is unknown: it may or may not have been applied. Thrown when the client
 * session expired after the request had already been sent (the server no longer remembers the
 * result, so a retry could apply it twice), and when a write gave up after retries during which
 * it may have reached the leader. Re-read the state to find out (e.g. list ports by vm_id).
 * `code` is the code of the last failure.
 */
export class OutcomeUnknownError extends NovanetError {
  override name = "OutcomeUnknownError";
  readonly outcomeUnknown = true;
  /** The request's idempotency key (client_id, request_id). */
  readonly clientId: string;
  readonly requestId: number;

  constructor(last: NovanetError, clientId: string, requestId: number, why: string) {
    super({
      code: last.code,
      grpcCode: last.grpcCode,
      message: `outcome unknown (${why}): ${last.message}`,
      leader: last.leader,
      retryAfterMs: last.retryAfterMs,
      endpoint: last.endpoint,
      cause: last,
    });
    this.clientId = clientId;
    this.requestId = requestId;
  }
}

function isServiceError(e: unknown): e is ServiceError {
  return (
    e instanceof Error &&
    typeof (e as Partial<ServiceError>).code === "number" &&
    "details" in e &&
    "metadata" in e
  );
}

function metaString(md: Metadata | undefined, key: string): string | undefined {
  const v = md?.get(key)[0];
  if (v === undefined) return undefined;
  const s = typeof v === "string" ? v : v.toString("utf8");
  return s === "" ? undefined : s;
}

/** The leader address named in metadata, if any. */
export function leaderOf(md: Metadata | undefined): string | undefined {
  return metaString(md, leaderAddressMetadata);
}

/** Removes anything that looks like a stack trace from a server's or library's message. */
function cleanMessage(text: string): string {
  const lines = text.split("\n").filter((l) => !/^\s+at\s/.test(l));
  return lines
    .join("\n")
    .replace(/\s*Resolution note:\s*$/, "")
    .trim();
}

/** Converts anything thrown by grpc-js (or our own code) into a NovanetError. */
export function toNovanetError(e: unknown, endpoint?: string): NovanetError {
  if (e instanceof NovanetError) return e;
  if (isServiceError(e)) {
    const details = cleanMessage(e.details ?? "");
    const fromMeta = metaString(e.metadata, errorCodeMetadata);
    const fromText = domainCodeOf(details);
    const code = fromMeta ?? fromText ?? GrpcStatus[e.code] ?? "UNKNOWN";
    let message = details;
    if (fromText !== undefined && details.startsWith(`${fromText}: `)) {
      message = details.slice(fromText.length + 2);
    }
    const retryAfter = Number(metaString(e.metadata, retryAfterMetadata));
    return new NovanetError({
      code,
      grpcCode: e.code,
      message: message === "" ? (GrpcStatus[e.code] ?? "error") : message,
      leader: leaderOf(e.metadata),
      retryAfterMs: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : undefined,
      endpoint,
    });
  }
  const text = e instanceof Error ? e.message : String(e);
  return new NovanetError({
    code: "INTERNAL",
    grpcCode: GrpcStatus.INTERNAL,
    message: cleanMessage(text),
    endpoint,
    cause: e,
  });
}

/** True when grpc-js failed before the request left the client (nothing can have been applied). */
export function neverSent(err: NovanetError): boolean {
  return (
    err.grpcCode === GrpcStatus.UNAVAILABLE &&
    err.code === "UNAVAILABLE" &&
    /^No connection established/.test(err.message)
  );
}

/**
 * Errors after which another attempt may succeed: the replica is unavailable (no leader,
 * election, down), the attempt ran out of time, or the connection broke. Everything else
 * (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, RESOURCE_EXHAUSTED,
 * PERMISSION_DENIED, UNAUTHENTICATED, any domain error) is final.
 */
export function isRetryable(err: NovanetError): boolean {
  switch (err.grpcCode) {
    case GrpcStatus.UNAVAILABLE:
    case GrpcStatus.DEADLINE_EXCEEDED:
      return true;
    case GrpcStatus.INTERNAL:
    case GrpcStatus.UNKNOWN:
    case GrpcStatus.CANCELLED:
      // Transport failures (a reset stream, a dropped connection) carry no domain code.
      return (
        err.code === (GrpcStatus[err.grpcCode] ?? "") &&
        /RST_STREAM|Stream removed|Connection dropped|ECONNRESET|socket|GOAWAY|closed/i.test(
          err.message,
        )
      );
    default:
      return false;
  }
}
