// Connections, leader following and the retry loop shared by NetworkClient and ClusterClient.
// One grpc-js channel per replica address (including leader addresses learned from metadata);
// every call carries the bearer token and a deadline; retryable failures are retried with
// exponential backoff and jitter, rotating endpoints and following leader hints.
import {
  type ChannelOptions,
  Client,
  type ClientReadableStream,
  credentials,
  status as GrpcStatus,
  Metadata,
  type StatusObject,
} from "@grpc/grpc-js";
import { appliedIndexMetadata } from "../api/protocol.js";
import { isRetryable, leaderOf, NovanetError, neverSent, toNovanetError } from "./errors.js";

export type TokenSource = string | (() => string | Promise<string>);

export interface TlsOptions {
  /** PEM of the CA that signed the replicas' certificates (default: the system roots). */
  ca?: string | Uint8Array | undefined;
  /** PEM client certificate and key for mutual TLS. */
  cert?: string | Uint8Array | undefined;
  key?: string | Uint8Array | undefined;
}

export interface RetryOptions {
  /** Attempts per logical call, including the first (default 6). */
  attemptsMax: number;
  /** Backoff before the first retry; doubles per retry up to backoffMsMax (defaults 50, 2000). */
  backoffMsMin: number;
  backoffMsMax: number;
}

export type ReadFrom = "leader" | "any";

export interface TransportOptions {
  /** Replica client API addresses, "host:port" (an http:// or https:// prefix is accepted). */
  endpoints: string[];
  /** Bearer token sent as `authorization: Bearer <token>`; a function is called for every attempt. */
  token?: TokenSource | undefined;
  /** Use TLS (otherwise plaintext). */
  tls?: TlsOptions | undefined;
  /** Overall deadline of one logical call, retries included (default 10 000 ms). */
  deadlineMs?: number | undefined;
  /** Deadline of one attempt (default min(deadlineMs / 2, 5 000 ms)); a hung replica is retried elsewhere. */
  attemptTimeoutMs?: number | undefined;
  retry?: Partial<RetryOptions> | undefined;
  /** Where reads go: the last known leader, or the first reachable endpoint in the given order (default "any"). */
  readFrom?: ReadFrom | undefined;
  /**
   * Follow leader addresses named by replicas even when they are not among `endpoints` (default
   * true). Set false when replicas advertise addresses this client cannot reach (NAT, proxies):
   * writes then go to the configured endpoints and followers forward them.
   */
  followLeaderHints?: boolean | undefined;
  /** Extra grpc-js channel options (e.g. "grpc.ssl_target_name_override"). */
  channelOptions?: ChannelOptions | undefined;
}

/** Per-call options accepted by every client method. */
export interface CallOptions {
  /** Overall deadline of this call (overrides the client's deadlineMs). */
  deadlineMs?: number | undefined;
  /** Reads only: overrides the client's readFrom. */
  readFrom?: ReadFrom | undefined;
  /** Send the call to this endpoint only (no rotation, no leader following). */
  endpoint?: string | undefined;
  /** Overrides the client's token for this call. */
  token?: TokenSource | undefined;
  /** Called once with details of the successful attempt. */
  onResponse?: ((info: ResponseInfo) => void) | undefined;
}

export interface ResponseInfo {
  /** The endpoint that answered. */
  endpoint: string;
  /** Attempts made (1 = no retry). */
  attempts: number;
  /** Reads: the replica's applied index the answer reflects (`x-novanet-applied-index`). */
  appliedIndex: number | undefined;
  /** The leader address named in the response metadata, if any. */
  leader: string | undefined;
}

/** What grpc-js needs to issue one unary call; the generated service definitions provide it. */
export interface UnaryMethod<Req, Res> {
  path: string;
  requestSerialize(value: Req): Buffer;
  responseDeserialize(value: Buffer): Res;
}

export const defaultDeadlineMs = 10_000;
export const defaultRetry: RetryOptions = { attemptsMax: 6, backoffMsMin: 50, backoffMsMax: 2_000 };

export function normalizeEndpoint(address: string): string {
  return address
    .trim()
    .replace(/^(?:https?|grpcs?):\/\//, "")
    .replace(/\/+$/, "");
}

function toBuffer(v: string | Uint8Array | undefined): Buffer | null {
  if (v === undefined) return null;
  return typeof v === "string" ? Buffer.from(v) : Buffer.from(v);
}

function invalid(message: string): NovanetError {
  return new NovanetError({
    code: "INVALID_ARGUMENT",
    grpcCode: GrpcStatus.INVALID_ARGUMENT,
    message,
  });
}

function positive(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isFinite(v) || v <= 0) throw invalid(`${name} must be a positive number`);
  return v;
}

/** How a logical call is routed and retried. */
export interface Plan<T> {
  /** "leader": the last known leader (writes, readFrom=leader); "any": the current endpoint. */
  route: ReadFrom;
  /** Retry DEADLINE_EXCEEDED and broken connections (safe only for reads and idempotent writes). */
  retryUnknownOutcome: boolean;
  options?: CallOptions | undefined;
  /** Overrides the client's per-attempt timeout (e.g. for a long backup stream). */
  attemptTimeoutMs?: number | undefined;
  /** Performs one attempt against `endpoint` within `deadline`. */
  attempt(endpoint: string, deadline: Date, metadata: Metadata): Promise<Attempted<T>>;
}

export interface Attempted<T> {
  value: T;
  headers?: Metadata | undefined;
  trailers?: Metadata | undefined;
}

/** Failure of a logical call after the retry loop: the last error and what was tried. */
export interface RunFailure {
  error: NovanetError;
  /** Attempts that may have reached a replica (and so may have been applied). */
  attemptsSent: number;
  /** The error was retryable but attempts or time ran out. */
  exhausted: boolean;
}

export class RunError extends Error {
  constructor(readonly failure: RunFailure) {
    super(failure.error.message);
  }
}

export class Transport {
  readonly endpoints: readonly string[];
  readonly deadlineMs: number;
  readonly attemptTimeoutMs: number;
  private readonly retry: RetryOptions;
  private readonly readFrom: ReadFrom;
  private readonly token: TokenSource | undefined;
  private readonly creds;
  private readonly channelOptions: ChannelOptions;
  private readonly followLeaderHints: boolean;
  private readonly clients = new Map<string, Client>();
  private leaderAddress: string | undefined;
  private cursor = 0;
  private closed = false;
  /** Jitter source; tests may replace it. */
  random: () => number = Math.random;

  constructor(opts: TransportOptions) {
    const endpoints = (opts.endpoints ?? []).map(normalizeEndpoint).filter((e) => e !== "");
    if (endpoints.length === 0) throw invalid("at least one endpoint is required");
    this.endpoints = [...new Set(endpoints)];
    this.deadlineMs = positive("deadlineMs", opts.deadlineMs, defaultDeadlineMs);
    this.attemptTimeoutMs = positive(
      "attemptTimeoutMs",
      opts.attemptTimeoutMs,
      Math.min(Math.max(this.deadlineMs / 2, 1), 5_000),
    );
    const retry = { ...defaultRetry };
    if (opts.retry?.attemptsMax !== undefined) retry.attemptsMax = opts.retry.attemptsMax;
    if (opts.retry?.backoffMsMin !== undefined) retry.backoffMsMin = opts.retry.backoffMsMin;
    if (opts.retry?.backoffMsMax !== undefined) retry.backoffMsMax = opts.retry.backoffMsMax;
    if (!Number.isInteger(retry.attemptsMax) || retry.attemptsMax < 1) {
      throw invalid("retry.attemptsMax must be an integer >= 1");
    }
    if (retry.backoffMsMin < 0 || retry.backoffMsMax < retry.backoffMsMin) {
      throw invalid("retry: need 0 <= backoffMsMin <= backoffMsMax");
    }
    this.retry = retry;
    this.readFrom = opts.readFrom ?? "any";
    if (this.readFrom !== "any" && this.readFrom !== "leader") {
      throw invalid('readFrom must be "leader" or "any"');
    }
    this.token = opts.token;
    this.creds =
      opts.tls === undefined
        ? credentials.createInsecure()
        : credentials.createSsl(
            toBuffer(opts.tls.ca),
            toBuffer(opts.tls.key),
            toBuffer(opts.tls.cert),
          );
    this.channelOptions = { ...opts.channelOptions };
    this.followLeaderHints = opts.followLeaderHints ?? true;
  }

  /** The last known leader's client API address. */
  get leader(): string | undefined {
    return this.leaderAddress;
  }

  get defaultReadFrom(): ReadFrom {
    return this.readFrom;
  }

  /** The grpc-js client (channel) for an address, created on first use. */
  client(endpoint: string): Client {
    if (this.closed) {
      throw new NovanetError({
        code: "CANCELLED",
        grpcCode: GrpcStatus.CANCELLED,
        message: "client is closed",
      });
    }
    let c = this.clients.get(endpoint);
    if (c === undefined) {
      c = new Client(endpoint, this.creds, this.channelOptions);
      this.clients.set(endpoint, c);
    }
    return c;
  }

  close(): void {
    this.closed = true;
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  async metadata(token: TokenSource | undefined): Promise<Metadata> {
    const md = new Metadata();
    const source = token ?? this.token;
    if (source === undefined) return md;
    let value: string;
    try {
      value = typeof source === "string" ? source : await source();
    } catch (e) {
      throw new NovanetError({
        code: "UNAUTHENTICATED",
        grpcCode: GrpcStatus.UNAUTHENTICATED,
        message: `token provider failed: ${e instanceof Error ? e.message : String(e)}`,
        cause: e,
      });
    }
    value = value.trim();
    if (value !== "") md.set("authorization", /^bearer /i.test(value) ? value : `Bearer ${value}`);
    return md;
  }

  /** One unary call; resolves with the response and the response's header and trailer metadata. */
  unary<Req, Res>(
    method: UnaryMethod<Req, Res>,
    request: Req,
    endpoint: string,
    deadline: Date,
    metadata: Metadata,
  ): Promise<Attempted<Res>> {
    const client = this.client(endpoint);
    return new Promise((resolve, reject) => {
      let headers: Metadata | undefined;
      let trailers: Metadata | undefined;
      let result: { ok: true; value: Res } | { ok: false; error: unknown } | undefined;
      let done = false;
      const finish = () => {
        if (done || result === undefined || trailers === undefined) return;
        done = true;
        if (result.ok) resolve({ value: result.value, headers, trailers });
        else reject(toNovanetError(result.error, endpoint));
      };
      const call = client.makeUnaryRequest(
        method.path,
        (v: Req) => method.requestSerialize(v),
        (b: Buffer) => method.responseDeserialize(b),
        request,
        metadata,
        { deadline },
        (err, value) => {
          result = err ? { ok: false, error: err } : { ok: true, value: value as Res };
          // grpc-js emits 'status' (with the trailers) right after this callback returns.
          process.nextTick(() => {
            trailers ??= err?.metadata ?? new Metadata();
            finish();
          });
        },
      );
      call.on("metadata", (md: Metadata) => {
        headers = md;
      });
      call.on("status", (s: StatusObject) => {
        trailers = s.metadata;
        finish();
      });
    });
  }

  /** One server-streaming call. */
  serverStream<Req, Res>(
    method: UnaryMethod<Req, Res>,
    request: Req,
    endpoint: string,
    deadline: Date,
    metadata: Metadata,
  ): ClientReadableStream<Res> {
    return this.client(endpoint).makeServerStreamRequest(
      method.path,
      (v: Req) => method.requestSerialize(v),
      (b: Buffer) => method.responseDeserialize(b),
      request,
      metadata,
      { deadline },
    );
  }

  private target(route: ReadFrom): string {
    if (route === "leader" && this.leaderAddress !== undefined) return this.leaderAddress;
    return this.endpoints[this.cursor % this.endpoints.length]!;
  }

  /** Records a leader address named by a replica; true if it is now the leader to use. */
  learnLeader(address: string | undefined): boolean {
    if (address === undefined || address === "") return false;
    const a = normalizeEndpoint(address);
    if (!this.followLeaderHints && !this.endpoints.includes(a)) return false;
    this.leaderAddress = a;
    return true;
  }

  /** After a failed attempt at `endpoint`: forget it as leader, move the cursor past it. */
  private failed(endpoint: string): void {
    if (this.leaderAddress === endpoint) this.leaderAddress = undefined;
    if (this.endpoints[this.cursor % this.endpoints.length] === endpoint) {
      this.cursor = (this.cursor + 1) % this.endpoints.length;
    }
  }

  private backoff(retryNumber: number): number {
    const { backoffMsMin: min, backoffMsMax: max } = this.retry;
    const cap = Math.min(max, min * 2 ** (retryNumber - 1));
    return min + this.random() * Math.max(0, cap - min);
  }

  /** Runs a logical call: attempts, leader following, backoff, overall deadline. */
  async run<T>(plan: Plan<T>): Promise<T> {
    const opts = plan.options ?? {};
    const deadlineMs = positive("deadlineMs", opts.deadlineMs, this.deadlineMs);
    const overall = Date.now() + deadlineMs;
    const pinned = opts.endpoint === undefined ? undefined : normalizeEndpoint(opts.endpoint);
    let attempts = 0;
    let attemptsSent = 0;
    for (;;) {
      const endpoint = pinned ?? this.target(plan.route);
      const metadata = await this.metadata(opts.token);
      const perAttempt = plan.attemptTimeoutMs ?? this.attemptTimeoutMs;
      const attemptDeadline = new Date(Math.min(Date.now() + perAttempt, overall));
      attempts++;
      let err: NovanetError;
      try {
        const r = await plan.attempt(endpoint, attemptDeadline, metadata);
        const leader = leaderOf(r.headers) ?? leaderOf(r.trailers);
        if (pinned === undefined) {
          // A write that succeeded without naming another leader was served by the leader (or a
          // forwarding replica we may keep using).
          if (!this.learnLeader(leader) && plan.route === "leader") this.leaderAddress ??= endpoint;
        }
        if (opts.onResponse !== undefined) {
          const applied = Number(
            r.headers?.get(appliedIndexMetadata)[0] ?? r.trailers?.get(appliedIndexMetadata)[0],
          );
          opts.onResponse({
            endpoint,
            attempts,
            appliedIndex: Number.isFinite(applied) ? applied : undefined,
            leader,
          });
        }
        return r.value;
      } catch (e) {
        err = toNovanetError(e, endpoint);
      }
      if (!neverSent(err)) attemptsSent++;
      const retryable =
        isRetryable(err) &&
        (plan.retryUnknownOutcome || err.grpcCode === GrpcStatus.UNAVAILABLE || neverSent(err));
      if (!retryable) throw new RunError({ error: err, attemptsSent, exhausted: false });

      let delay: number;
      const hint = err.leader === undefined ? undefined : normalizeEndpoint(err.leader);
      if (
        pinned === undefined &&
        hint !== undefined &&
        hint !== endpoint &&
        this.learnLeader(hint)
      ) {
        // Redirected to the leader: go there at once (unless the replica asked us to wait).
        delay = err.retryAfterMs ?? 0;
      } else {
        if (pinned === undefined) this.failed(endpoint);
        delay = Math.max(this.backoff(attempts), err.retryAfterMs ?? 0);
      }
      if (attempts >= this.retry.attemptsMax || Date.now() + delay >= overall) {
        throw new RunError({ error: err, attemptsSent, exhausted: true });
      }
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    }
  }
}
