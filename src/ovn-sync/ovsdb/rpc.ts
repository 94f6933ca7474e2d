/**
 * JSON-RPC 1.0 session over one byte stream (RFC 7047 §4): request ids,
 * per-request timeouts, a bounded number of requests in flight plus a bounded
 * wait queue, answers to the server's `echo`, and an inactivity probe (our own
 * `echo`) that closes a dead connection.
 */

import { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import { DEFAULT_MESSAGE_BYTES_MAX, JsonStreamParser } from "./framing.js";

export class OvsdbRpcError extends Error {
  override readonly name = "OvsdbRpcError";
  constructor(
    readonly method: string,
    /** The JSON-RPC `error` member as the server sent it. */
    readonly rpcError: unknown,
  ) {
    super(`${method}: ${describeRpcError(rpcError)}`);
  }
  /** The OVSDB error string, e.g. "unknown method", "unknown database". */
  get error(): string | undefined {
    const e = this.rpcError;
    if (typeof e === "string") return e;
    if (
      typeof e === "object" &&
      e !== null &&
      typeof (e as { error?: unknown }).error === "string"
    ) {
      return (e as { error: string }).error;
    }
    return undefined;
  }
}

export class OvsdbConnectionError extends Error {
  override readonly name = "OvsdbConnectionError";
}

export class OvsdbTimeoutError extends Error {
  override readonly name = "OvsdbTimeoutError";
}

export class OvsdbOverloadError extends Error {
  override readonly name = "OvsdbOverloadError";
}

function describeRpcError(e: unknown): string {
  if (typeof e === "string") return e;
  if (typeof e === "object" && e !== null) {
    const o = e as { error?: unknown; details?: unknown };
    if (typeof o.error === "string") {
      return typeof o.details === "string" ? `${o.error} (${o.details})` : o.error;
    }
  }
  return JSON.stringify(e);
}

export interface RpcSessionOptions {
  readonly messageBytesMax?: number;
  /** Requests sent and awaiting a reply. */
  readonly inFlightMax?: number;
  /** Requests waiting for an in-flight slot; beyond this, requests are refused. */
  readonly queuedMax?: number;
  /** Default per-request timeout (covers queueing time). */
  readonly requestTimeoutMs?: number;
  /** Send our `echo` after this much receive silence; close if it gets no answer in the same time. 0 disables. */
  readonly inactivityProbeMs?: number;
  /** Refuse to write when the socket already buffers more than this. */
  readonly writeBufferedBytesMax?: number;
}

export interface RpcSessionEvents {
  notification: [method: string, params: unknown[]];
  close: [error: Error | undefined];
}

interface Pending {
  readonly id: number;
  readonly method: string;
  readonly params: unknown[];
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout | undefined;
  sent: boolean;
}

export interface RpcStats {
  requestsSent: number;
  echoRequestsAnswered: number;
  probesSent: number;
  bytesReceived: number;
}

export class RpcSession extends EventEmitter<RpcSessionEvents> {
  private readonly parser: JsonStreamParser;
  private readonly inFlightMax: number;
  private readonly queuedMax: number;
  private readonly requestTimeoutMs: number;
  private readonly probeMs: number;
  private readonly writeBufferedBytesMax: number;
  private nextId = 1;
  private readonly inFlight = new Map<number, Pending>();
  private readonly queue: Pending[] = [];
  private closed = false;
  private lastReceive = Date.now();
  private probeTimer: NodeJS.Timeout | undefined;
  private probeOutstanding = false;
  readonly stats: RpcStats = {
    requestsSent: 0,
    echoRequestsAnswered: 0,
    probesSent: 0,
    bytesReceived: 0,
  };

  constructor(
    private readonly stream: Duplex,
    options: RpcSessionOptions = {},
  ) {
    super();
    this.parser = new JsonStreamParser({
      messageBytesMax: options.messageBytesMax ?? DEFAULT_MESSAGE_BYTES_MAX,
    });
    this.inFlightMax = options.inFlightMax ?? 64;
    this.queuedMax = options.queuedMax ?? 1024;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.probeMs = options.inactivityProbeMs ?? 10_000;
    this.writeBufferedBytesMax = options.writeBufferedBytesMax ?? 64 * 1024 * 1024;
    stream.on("data", (chunk: Buffer) => this.onData(chunk));
    stream.on("error", (err) => this.close(err));
    stream.on("close", () => this.close(new OvsdbConnectionError("connection closed")));
    stream.on("end", () => this.close(new OvsdbConnectionError("connection closed by peer")));
    if (this.probeMs > 0) {
      this.probeTimer = setInterval(() => this.probe(), Math.max(10, Math.floor(this.probeMs / 4)));
      this.probeTimer.unref();
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  request(method: string, params: unknown[], timeoutMs?: number): Promise<unknown> {
    if (this.closed) return Promise.reject(new OvsdbConnectionError("not connected"));
    return new Promise<unknown>((resolve, reject) => {
      const p: Pending = {
        id: this.nextId++,
        method,
        params,
        resolve,
        reject,
        timer: undefined,
        sent: false,
      };
      const t = timeoutMs ?? this.requestTimeoutMs;
      if (t > 0) {
        p.timer = setTimeout(() => {
          this.forget(p);
          reject(new OvsdbTimeoutError(`${method}: no reply within ${t} ms`));
        }, t);
      }
      if (this.inFlight.size < this.inFlightMax) this.send(p);
      else if (this.queue.length < this.queuedMax) this.queue.push(p);
      else {
        if (p.timer) clearTimeout(p.timer);
        reject(
          new OvsdbOverloadError(
            `${method}: ${this.inFlightMax} requests in flight and ${this.queuedMax} queued`,
          ),
        );
      }
    });
  }

  close(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    if (this.probeTimer) clearInterval(this.probeTimer);
    const e = err ?? new OvsdbConnectionError("connection closed");
    const all = [...this.inFlight.values(), ...this.queue];
    this.inFlight.clear();
    this.queue.length = 0;
    for (const p of all) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(e);
    }
    this.stream.destroy();
    this.emit("close", err);
  }

  private forget(p: Pending): void {
    if (p.sent) {
      this.inFlight.delete(p.id);
      this.pump();
    } else {
      const i = this.queue.indexOf(p);
      if (i >= 0) this.queue.splice(i, 1);
    }
  }

  private send(p: Pending): void {
    if (this.stream.writableLength > this.writeBufferedBytesMax) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(new OvsdbOverloadError(`${p.method}: write buffer full`));
      return;
    }
    p.sent = true;
    this.inFlight.set(p.id, p);
    this.stats.requestsSent++;
    this.write({ method: p.method, params: p.params, id: p.id });
  }

  private pump(): void {
    while (this.inFlight.size < this.inFlightMax && this.queue.length > 0) {
      this.send(this.queue.shift()!);
    }
  }

  private write(msg: unknown): void {
    if (this.closed) return;
    this.stream.write(JSON.stringify(msg));
  }

  private onData(chunk: Buffer): void {
    this.lastReceive = Date.now();
    this.probeOutstanding = false;
    this.stats.bytesReceived += chunk.length;
    let messages: unknown[];
    try {
      messages = this.parser.feed(chunk);
    } catch (err) {
      this.close(err as Error);
      return;
    }
    for (const m of messages) {
      if (this.closed) return;
      this.dispatch(m);
    }
  }

  private dispatch(m: unknown): void {
    if (typeof m !== "object" || m === null || Array.isArray(m)) {
      this.close(new OvsdbConnectionError("protocol error: message is not an object"));
      return;
    }
    const msg = m as {
      id?: unknown;
      method?: unknown;
      params?: unknown;
      result?: unknown;
      error?: unknown;
    };
    if (typeof msg.method === "string") {
      const params = Array.isArray(msg.params) ? msg.params : [];
      if (msg.id === null || msg.id === undefined) {
        this.emit("notification", msg.method, params);
      } else if (msg.method === "echo") {
        this.stats.echoRequestsAnswered++;
        this.write({ id: msg.id, result: params, error: null });
      } else {
        this.write({ id: msg.id, result: null, error: { error: "unknown method" } });
      }
      return;
    }
    if (typeof msg.id !== "number") return; // a reply to nothing we sent
    const p = this.inFlight.get(msg.id);
    if (!p) return; // timed out earlier
    this.inFlight.delete(msg.id);
    if (p.timer) clearTimeout(p.timer);
    if (msg.error !== null && msg.error !== undefined)
      p.reject(new OvsdbRpcError(p.method, msg.error));
    else p.resolve(msg.result);
    this.pump();
  }

  private probe(): void {
    if (this.closed) return;
    const idle = Date.now() - this.lastReceive;
    if (idle < this.probeMs) return;
    if (this.probeOutstanding) {
      if (idle >= 2 * this.probeMs) {
        this.close(new OvsdbConnectionError(`inactivity probe: no data for ${idle} ms`));
      }
      return;
    }
    this.probeOutstanding = true;
    this.stats.probesSent++;
    // The reply (or any other data) clears probeOutstanding; no timeout of its own.
    this.request("echo", ["novanet-probe"], 0).catch(() => {});
  }
}
