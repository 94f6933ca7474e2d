/**
 * OVSDB client with reconnect, leader-only selection for clustered databases,
 * monitors feeding an in-memory replica, and typed transact.
 */

import { EventEmitter } from "node:events";
import { OvsdbCache, type RowChange } from "./cache.js";
import {
  type Condition,
  findTransactionError,
  type Operation,
  type OperationResult,
  OvsdbTransactionError,
} from "./ops.js";
import {
  connectRemote,
  formatRemote,
  parseRemote,
  type Remote,
  type TlsOptions,
} from "./remote.js";
import { OvsdbConnectionError, OvsdbRpcError, RpcSession, type RpcStats } from "./rpc.js";
import { type DatabaseSchema, parseSchema } from "./schema.js";
import type { DecodedRow } from "./values.js";

export class OvsdbNotLeaderError extends Error {
  override readonly name = "OvsdbNotLeaderError";
}

export class OvsdbClosedError extends Error {
  override readonly name = "OvsdbClosedError";
}

export type MonitorMethod = "monitor_cond" | "monitor";

export interface MonitorTableRequest {
  /** Columns to monitor; all when omitted. */
  readonly columns?: readonly string[];
  /** Row filter (monitor_cond only). */
  readonly where?: readonly Condition[];
}

export type MonitorRequest = Readonly<Record<string, MonitorTableRequest | readonly string[]>>;

export interface UpdateEvent<Row = DecodedRow> {
  /**
   * "reset": the monitor's tables were replaced by a full snapshot (first
   * establishment, or re-establishment after reconnect): rebuild derived state
   * from the cache. "delta": incremental changes.
   */
  readonly kind: "reset" | "delta";
  readonly monitorId: string;
  readonly tables: readonly string[];
  readonly changes: readonly RowChange<Row>[];
}

export interface ConnectedEvent {
  readonly remote: string;
  /** "standalone", "clustered", "relay", or "unknown" when the server has no _Server db. */
  readonly model: string;
  readonly monitorMethod: MonitorMethod;
}

export interface DisconnectedEvent {
  readonly remote: string;
  readonly error: Error | undefined;
}

export interface OvsdbClientEvents {
  connected: [ConnectedEvent];
  disconnected: [DisconnectedEvent];
  update: [UpdateEvent];
  /** A connection attempt failed (including "not leader"); the client keeps trying. */
  connectFailed: [{ remote: string; error: Error }];
}

export interface OvsdbClientOptions {
  /** One or more remotes ("tcp:h:p", "ssl:h:p", "unix:/path"); several for a clustered database. */
  readonly remotes: readonly string[];
  /** Database to monitor and to check leadership for. Default "OVN_Northbound". */
  readonly database?: string;
  readonly tls?: TlsOptions;
  /** For clustered databases accept only the leader (default true). */
  readonly leaderOnly?: boolean;
  /** "auto" (default) tries monitor_cond and falls back to monitor on "unknown method". */
  readonly monitorMethod?: "auto" | MonitorMethod;
  readonly connectTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  /** Timeout for monitor requests (initial dumps of big databases take seconds). */
  readonly monitorTimeoutMs?: number;
  readonly inactivityProbeMs?: number;
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  readonly messageBytesMax?: number;
  readonly inFlightMax?: number;
  readonly queuedMax?: number;
  readonly monitorsMax?: number;
  readonly rowsMax?: number;
  /** Source of jitter in [0, 1); injectable for tests. */
  readonly random?: () => number;
}

interface MonitorEntry {
  readonly id: string;
  readonly tables: Readonly<Record<string, MonitorTableRequest>>;
  established: boolean;
  method: MonitorMethod | undefined;
  /**
   * Notifications that arrived after the monitor request was sent but before its reply was
   * applied (the reply's continuation runs a microtask later than the messages after it in the
   * same read). Applied right after the snapshot; dropping them would leave the replica stale.
   */
  early: { method: string; updates: unknown }[] | undefined;
}

/** Notifications held while a monitor's snapshot is being applied; more forces a resync. */
const earlyNotificationsMax = 100_000;

interface Waiter {
  resolve(): void;
  reject(e: Error): void;
}

const SERVER_WATCH_ID = "novanet-server-watch";

export interface ClientStats extends RpcStats {
  connects: number;
  connectFailures: number;
}

export class OvsdbClient<
  Rows extends object = Record<string, DecodedRow>,
> extends EventEmitter<OvsdbClientEvents> {
  readonly database: string;
  readonly cache: OvsdbCache<Rows>;
  private readonly remotes: readonly Remote[];
  private readonly opts: Required<
    Omit<OvsdbClientOptions, "tls" | "remotes" | "database" | "random">
  >;
  private readonly tlsOptions: TlsOptions | undefined;
  private readonly random: () => number;
  private session: RpcSession | undefined;
  private currentRemote: Remote | undefined;
  private schemaValue: DatabaseSchema | undefined;
  private monitorMethodInUse: MonitorMethod | undefined;
  private readonly monitors = new Map<string, MonitorEntry>();
  private readonly monitorWaiters = new Map<string, Waiter[]>();
  private connectWaiters: Waiter[] = [];
  private nextMonitor = 1;
  private started = false;
  private closed = false;
  private remoteIndex = 0;
  private wakeSleep: (() => void) | undefined;
  private serverRowUuid: string | undefined;
  private readonly counters = { connects: 0, connectFailures: 0 };
  private lastRpcStats: RpcStats | undefined;

  constructor(options: OvsdbClientOptions) {
    super();
    if (options.remotes.length === 0) throw new Error("OvsdbClient: no remotes");
    this.remotes = options.remotes.map(parseRemote);
    this.database = options.database ?? "OVN_Northbound";
    this.tlsOptions = options.tls;
    this.random = options.random ?? Math.random;
    this.opts = {
      leaderOnly: options.leaderOnly ?? true,
      monitorMethod: options.monitorMethod ?? "auto",
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      monitorTimeoutMs: options.monitorTimeoutMs ?? 120_000,
      inactivityProbeMs: options.inactivityProbeMs ?? 10_000,
      backoffInitialMs: options.backoffInitialMs ?? 100,
      backoffMaxMs: options.backoffMaxMs ?? 10_000,
      messageBytesMax: options.messageBytesMax ?? 64 * 1024 * 1024,
      inFlightMax: options.inFlightMax ?? 64,
      queuedMax: options.queuedMax ?? 1024,
      monitorsMax: options.monitorsMax ?? 64,
      rowsMax: options.rowsMax ?? 5_000_000,
    };
    this.cache = new OvsdbCache<Rows>({ rowsMax: this.opts.rowsMax });
  }

  // ---------- lifecycle ----------

  /** Start connecting (and reconnecting until close()). */
  start(): void {
    if (this.started) return;
    this.started = true;
    void this.loop();
  }

  get connected(): boolean {
    return this.session !== undefined && !this.session.isClosed;
  }

  /** The remote currently connected, if any. */
  get remote(): string | undefined {
    return this.connected && this.currentRemote ? formatRemote(this.currentRemote) : undefined;
  }

  get schema(): DatabaseSchema | undefined {
    return this.schemaValue;
  }

  get stats(): ClientStats {
    const rpc = this.session?.stats ??
      this.lastRpcStats ?? {
        requestsSent: 0,
        echoRequestsAnswered: 0,
        probesSent: 0,
        bytesReceived: 0,
      };
    return { ...rpc, ...this.counters };
  }

  /** Resolves when connected with every registered monitor re-established. */
  whenConnected(timeoutMs = 30_000): Promise<void> {
    if (this.closed) return Promise.reject(new OvsdbClosedError("client closed"));
    if (this.connected) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.connectWaiters = this.connectWaiters.filter((x) => x !== w);
        reject(new OvsdbConnectionError(`not connected within ${timeoutMs} ms`));
      }, timeoutMs);
      this.connectWaiters.push(w);
    });
  }

  /** Stop reconnecting and close the connection. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wakeSleep?.();
    this.session?.close(new OvsdbClosedError("client closed"));
    const err = new OvsdbClosedError("client closed");
    for (const w of this.connectWaiters) w.reject(err);
    this.connectWaiters = [];
    for (const ws of this.monitorWaiters.values()) for (const w of ws) w.reject(err);
    this.monitorWaiters.clear();
  }

  /** Drop the current connection (the client reconnects). For tests and operator use. */
  disconnect(reason = "disconnect requested"): void {
    this.session?.close(new OvsdbConnectionError(reason));
  }

  // ---------- RPC methods ----------

  async listDbs(): Promise<string[]> {
    const r = await this.requireSession().request("list_dbs", []);
    return Array.isArray(r) ? r.filter((x): x is string => typeof x === "string") : [];
  }

  async getSchema(db: string = this.database): Promise<DatabaseSchema> {
    return parseSchema(await this.requireSession().request("get_schema", [db]));
  }

  async echo(...params: unknown[]): Promise<unknown> {
    return this.requireSession().request("echo", params);
  }

  /**
   * Run a transaction. Resolves with one result per operation; rejects with
   * OvsdbTransactionError (opIndex, error, details) if any operation or the
   * commit failed, OvsdbRpcError if the server refused the request.
   * After a lost connection a transaction may or may not have committed:
   * make writes idempotent (wait guards, owner external_ids).
   */
  async transact(
    db: string,
    ops: readonly Operation[],
    options: { timeoutMs?: number } = {},
  ): Promise<OperationResult[]> {
    const results = await this.transactRaw(db, ops, options);
    const err = findTransactionError(ops, results);
    if (err) throw err;
    return results as OperationResult[];
  }

  /** Like transact, but returns error results instead of throwing. */
  async transactRaw(
    db: string,
    ops: readonly Operation[],
    options: { timeoutMs?: number } = {},
  ): Promise<(OperationResult | null)[]> {
    const r = await this.requireSession().request("transact", [db, ...ops], options.timeoutMs);
    if (!Array.isArray(r)) throw new OvsdbConnectionError("transact: reply is not an array");
    return r as (OperationResult | null)[];
  }

  // ---------- monitors ----------

  /**
   * Monitor tables of `database`. Resolves once the initial snapshot is in the
   * cache (an "update" event of kind "reset" is emitted first). The monitor is
   * re-issued after every reconnect, each time with a "reset".
   * A table may belong to one monitor only.
   */
  async monitor(tables: MonitorRequest): Promise<MonitorHandle> {
    if (this.closed) throw new OvsdbClosedError("client closed");
    if (this.monitors.size >= this.opts.monitorsMax) {
      throw new Error(`monitor: ${this.opts.monitorsMax} monitors (monitorsMax)`);
    }
    const norm: Record<string, MonitorTableRequest> = {};
    for (const [t, req] of Object.entries(tables)) {
      for (const m of this.monitors.values()) {
        if (t in m.tables) throw new Error(`monitor: table ${t} already monitored by ${m.id}`);
      }
      norm[t] = isStringArray(req) ? { columns: req } : req;
    }
    const entry: MonitorEntry = {
      id: `novanet-m${this.nextMonitor++}`,
      tables: norm,
      established: false,
      method: undefined,
      early: undefined,
    };
    this.monitors.set(entry.id, entry);
    const handle = new MonitorHandle(this, entry.id, Object.keys(norm));
    const session = this.connected ? this.session : undefined;
    if (session) {
      try {
        await this.establish(entry, session);
      } catch (err) {
        // A lost connection re-establishes the monitor later; other errors are final.
        if (!session.isClosed) {
          this.monitors.delete(entry.id);
          throw err;
        }
      }
    }
    if (!entry.established) await this.waitMonitor(entry.id);
    return handle;
  }

  /** Cancel a monitor and drop its tables from the cache. */
  async cancelMonitor(id: string): Promise<void> {
    const entry = this.monitors.get(id);
    if (!entry) return;
    this.monitors.delete(id);
    this.cache.drop(Object.keys(entry.tables));
    for (const w of this.monitorWaiters.get(id) ?? []) w.reject(new Error("monitor cancelled"));
    this.monitorWaiters.delete(id);
    if (this.connected && entry.established) {
      await this.requireSession().request("monitor_cancel", [id]);
    }
  }

  private waitMonitor(id: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const ws = this.monitorWaiters.get(id) ?? [];
      ws.push({ resolve, reject });
      this.monitorWaiters.set(id, ws);
    });
  }

  private async establish(entry: MonitorEntry, session: RpcSession): Promise<void> {
    let method: MonitorMethod = this.monitorMethodInUse ?? "monitor_cond";
    let result: unknown;
    entry.established = false;
    for (;;) {
      entry.early = [];
      try {
        result = await session.request(
          method,
          [this.database, entry.id, this.monitorRequests(entry, method)],
          this.opts.monitorTimeoutMs,
        );
        break;
      } catch (err) {
        if (
          method === "monitor_cond" &&
          this.opts.monitorMethod === "auto" &&
          err instanceof OvsdbRpcError &&
          err.error === "unknown method"
        ) {
          method = "monitor";
          this.monitorMethodInUse = "monitor";
          continue;
        }
        throw err;
      }
    }
    const early = entry.early ?? [];
    entry.early = undefined;
    if (session.isClosed || !this.monitors.has(entry.id)) return;
    const tables = Object.keys(entry.tables);
    const cols: Record<string, readonly string[] | undefined> = {};
    for (const t of tables) cols[t] = entry.tables[t]?.columns;
    this.cache.reset(cols);
    const changes =
      method === "monitor_cond"
        ? this.cache.applyUpdate2(result)
        : this.cache.applyUpdate(result, true);
    entry.established = true;
    entry.method = method;
    this.emit("update", { kind: "reset", monitorId: entry.id, tables, changes });
    for (const n of early) this.applyNotification(session, entry, n.method, n.updates);
    for (const w of this.monitorWaiters.get(entry.id) ?? []) w.resolve();
    this.monitorWaiters.delete(entry.id);
  }

  private monitorRequests(entry: MonitorEntry, method: MonitorMethod): Record<string, unknown> {
    const reqs: Record<string, unknown> = {};
    for (const [t, r] of Object.entries(entry.tables)) {
      const req: Record<string, unknown> = {};
      if (r.columns) req.columns = r.columns;
      if (method === "monitor_cond") {
        if (r.where) req.where = r.where;
        reqs[t] = [req];
      } else {
        if (r.where) throw new Error(`monitor: server lacks monitor_cond, cannot filter ${t}`);
        reqs[t] = req;
      }
    }
    return reqs;
  }

  // ---------- connection loop ----------

  private requireSession(): RpcSession {
    if (this.closed) throw new OvsdbClosedError("client closed");
    const s = this.session;
    if (!s || s.isClosed) throw new OvsdbConnectionError("not connected");
    return s;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      const remote = this.remotes[this.remoteIndex % this.remotes.length]!;
      let session: RpcSession | undefined;
      try {
        session = await this.connectOnce(remote);
        failures = 0;
        await new Promise<void>((resolve) => {
          if (session!.isClosed) resolve();
          else session!.once("close", () => resolve());
        });
      } catch (err) {
        failures++;
        this.counters.connectFailures++;
        session = undefined;
        if (!this.closed)
          this.emit("connectFailed", { remote: formatRemote(remote), error: err as Error });
      }
      if (this.closed) break;
      this.remoteIndex = (this.remoteIndex + 1) % this.remotes.length;
      // Try every remote once without delay, then back off exponentially with jitter.
      const rounds = Math.floor(failures / this.remotes.length);
      if (failures > 0 && failures % this.remotes.length !== 0) continue;
      const base = Math.min(
        this.opts.backoffMaxMs,
        this.opts.backoffInitialMs * 2 ** Math.min(rounds, 30),
      );
      await this.sleep(base / 2 + (base / 2) * this.random());
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.wakeSleep = undefined;
        resolve();
      }, ms);
      this.wakeSleep = () => {
        clearTimeout(t);
        this.wakeSleep = undefined;
        resolve();
      };
    });
  }

  private async connectOnce(remote: Remote): Promise<RpcSession> {
    const stream = await connectRemote(remote, this.opts.connectTimeoutMs, this.tlsOptions);
    const session = new RpcSession(stream, {
      messageBytesMax: this.opts.messageBytesMax,
      inFlightMax: this.opts.inFlightMax,
      queuedMax: this.opts.queuedMax,
      requestTimeoutMs: this.opts.requestTimeoutMs,
      inactivityProbeMs: this.opts.inactivityProbeMs,
    });
    if (this.closed) {
      session.close(new OvsdbClosedError("client closed"));
      throw new OvsdbClosedError("client closed");
    }
    session.on("notification", (method, params) => this.onNotification(session, method, params));
    try {
      const timeout = this.opts.connectTimeoutMs;
      const dbs = (await session.request("list_dbs", [], timeout)) as unknown;
      if (!Array.isArray(dbs) || !dbs.includes(this.database)) {
        throw new OvsdbConnectionError(`${formatRemote(remote)} does not serve ${this.database}`);
      }
      let model = "unknown";
      this.serverRowUuid = undefined;
      if (dbs.includes("_Server")) {
        const r = (await session.request(
          "transact",
          [
            "_Server",
            {
              op: "select",
              table: "Database",
              where: [["name", "==", this.database]],
              columns: ["_uuid", "model", "connected", "leader"],
            },
          ],
          timeout,
        )) as [
          {
            rows?: {
              _uuid: [string, string];
              model: string;
              connected: boolean;
              leader: boolean;
            }[];
          },
        ];
        const row = r[0]?.rows?.[0];
        if (row) {
          model = row.model;
          const leaderOnly = this.opts.leaderOnly;
          if (model === "clustered" && !row.connected) {
            throw new OvsdbNotLeaderError(
              `${formatRemote(remote)} is not connected to its cluster`,
            );
          }
          if (leaderOnly && ((model === "clustered" && !row.leader) || model === "relay")) {
            throw new OvsdbNotLeaderError(`${formatRemote(remote)} is not the cluster leader`);
          }
          if (model === "clustered") {
            this.serverRowUuid = row._uuid[1];
            await session.request(
              "monitor_cond",
              [
                "_Server",
                SERVER_WATCH_ID,
                {
                  Database: [
                    {
                      columns: ["name", "leader", "connected"],
                      where: [["name", "==", this.database]],
                    },
                  ],
                },
              ],
              timeout,
            );
          }
        }
      }
      this.schemaValue = parseSchema(await session.request("get_schema", [this.database], timeout));
      this.cache.setSchema(this.schemaValue);
      this.monitorMethodInUse =
        this.opts.monitorMethod === "auto" ? undefined : this.opts.monitorMethod;
      for (const m of this.monitors.values()) m.established = false;
      // Monitors registered while connecting are picked up too (bounded by monitorsMax).
      for (let i = 0; i <= this.opts.monitorsMax; i++) {
        const m = [...this.monitors.values()].find((x) => !x.established);
        if (!m || session.isClosed) break;
        await this.establish(m, session);
      }
      if (session.isClosed) throw new OvsdbConnectionError("connection closed during setup");
      if (this.closed) throw new OvsdbClosedError("client closed");
      this.session = session;
      this.currentRemote = remote;
      this.counters.connects++;
      session.once("close", (err) => {
        this.lastRpcStats = { ...session.stats };
        for (const m of this.monitors.values()) m.established = false;
        if (this.session === session) this.session = undefined;
        this.emit("disconnected", { remote: formatRemote(remote), error: err });
      });
      this.emit("connected", {
        remote: formatRemote(remote),
        model,
        monitorMethod: this.monitorMethodInUse ?? "monitor_cond",
      });
      const ws = this.connectWaiters;
      this.connectWaiters = [];
      for (const w of ws) w.resolve();
      return session;
    } catch (err) {
      session.close(err as Error);
      throw err;
    }
  }

  private onNotification(session: RpcSession, method: string, params: unknown[]): void {
    if (method !== "update2" && method !== "update") return;
    const [id, updates] = params;
    if (id === SERVER_WATCH_ID) {
      this.onServerWatch(session, updates);
      return;
    }
    if (typeof id !== "string") return;
    const entry = this.monitors.get(id);
    if (entry === undefined) return;
    if (!entry.established) {
      if (entry.early === undefined) return; // no request in flight: not ours (yet)
      if (entry.early.length >= earlyNotificationsMax) {
        session.close(new OvsdbConnectionError("too many notifications before monitor reply"));
        return;
      }
      entry.early.push({ method, updates });
      return;
    }
    this.applyNotification(session, entry, method, params[1]);
  }

  private applyNotification(
    session: RpcSession,
    entry: MonitorEntry,
    method: string,
    updates: unknown,
  ): void {
    if (session.isClosed) return;
    const id = entry.id;
    let changes: RowChange[];
    try {
      changes =
        method === "update2"
          ? this.cache.applyUpdate2(updates)
          : this.cache.applyUpdate(updates, false);
    } catch (err) {
      // The replica no longer matches the server: reconnect for a full resync.
      session.close(err as Error);
      return;
    }
    this.emit("update", {
      kind: "delta",
      monitorId: id,
      tables: Object.keys(entry.tables),
      changes,
    });
  }

  /** Leave a clustered server that loses leadership or its cluster connection. */
  private onServerWatch(session: RpcSession, updates: unknown): void {
    const rows = (updates as { Database?: Record<string, Record<string, Record<string, unknown>>> })
      ?.Database;
    if (!rows || !this.serverRowUuid) return;
    const u = rows[this.serverRowUuid];
    if (!u) return;
    const cols = u.modify ?? u.insert ?? u.initial;
    if (u.delete !== undefined) {
      session.close(new OvsdbNotLeaderError("database removed from _Server"));
    } else if (
      cols &&
      (cols.connected === false || (this.opts.leaderOnly && cols.leader === false))
    ) {
      session.close(new OvsdbNotLeaderError("server lost cluster leadership"));
    }
  }
}

function isStringArray(x: unknown): x is readonly string[] {
  return Array.isArray(x);
}

export class MonitorHandle {
  constructor(
    private readonly client: { cancelMonitor(id: string): Promise<void> },
    readonly id: string,
    readonly tables: readonly string[],
  ) {}

  cancel(): Promise<void> {
    return this.client.cancelMonitor(this.id);
  }
}

export { OvsdbTransactionError };
