// OvnSync: the leader-only OVN Northbound reconciler. See README.md for the design.
//
// Every replica monitors NB (followers answer portStatus from the cache); only the leader writes.
// Raft-side calls (applied, becomeLeader, becomeFollower) never wait on NB: they record what
// changed and schedule the single worker, which runs one pass at a time.

import type { Logger } from "pino";
import type {
  OvnSyncOptions,
  OvnSyncPhase,
  OvnSyncStatus,
  PortOvnStatus,
  SyncScope,
} from "../contract.js";
import { desiredNorthbound, type StateReader } from "../mapping/desired.js";
import { type DesiredNb, tableNames, vpcKey } from "../mapping/types.js";
import type { OvsdbCache } from "../ovsdb/cache.js";
import { OvsdbClient } from "../ovsdb/client.js";
import { NB_DATABASE, NB_MONITOR_COLUMNS, type NbRows } from "../ovsdb/nb.js";
import { type Operation, OvsdbTransactionError, waitOp, whereUuid } from "../ovsdb/ops.js";
import { ovsMap, ovsSet } from "../ovsdb/values.js";
import type { OwnedEntry } from "./owned.js";
import { OwnedIndex } from "./owned.js";
import { mergeSetInserts, planStep, type Unit } from "./plan.js";

const defaultFullSyncIntervalMs = 60_000;
const defaultTxnOpsMax = 1000;
/** The first monitor reply holds all monitored NB rows: over 64 MiB at 100k ports. */
const defaultNbMessageBytesMax = 500 * 1024 * 1024;
/** Below this a unit (guard + insert + parent mutate) plus the fence does not fit. */
const txnOpsMin = 4;
const defaultDirtyVpcsMax = 256;
const defaultFenceRecheckMs = 5_000;
const retryDelayMinMs = 100;
const defaultRetryDelayMaxMs = 5_000;
/** Plan/execute steps in one pass; the tree is 3 deep, so a healthy pass needs about 6. */
const passStepsMax = 32;
/** At most one warning of a kind per this period; the rest are counted. */
const warnIntervalMs = 10_000;

class Aborted extends Error {
  override readonly name = "Aborted";
}

class Fenced extends Error {
  override readonly name = "Fenced";
}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`OvnSync invariant: ${message}`);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class OvnSync {
  readonly #o: OvnSyncOptions;
  readonly #log: Logger;
  readonly #fullSyncIntervalMs: number;
  readonly #txnOpsMax: number;
  readonly #dirtyVpcsMax: number;
  readonly #fenceRecheckMs: number;
  readonly #retryDelayMaxMs: number;
  readonly #fenceKey: string;
  /** Fence keys of the adopted clusters: dropped when we take the fence. */
  readonly #adoptedFenceKeys: readonly string[];
  readonly #owned: OwnedIndex;
  #nb: OvsdbClient<NbRows> | undefined;

  // Raft side
  #started = false;
  #closed = false;
  /** The term we lead in; 0 when following. */
  #term = 0;
  /** Bumped on every leadership change: a pass started under another generation stops. */
  #generation = 0;
  #appliedIndex = 0;
  #syncedIndex = 0;
  #dirty = new Set<string>();
  #fullNeeded = false;
  /** A full pass completed since becoming leader (and since the last NB reconnect). */
  #fullDone = false;

  // NB side
  #snapshotReady = false;
  #fenced = false;
  /** While fenced: time to look at NB_Global again. */
  #fenceRecheckDue = false;

  // Worker
  #running: Promise<void> | undefined;
  #scheduled = false;
  #again = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryDelayMs = retryDelayMinMs;
  #fenceTimer: NodeJS.Timeout | undefined;
  #fullTimer: NodeJS.Timeout | undefined;

  // Status
  #phase: OvnSyncPhase = "stopped";
  #lastError: string | undefined;
  #fullSyncs = 0;
  #lastFullSyncMs = 0;
  #transactions = 0;
  #failedTransactions = 0;
  #operations = 0;
  #repairedRows = 0;
  readonly #warned = new Map<string, { at: number; suppressed: number }>();

  constructor(opts: OvnSyncOptions) {
    check(opts.clusterId.length > 0, "clusterId is empty");
    check(opts.nbRemotes.length > 0, "no NB remotes");
    this.#o = opts;
    this.#log = opts.logger;
    this.#fullSyncIntervalMs = opts.fullSyncIntervalMs ?? defaultFullSyncIntervalMs;
    this.#txnOpsMax = opts.txnOpsMax ?? defaultTxnOpsMax;
    this.#dirtyVpcsMax = opts.dirtyVpcsMax ?? defaultDirtyVpcsMax;
    this.#fenceRecheckMs = opts.fenceRecheckMs ?? defaultFenceRecheckMs;
    this.#retryDelayMaxMs = opts.retryDelayMaxMs ?? defaultRetryDelayMaxMs;
    check(this.#fullSyncIntervalMs > 0, "fullSyncIntervalMs must be positive");
    check(
      Number.isSafeInteger(this.#txnOpsMax) && this.#txnOpsMax >= txnOpsMin,
      `txnOpsMax must be an integer >= ${txnOpsMin}`,
    );
    check(this.#dirtyVpcsMax >= 1, "dirtyVpcsMax must be positive");
    // Bad mapping options (external CIDR, gateway, chassis) fail here, not on every pass.
    desiredNorthbound(emptyState, {
      clusterId: opts.clusterId,
      ...(opts.external !== undefined ? { external: opts.external } : {}),
    });
    const adopt = opts.adoptOwners ?? [];
    for (const id of adopt) {
      check(id.length > 0, "an adopted owner is empty");
      check(id !== opts.clusterId, `adoptOwners names this cluster's own id ${id}`);
    }
    this.#fenceKey = `novanet:${opts.clusterId}:term`;
    this.#adoptedFenceKeys = adopt.map((id) => `novanet:${id}:term`);
    this.#owned = new OwnedIndex(opts.clusterId, adopt);
  }

  // --- Raft side: synchronous, never waits on NB -----------------------------------------------

  start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    const nb = new OvsdbClient<NbRows>({
      remotes: this.#o.nbRemotes,
      ...(this.#o.tls !== undefined ? { tls: this.#o.tls } : {}),
      backoffMaxMs: this.#o.reconnectBackoffMaxMs ?? 2_000,
      messageBytesMax: this.#o.nbMessageBytesMax ?? defaultNbMessageBytesMax,
    });
    this.#nb = nb;
    nb.on("update", (event) => {
      if (event.kind === "reset") {
        // A full snapshot (first one, or after a reconnect): NB may have changed arbitrarily.
        this.#owned.rebuild(nb.cache as unknown as OvsdbCache, event.tables);
        this.#snapshotReady = true;
        this.#fullDone = false;
        this.#fullNeeded = true;
        this.#info("NB snapshot received");
        this.#updatePhase();
        this.#kick();
      } else {
        this.#owned.apply(event.changes);
      }
    });
    nb.on("connected", (e) => this.#log.info({ remote: e.remote, model: e.model }, "NB connected"));
    nb.on("disconnected", (e) => {
      this.#snapshotReady = false;
      if (this.#closed) return;
      if (e.error !== undefined) this.#lastError = `NB disconnected: ${e.error.message}`;
      this.#warn("disconnected", { remote: e.remote, error: e.error?.message }, "NB disconnected");
      this.#updatePhase();
    });
    nb.on("connectFailed", (e) => {
      this.#lastError = `NB connect ${e.remote}: ${e.error.message}`;
      this.#warn("connect", { remote: e.remote, error: e.error.message }, "NB connect failed");
    });
    nb.start();
    nb.monitor(NB_MONITOR_COLUMNS).catch((e: unknown) => {
      if (!this.#closed) {
        this.#lastError = `NB monitor: ${errorText(e)}`;
        this.#log.error({ error: errorText(e) }, "NB monitor failed");
      }
    });
    this.#updatePhase();
  }

  becomeLeader(term: number, appliedIndex: number): void {
    check(Number.isSafeInteger(term) && term > 0, `term ${term} is not a positive integer`);
    this.#term = term;
    this.#generation++;
    if (appliedIndex > this.#appliedIndex) this.#appliedIndex = appliedIndex;
    this.#fenced = false;
    this.#fullDone = false;
    this.#fullNeeded = true;
    this.#dirty.clear();
    this.#clearTimers();
    this.#retryDelayMs = retryDelayMinMs;
    this.#fullTimer = setInterval(() => {
      this.#fullNeeded = true;
      this.#kick();
    }, this.#fullSyncIntervalMs);
    this.#fullTimer.unref();
    this.#log.info({ term, appliedIndex }, "leading: taking the NB fence");
    this.#updatePhase();
    this.#kick();
  }

  becomeFollower(): void {
    if (this.#term !== 0) this.#log.info({ term: this.#term }, "following: NB writes stop");
    this.#term = 0;
    this.#generation++;
    this.#dirty.clear();
    this.#fullNeeded = false;
    this.#fenced = false;
    this.#clearTimers();
    this.#updatePhase();
  }

  applied(index: number, scope: SyncScope): void {
    if (index > this.#appliedIndex) this.#appliedIndex = index;
    if (this.#term === 0) return; // a new leader starts with a full pass anyway
    switch (scope.kind) {
      case "none":
        break;
      case "all":
        this.#fullNeeded = true;
        this.#dirty.clear();
        break;
      case "vpcs":
        if (this.#fullNeeded) break;
        for (const id of scope.vpcIds) this.#dirty.add(id);
        if (this.#dirty.size > this.#dirtyVpcsMax) {
          // Too many to track: one full pass is cheaper than remembering them all.
          this.#fullNeeded = true;
          this.#dirty.clear();
        }
        break;
      default: {
        const never: never = scope;
        throw new Error(`applied: unknown scope ${JSON.stringify(never)}`);
      }
    }
    this.#kick();
  }

  portStatus(portId: string): PortOvnStatus | undefined {
    const nb = this.#nb;
    if (nb === undefined) return undefined;
    const uuid = this.#owned.lspByName(portId);
    if (uuid === undefined) return undefined;
    const row = nb.cache.get("Logical_Switch_Port", uuid);
    if (row === undefined) return undefined;
    return { ovnPortUuid: uuid, up: row.up[0] === true };
  }

  status(): OvnSyncStatus {
    return {
      phase: this.#phase,
      connected: this.#connected,
      term: this.#term,
      appliedIndex: this.#appliedIndex,
      syncedIndex: this.#syncedIndex,
      lastError: this.#lastError,
      fullSyncs: this.#fullSyncs,
      lastFullSyncMs: this.#lastFullSyncMs,
      transactions: this.#transactions,
      failedTransactions: this.#failedTransactions,
      operations: this.#operations,
      repairedRows: this.#repairedRows,
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#term = 0;
    this.#generation++;
    this.#clearTimers();
    this.#nb?.close();
    await this.#running?.catch(() => undefined);
    this.#updatePhase();
  }

  // --- Worker ------------------------------------------------------------------------------------

  get #connected(): boolean {
    return this.#nb?.connected === true && this.#snapshotReady;
  }

  #kick(): void {
    if (this.#closed) return;
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#running !== undefined || this.#closed) return;
      this.#again = false;
      this.#running = this.#run()
        .catch((e: unknown) => this.#log.error({ error: errorText(e) }, "OVN sync worker failed"))
        .finally(() => {
          this.#running = undefined;
          this.#updatePhase();
          if (this.#again) {
            this.#again = false;
            this.#kick();
          }
        });
    });
  }

  /** One pass (or nothing to do). Re-kicked while work remains. */
  async #run(): Promise<void> {
    this.#updatePhase();
    if (this.#closed || this.#term === 0 || !this.#connected) return;
    if (this.#fenced && !this.#fenceRecheckDue) return;
    this.#fenceRecheckDue = false;
    if (this.#retryTimer !== undefined) return;
    const generation = this.#generation;
    if (!(await this.#ensureFence(generation))) return;
    if (generation !== this.#generation || !this.#connected) return;
    const full = this.#fullNeeded || !this.#fullDone;
    if (!full && this.#dirty.size === 0) {
      // Nothing dirty and nothing in flight: NB reflects every applied entry.
      if (this.#appliedIndex > this.#syncedIndex) this.#syncedIndex = this.#appliedIndex;
      return;
    }
    await this.#pass(generation, full);
    if (this.#fullNeeded || this.#dirty.size > 0) this.#again = true;
  }

  async #pass(generation: number, full: boolean): Promise<void> {
    const nb = this.#nb;
    check(nb !== undefined, "pass without a client");
    // Read the state synchronously: desired, index and scope form one consistent snapshot.
    const index = this.#appliedIndex;
    let scope: ReadonlySet<string> | undefined;
    if (full) {
      this.#fullNeeded = false;
      this.#dirty.clear();
    } else {
      scope = this.#dirty;
      this.#dirty = new Set();
    }
    const countRepairs = full && this.#fullDone;
    const startedAt = Date.now();
    let desired: DesiredNb;
    try {
      desired = desiredNorthbound(this.#o.state(), {
        clusterId: this.#o.clusterId,
        ...(this.#o.external !== undefined ? { external: this.#o.external } : {}),
        ...(scope !== undefined ? { scope } : {}),
      });
    } catch (e) {
      this.#failed(e, "mapping");
      return;
    }
    if (scope !== undefined && this.#sharedRowMissing(desired)) {
      // A scoped map holds only this scope's members of the shared sets: recreating a missing
      // drop group or external switch from it would leave out every other VPC. Go full.
      this.#info("a cluster-wide row is missing: full pass instead");
      this.#fullNeeded = true;
      this.#again = true;
      return;
    }
    if (desired.problems.length > 0)
      this.#warn("problems", { problems: desired.problems.slice(0, 10) }, "state not mappable");
    const owned = this.#owned;
    if (full && owned.adoptedRows > 0) {
      this.#info("taking over the NB rows of adopted clusters", {
        adoptOwners: this.#o.adoptOwners,
        rows: owned.adoptedRows,
      });
    }
    const universe =
      scope === undefined ? () => owned.byUuid.values() : () => scopedEntries(owned, scope);
    const inUniverse =
      scope === undefined
        ? () => true
        : (e: OwnedEntry) =>
            e.vpc !== undefined ? scope.has(e.vpc) : owned.clusterWide.has(e.uuid);
    try {
      let converged = false;
      for (let step = 0; step < passStepsMax; step++) {
        if (generation !== this.#generation || this.#closed)
          throw new Aborted("leadership changed");
        const plan = planStep({
          desired,
          cache: nb.cache as unknown as OvsdbCache,
          owned,
          universe,
          inUniverse,
          unitOpsMax: this.#txnOpsMax - 1,
        });
        if (plan.units.length === 0) {
          converged = true;
          break;
        }
        const rows = await this.#execute(generation, plan.units);
        if (countRepairs) this.#repairedRows += rows;
      }
      if (!converged) throw new Error(`pass did not converge in ${passStepsMax} steps`);
    } catch (e) {
      if (e instanceof Aborted || e instanceof Fenced) {
        // The scope taken for this pass is lost: only a full pass covers it again.
        this.#fullNeeded = true;
        return;
      }
      this.#failed(e, full ? "full pass" : "incremental pass");
      return;
    }
    if (index > this.#syncedIndex) this.#syncedIndex = index;
    this.#retryDelayMs = retryDelayMinMs;
    this.#lastError = undefined;
    if (full) {
      this.#fullSyncs++;
      this.#lastFullSyncMs = Date.now() - startedAt;
      if (!this.#fullDone) this.#info("full pass done: NB in sync", { index });
      this.#fullDone = true;
    }
  }

  /** Whether a cluster-wide desired row (no novanet:vpc) has no owned row in NB. */
  #sharedRowMissing(desired: DesiredNb): boolean {
    for (const table of tableNames) {
      for (const [key, row] of desired.tables[table]) {
        const ids = (row as { readonly external_ids: Readonly<Record<string, string>> })
          .external_ids;
        if (ids[vpcKey] !== undefined) continue;
        if ((this.#owned.uuidsWithKey(table, key)?.size ?? 0) === 0) return true;
      }
    }
    return false;
  }

  /** Pack units into transactions of at most txnOpsMax ops (fence first); returns rows written. */
  async #execute(generation: number, units: readonly Unit[]): Promise<number> {
    const capacity = this.#txnOpsMax - 1;
    let batch: Unit[] = [];
    let size = 0;
    let written = 0;
    let poisoned: unknown;
    const flush = async () => {
      if (batch.length === 0) return;
      const these = batch;
      batch = [];
      size = 0;
      try {
        await this.#transact(generation, mergeSetInserts(these.flatMap((u) => u.ops)));
        for (const u of these) written += u.rows;
      } catch (e) {
        if (!(e instanceof OvsdbTransactionError) || these.length === 1) throw e;
        // One bad unit (say a foreign row holding one of our names) must not hold back the
        // others: run them one by one, then fail the pass so that it is retried.
        for (const u of these) {
          try {
            await this.#transact(generation, u.ops);
            written += u.rows;
          } catch (e1) {
            if (!(e1 instanceof OvsdbTransactionError)) throw e1;
            poisoned ??= e1;
          }
        }
      }
    };
    for (const unit of units) {
      check(unit.ops.length <= capacity, `unit of ${unit.ops.length} ops > ${capacity}`);
      if (size + unit.ops.length > capacity) await flush();
      batch.push(unit);
      size += unit.ops.length;
    }
    await flush();
    if (poisoned !== undefined) throw poisoned;
    return written;
  }

  async #transact(generation: number, ops: readonly Operation[]): Promise<void> {
    const nb = this.#nb;
    check(nb !== undefined, "transact without a client");
    // A deposed leader's transaction still in the pipe is harmless (the fence stops it); a new
    // one is never started.
    if (generation !== this.#generation || this.#closed) throw new Aborted("leadership changed");
    const fence = waitOp(
      "NB_Global",
      [["external_ids", "includes", ovsMap({ [this.#fenceKey]: String(this.#term) })]],
      [],
      "!=",
      [],
    );
    const all = [fence, ...ops];
    check(all.length <= this.#txnOpsMax, "transaction over txnOpsMax");
    const startedAt = performance.now();
    let result: "ok" | "error" = "error";
    try {
      await nb.transact(NB_DATABASE, all);
      result = "ok";
      this.#transactions++;
      this.#operations += all.length;
    } catch (e) {
      this.#transactions++;
      this.#failedTransactions++;
      if (e instanceof OvsdbTransactionError && e.opIndex === 0) {
        this.#setFenced("a transaction's term check failed");
        throw new Fenced("fenced");
      }
      throw e;
    } finally {
      this.#o.onTransaction?.(result, (performance.now() - startedAt) / 1000, all.length);
    }
  }

  /** True when NB_Global holds our term (taking it if it holds an older one or none). */
  async #ensureFence(generation: number): Promise<boolean> {
    const nb = this.#nb;
    check(nb !== undefined, "fence without a client");
    const term = this.#term;
    const global = [...nb.cache.table("NB_Global").values()][0];
    const stored = global?.external_ids[this.#fenceKey];
    if (stored === String(term)) {
      this.#fenced = false;
      return true;
    }
    // An unparsable value is no leader's term (a hand edit): it is overwritten like an old one.
    const parsed = stored === undefined ? 0 : Number(stored);
    const storedTerm = Number.isSafeInteger(parsed) ? parsed : 0;
    if (storedTerm > term) {
      this.#setFenced(`NB_Global holds term ${String(stored)} > ${term}`);
      return false;
    }
    const ops: Operation[] =
      global === undefined
        ? [
            // No NB_Global yet: create it, unless someone else just did.
            waitOp("NB_Global", [], [], "==", []),
            {
              op: "insert",
              table: "NB_Global",
              row: { external_ids: ovsMap({ [this.#fenceKey]: String(term) }) },
            },
          ]
        : [
            // Compare-and-swap: external_ids exactly as observed, then set our term. The fence
            // keys of adopted clusters go too: their rows are ours now.
            waitOp("NB_Global", whereUuid(global._uuid), ["external_ids"], "==", [
              { external_ids: ovsMap(stringMap(global.external_ids)) },
            ]),
            {
              op: "mutate",
              table: "NB_Global",
              where: whereUuid(global._uuid),
              mutations: [
                ["external_ids", "delete", ovsSet([this.#fenceKey, ...this.#adoptedFenceKeys])],
                ["external_ids", "insert", ovsMap({ [this.#fenceKey]: String(term) })],
              ],
            },
          ];
    if (generation !== this.#generation) return false;
    const startedAt = performance.now();
    let result: "ok" | "error" = "error";
    try {
      await nb.transact(NB_DATABASE, ops);
      result = "ok";
      this.#transactions++;
      this.#operations += ops.length;
    } catch (e) {
      this.#transactions++;
      this.#failedTransactions++;
      // A lost race (NB_Global changed under us) is retried after re-reading it.
      this.#failed(e, "taking the fence");
      return false;
    } finally {
      this.#o.onTransaction?.(result, (performance.now() - startedAt) / 1000, ops.length);
    }
    if (generation !== this.#generation) return false;
    this.#fenced = false;
    this.#info("took the NB fence", { term, previous: stored ?? null });
    return true;
  }

  #setFenced(reason: string): void {
    if (!this.#fenced)
      this.#log.warn({ term: this.#term, reason }, "fenced: a newer leader owns NB");
    this.#fenced = true;
    this.#lastError = `fenced: ${reason}`;
    this.#fullNeeded = true;
    this.#updatePhase();
    if (this.#fenceTimer === undefined && !this.#closed && this.#term !== 0) {
      this.#fenceTimer = setTimeout(() => {
        this.#fenceTimer = undefined;
        // Look again: NB may have been rebuilt without our key (then we may take it).
        this.#fenceRecheckDue = true;
        this.#kick();
      }, this.#fenceRecheckMs);
      this.#fenceTimer.unref();
    }
  }

  #failed(e: unknown, what: string): void {
    if (!(e instanceof OvsdbTransactionError) && this.#nb?.connected !== true) {
      // NB went away: the reconnect's snapshot triggers a full pass.
      this.#lastError = `${what}: ${errorText(e)}`;
      this.#fullNeeded = true;
      return;
    }
    this.#lastError = `${what}: ${errorText(e)}`;
    this.#warn(what, { error: errorText(e), retryInMs: this.#retryDelayMs }, `${what} failed`);
    this.#fullNeeded = true;
    if (this.#retryTimer === undefined && !this.#closed) {
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        this.#kick();
      }, this.#retryDelayMs);
      this.#retryTimer.unref();
      this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, this.#retryDelayMaxMs);
    }
  }

  #clearTimers(): void {
    for (const t of [this.#retryTimer, this.#fenceTimer, this.#fullTimer])
      if (t !== undefined) clearTimeout(t);
    this.#retryTimer = undefined;
    this.#fenceTimer = undefined;
    this.#fullTimer = undefined;
  }

  #updatePhase(): void {
    const phase: OvnSyncPhase =
      this.#closed || !this.#started
        ? "stopped"
        : this.#term === 0
          ? "follower"
          : this.#fenced
            ? "fenced"
            : !this.#connected
              ? "disconnected"
              : this.#fullDone
                ? "in-sync"
                : "full-sync";
    if (phase === this.#phase) return;
    this.#log.info({ from: this.#phase, to: phase, term: this.#term }, `OVN sync: ${phase}`);
    this.#phase = phase;
  }

  #info(msg: string, extra: Record<string, unknown> = {}): void {
    this.#log.info({ term: this.#term, ...extra }, msg);
  }

  /** Warn at most once per warnIntervalMs per kind; say how many were held back. */
  #warn(kind: string, obj: Record<string, unknown>, msg: string): void {
    const now = Date.now();
    const w = this.#warned.get(kind);
    if (w !== undefined && now - w.at < warnIntervalMs) {
      w.suppressed++;
      return;
    }
    this.#log.warn({ ...obj, suppressed: w?.suppressed ?? 0 }, msg);
    this.#warned.set(kind, { at: now, suppressed: 0 });
  }
}

const emptyState: StateReader = {
  vpcs: () => [],
  subnets: () => [],
  ports: () => [],
  securityGroups: () => [],
  snats: () => [],
  dnats: () => [],
};

function stringMap(m: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) out[k] = String(v);
  return out;
}

function* scopedEntries(owned: OwnedIndex, scope: ReadonlySet<string>): Generator<OwnedEntry> {
  for (const vpc of scope) {
    for (const uuid of owned.uuidsOfVpc(vpc) ?? []) {
      const e = owned.byUuid.get(uuid);
      if (e !== undefined) yield e;
    }
  }
  for (const uuid of owned.clusterWide) {
    const e = owned.byUuid.get(uuid);
    if (e !== undefined) yield e;
  }
}
