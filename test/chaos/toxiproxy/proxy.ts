/**
 * A Toxiproxy-style TCP proxy: one listener, per-connection links (upstream = client→server,
 * downstream = server→client), each running the proxy's current toxic chain. Toxic changes are
 * pushed to live links, like Toxiproxy's ToxicCollection re-linking its chains.
 */
import net from "node:net";
import { performance } from "node:perf_hooks";
import {
  ApiError,
  attr,
  type StreamDirection,
  type ToxicJson,
  type ToxicSpec,
  toxicToJson,
} from "./toxics.js";

export interface ProxyLimits {
  /** Concurrent client connections per proxy; extra connections are closed at once. */
  readonly connectionsMax: number;
  /** Bytes a link buffers from its source before pausing it (backpressure). */
  readonly linkBufferBytesMax: number;
}

export interface ProxyContext {
  readonly rng: () => number;
  readonly limits: ProxyLimits;
}

export interface ProxyJson {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: ToxicJson[];
}

export function parseHostPort(address: string): { host: string; port: number } | null {
  const idx = address.lastIndexOf(":");
  if (idx < 0) return null;
  let host = address.slice(0, idx);
  const portText = address.slice(idx + 1);
  if (!/^\d+$/.test(portText)) return null;
  const port = Number(portText);
  if (port > 65535) return null;
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return { host, port };
}

function formatHostPort(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** How long a graceful close waits for buffered writes to flush before destroying. */
const CLOSE_FLUSH_MS_MAX = 5000;

interface Chunk {
  readonly data: Buffer;
  /** performance.now() when read from the source; latency is measured from here (as in Go). */
  readonly at: number;
}

/** Per-link state of one toxic. */
interface LinkToxic {
  spec: ToxicSpec;
  /** Decided once per link with the seeded RNG (toxicity). */
  applies: boolean;
  /** limit_data: bytes passed so far (kept across updates, like Go's stub.State). */
  transmitted: number;
  /** bandwidth: virtual clock of when the next byte may leave. */
  nextAt: number;
  /** reset_peer: armed by the first chunk. */
  armed: boolean;
  timer: NodeJS.Timeout | null;
}

class Link {
  private readonly queue: Chunk[] = [];
  private queuedBytes = 0;
  private srcEnded = false;
  private paused = false;
  /** The destination closed: nothing more can be delivered. */
  private dstGone = false;
  done = false;
  private readonly toxics = new Map<string, LinkToxic>();
  private wakers: Array<() => void> = [];

  constructor(
    private readonly conn: ProxyConnection,
    private readonly src: net.Socket,
    private readonly dst: net.Socket,
    readonly stream: StreamDirection,
    private readonly ctx: ProxyContext,
  ) {}

  start(): void {
    this.src.on("data", (data: Buffer) => this.push(data));
    this.src.on("end", () => this.markSrcEnded());
    this.src.on("close", () => this.markSrcEnded());
    this.dst.on("close", () => {
      this.dstGone = true;
      this.wake();
    });
    void this.run();
  }

  private push(data: Buffer): void {
    if (this.done) return;
    this.queue.push({ data, at: performance.now() });
    this.queuedBytes += data.length;
    if (this.queuedBytes >= this.ctx.limits.linkBufferBytesMax && !this.paused) {
      this.paused = true;
      this.src.pause();
    }
    this.wake();
  }

  /** Bytes held in user space for this direction: the link queue plus the destination's buffer. */
  get bufferedBytes(): number {
    return this.queuedBytes + this.dst.writableLength;
  }

  private markSrcEnded(): void {
    this.srcEnded = true;
    this.wake();
  }

  /** Wakes the pump (data, end, toxic change or close); loops re-check their conditions. */
  wake(): void {
    const wakers = this.wakers;
    this.wakers = [];
    for (const w of wakers) w();
  }

  private signal(): Promise<void> {
    return new Promise((resolve) => this.wakers.push(resolve));
  }

  private get stopped(): boolean {
    return this.conn.closed || this.dstGone;
  }

  setToxic(spec: ToxicSpec): void {
    if (spec.stream !== this.stream) return;
    const prev = this.toxics.get(spec.name);
    if (prev?.timer) clearTimeout(prev.timer);
    const lt: LinkToxic = {
      spec,
      applies: this.ctx.rng() < spec.toxicity,
      transmitted: prev?.spec.type === spec.type ? prev.transmitted : 0,
      nextAt: 0,
      armed: false,
      timer: null,
    };
    this.toxics.set(spec.name, lt);
    const timeoutMs = attr(spec, "timeout");
    if (lt.applies && spec.type === "timeout" && timeoutMs > 0) {
      lt.timer = setTimeout(() => this.conn.close(), timeoutMs);
    }
    this.wake();
  }

  removeToxic(name: string): void {
    const lt = this.toxics.get(name);
    if (!lt) return;
    if (lt.timer) clearTimeout(lt.timer);
    this.toxics.delete(name);
    this.wake();
  }

  clearTimers(): void {
    for (const lt of this.toxics.values()) {
      if (lt.timer) clearTimeout(lt.timer);
      lt.timer = null;
    }
    this.wake();
  }

  private activeChain(): LinkToxic[] {
    const chain: LinkToxic[] = [];
    for (const lt of this.toxics.values()) {
      if (lt.applies && lt.spec.type !== "timeout") chain.push(lt);
    }
    return chain;
  }

  private timedOut(): boolean {
    for (const lt of this.toxics.values()) {
      if (lt.applies && lt.spec.type === "timeout") return true;
    }
    return false;
  }

  private async run(): Promise<void> {
    try {
      for (;;) {
        while (this.queue.length === 0 && !this.srcEnded && !this.stopped) await this.signal();
        if (this.stopped) break;
        const chunk = this.queue.shift();
        if (chunk === undefined) {
          await this.finish();
          break;
        }
        this.queuedBytes -= chunk.data.length;
        if (this.paused && this.queuedBytes < this.ctx.limits.linkBufferBytesMax / 2) {
          this.paused = false;
          this.src.resume();
        }
        await this.emit(chunk.data, chunk.at, 0, this.activeChain());
      }
    } catch {
      this.conn.destroy();
    }
    this.done = true;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.conn.linkDone();
  }

  /** Source EOF: hold while a timeout toxic is active, apply slow_close, then half-close. */
  private async finish(): Promise<void> {
    await this.holdWhileTimedOut();
    for (const lt of this.activeChain()) {
      if (lt.spec.type === "slow_close") await this.sleep(attr(lt.spec, "delay"));
    }
    if (!this.stopped) this.dst.end();
  }

  private async holdWhileTimedOut(): Promise<void> {
    while (!this.stopped && this.timedOut()) await this.signal();
  }

  private async emit(data: Buffer, at: number, i: number, chain: LinkToxic[]): Promise<void> {
    if (this.stopped) return;
    const lt = chain[i];
    if (lt === undefined) {
      // The timeout toxic is checked at the sink so that adding it stops data at once,
      // whatever else the chain is doing; removing it flushes what was held (Go flushes
      // the removed stub's buffered input to the next stage).
      await this.holdWhileTimedOut();
      await this.write(data);
      return;
    }
    const spec = lt.spec;
    switch (spec.type) {
      case "latency": {
        const jitter = attr(spec, "jitter");
        const delay =
          attr(spec, "latency") +
          (jitter > 0 ? Math.floor(this.ctx.rng() * 2 * jitter) - jitter : 0);
        const wait = at + delay - performance.now();
        if (wait > 0) await this.sleep(wait);
        await this.emit(data, at, i + 1, chain);
        return;
      }
      case "bandwidth": {
        const rate = attr(spec, "rate");
        if (rate <= 0) {
          await this.emit(data, at, i + 1, chain);
          return;
        }
        const bytesPerMs = (rate * 1024) / 1000;
        const pieceMax = Math.max(1, Math.floor(rate * 1024 * 0.1)); // 100 ms worth, as Go
        for (let off = 0; off < data.length && !this.stopped; off += pieceMax) {
          const piece = data.subarray(off, off + pieceMax);
          await this.emit(piece, at, i + 1, chain);
          const now = performance.now();
          lt.nextAt = Math.max(lt.nextAt, now) + piece.length / bytesPerMs;
          if (lt.nextAt > now) await this.sleep(lt.nextAt - now);
        }
        return;
      }
      case "slicer": {
        const avg = Math.max(1, attr(spec, "average_size"));
        const variation = Math.min(attr(spec, "size_variation"), avg - 1);
        const delayMs = attr(spec, "delay") / 1000;
        let off = 0;
        while (off < data.length && !this.stopped) {
          const size = avg + Math.floor(this.ctx.rng() * (2 * variation + 1)) - variation;
          const piece = data.subarray(off, off + Math.max(1, size));
          off += piece.length;
          await this.emit(piece, at, i + 1, chain);
          if (off < data.length && delayMs > 0) await this.sleep(delayMs);
        }
        return;
      }
      case "limit_data": {
        const limit = attr(spec, "bytes");
        const remaining = Math.max(0, limit - lt.transmitted);
        const piece = data.subarray(0, remaining);
        if (piece.length > 0) {
          lt.transmitted += piece.length;
          await this.emit(piece, at, i + 1, chain);
        }
        if (lt.transmitted >= limit) this.conn.close();
        return;
      }
      case "reset_peer": {
        // Go: the first chunk arms it, data is dropped, after `timeout` ms the link is reset.
        if (!lt.armed) {
          lt.armed = true;
          lt.timer = setTimeout(() => this.conn.reset(), attr(spec, "timeout"));
        }
        return;
      }
      case "timeout":
      case "slow_close":
      case "noop":
        await this.emit(data, at, i + 1, chain);
        return;
    }
  }

  private async write(data: Buffer): Promise<void> {
    if (this.stopped || this.dst.destroyed) return;
    if (this.dst.write(data)) return;
    while (this.dst.writableNeedDrain && !this.stopped && !this.dst.destroyed) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.dst.off("drain", done);
          this.dst.off("close", done);
          resolve();
        };
        this.dst.on("drain", done);
        this.dst.on("close", done);
      });
    }
  }

  /** A timer that ends early when the connection closes. */
  private sleep(ms: number): Promise<void> {
    if (this.stopped || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.conn.offClose(done);
        resolve();
      }, ms);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.conn.onClose(done);
    });
  }
}

export class ProxyConnection {
  closed = false;
  private readonly closeWaiters = new Set<() => void>();
  private readonly up: Link;
  private readonly down: Link;

  constructor(
    readonly client: net.Socket,
    readonly upstream: net.Socket,
    toxics: Iterable<ToxicSpec>,
    ctx: ProxyContext,
    private readonly onGone: (conn: ProxyConnection) => void,
  ) {
    this.up = new Link(this, client, upstream, "upstream", ctx);
    this.down = new Link(this, upstream, client, "downstream", ctx);
    for (const spec of toxics) this.setToxic(spec);
    const onError = (): void => this.destroy();
    client.on("error", onError);
    upstream.on("error", onError);
    this.up.start();
    this.down.start();
  }

  get bufferedBytes(): number {
    return this.up.bufferedBytes + this.down.bufferedBytes;
  }

  setToxic(spec: ToxicSpec): void {
    if (spec.stream === "upstream") this.up.setToxic(spec);
    else this.down.setToxic(spec);
  }

  removeToxic(name: string): void {
    this.up.removeToxic(name);
    this.down.removeToxic(name);
  }

  onClose(fn: () => void): void {
    this.closeWaiters.add(fn);
  }

  offClose(fn: () => void): void {
    this.closeWaiters.delete(fn);
  }

  /** Both directions delivered their EOF: close once the final writes are flushed. */
  linkDone(): void {
    if (this.up.done && this.down.done) this.close();
  }

  private markClosed(): boolean {
    if (this.closed) return false;
    this.closed = true;
    this.up.clearTimers();
    this.down.clearTimers();
    const waiters = [...this.closeWaiters];
    this.closeWaiters.clear();
    for (const w of waiters) w();
    this.onGone(this);
    return true;
  }

  /** Graceful close (FIN) of both sides, flushing what was already written. */
  close(): void {
    if (!this.markClosed()) return;
    // Once a socket's writes reach the kernel (finish) it is safe to destroy it.
    for (const s of [this.client, this.upstream]) s.end(() => s.destroy());
    // Do not wait forever for peers that stop reading.
    setTimeout(() => this.destroySockets(), CLOSE_FLUSH_MS_MAX).unref();
  }

  /** Abrupt close (TCP RST) of both sides, as reset_peer does (SetLinger(0)). */
  reset(): void {
    this.markClosed();
    for (const s of [this.client, this.upstream]) {
      try {
        if (!s.destroyed && !s.connecting) s.resetAndDestroy();
        else s.destroy();
      } catch {
        s.destroy();
      }
    }
  }

  destroy(): void {
    this.markClosed();
    this.destroySockets();
  }

  private destroySockets(): void {
    this.client.destroy();
    this.upstream.destroy();
  }
}

export class ToxicProxy {
  private server: net.Server | null = null;
  private readonly conns = new Set<ProxyConnection>();
  readonly toxics = new Map<string, ToxicSpec>();

  constructor(
    readonly name: string,
    public listen: string,
    public upstream: string,
    public enabled: boolean,
    private readonly ctx: ProxyContext,
  ) {}

  get connectionCount(): number {
    return this.conns.size;
  }

  /** User-space bytes buffered across all connections (for backpressure checks). */
  get bufferedBytes(): number {
    let total = 0;
    for (const conn of this.conns) total += conn.bufferedBytes;
    return total;
  }

  toJSON(): ProxyJson {
    return {
      name: this.name,
      listen: this.listen,
      upstream: this.upstream,
      enabled: this.enabled,
      toxics: [...this.toxics.values()].map(toxicToJson),
    };
  }

  /** Starts listening; `listen` is rewritten to the bound address (port 0 → real port). */
  async start(): Promise<void> {
    if (this.server) return;
    const addr = parseHostPort(this.listen);
    if (!addr) throw new ApiError(`listen tcp ${this.listen}: missing port in address`, 500);
    const host = addr.host === "" || addr.host === "localhost" ? "127.0.0.1" : addr.host;
    const server = net.createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        const reason =
          err.code === "EADDRINUSE"
            ? "bind: address already in use"
            : err.code === "EADDRNOTAVAIL"
              ? "bind: cannot assign requested address"
              : err.message;
        reject(new ApiError(`listen tcp ${this.listen}: ${reason}`, 500));
      };
      server.once("error", onError);
      server.listen({ host, port: addr.port }, () => {
        server.off("error", onError);
        resolve();
      });
    });
    server.on("error", () => undefined);
    const bound = server.address();
    if (bound && typeof bound === "object") this.listen = formatHostPort(bound.address, bound.port);
    this.server = server;
  }

  /** Closes the listener and every connection. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const conn of [...this.conns]) conn.destroy();
    this.conns.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: net.Socket): void {
    if (this.conns.size >= this.ctx.limits.connectionsMax) {
      client.destroy();
      return;
    }
    const target = parseHostPort(this.upstream);
    if (!target) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    const conn = new ProxyConnection(client, upstream, this.toxics.values(), this.ctx, (c) =>
      this.conns.delete(c),
    );
    this.conns.add(conn);
  }

  addToxic(spec: ToxicSpec): void {
    if (this.toxics.has(spec.name)) throw new ApiError("toxic already exists", 409);
    this.toxics.set(spec.name, spec);
    for (const conn of this.conns) conn.setToxic(spec);
  }

  updateToxic(spec: ToxicSpec): void {
    this.toxics.set(spec.name, spec);
    for (const conn of this.conns) conn.setToxic(spec);
  }

  removeToxic(name: string): void {
    if (!this.toxics.delete(name)) throw new ApiError("toxic not found", 404);
    for (const conn of this.conns) conn.removeToxic(name);
  }

  removeAllToxics(): void {
    for (const name of [...this.toxics.keys()]) this.removeToxic(name);
  }
}
