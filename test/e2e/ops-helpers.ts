// Shared by the operations process tests (operations*.test.ts): polling with bounds, a
// background port writer that records every acknowledged port and every failure, status of one
// replica, waiting for catch-up and convergence.
import { setTimeout as sleep } from "node:timers/promises";
import type { LocalCluster, ReplicaProcess } from "../../cluster/lib/replica-processes.js";
import {
  type ClusterClient,
  type ClusterStatus,
  type NetworkClient,
  NovanetError,
} from "../../src/client/index.js";

/** Polls `fn` until it returns a value other than undefined; throws after `ms`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  ms: number,
  everyMs = 50,
): Promise<T> {
  const until = Date.now() + ms;
  let last: unknown;
  for (let i = 0; Date.now() < until && i < 100_000; i++) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

export async function statusOf(
  admin: ClusterClient,
  r: ReplicaProcess,
  deadlineMs = 1500,
): Promise<ClusterStatus> {
  return admin.status({ endpoint: r.apiAddress, deadlineMs });
}

/** The leader's status, asking the given replicas (which must agree on nothing else). */
export async function leaderStatus(
  admin: ClusterClient,
  replicas: ReplicaProcess[],
  ms = 15_000,
): Promise<{ replica: ReplicaProcess; status: ClusterStatus }> {
  return waitFor(
    "a leader",
    async () => {
      for (const r of replicas) {
        if (!r.running()) continue;
        const s = await statusOf(admin, r, 800).catch(() => undefined);
        if (s?.role === "leader") return { replica: r, status: s };
      }
      return undefined;
    },
    ms,
    100,
  );
}

export async function waitReady(r: ReplicaProcess, ms = 20_000): Promise<void> {
  await waitFor(
    `${r.spec.id} /ready`,
    async () => {
      const res = await fetch(`http://127.0.0.1:${r.spec.metricsPort}/ready`, {
        signal: AbortSignal.timeout(1000),
      });
      return res.status === 200 ? true : undefined;
    },
    ms,
    100,
  );
}

export interface Acked {
  id: string;
  ip: string;
  subnetId: string;
}

/**
 * `workers` concurrent loops of CreatePort (and, with `reads`, a GetPort of an acknowledged port
 * after every write and a ListPorts page every 10th), bounded by `maxPerWorker` iterations and
 * `maxMs`. Every acknowledged port and every failure surfacing to the caller is recorded.
 */
export class PortWriter {
  readonly acked: Acked[] = [];
  readonly failures: { op: string; at: number; error: unknown }[] = [];
  reads = 0;
  #stop = false;
  #workers: Promise<void>[] = [];

  constructor(
    readonly client: NetworkClient,
    readonly subnetId: string,
    readonly opts: { workers: number; maxPerWorker: number; maxMs: number; reads?: boolean },
  ) {}

  start(): this {
    const until = Date.now() + this.opts.maxMs;
    const worker = async (w: number) => {
      for (let i = 0; i < this.opts.maxPerWorker && !this.#stop && Date.now() < until; i++) {
        try {
          // The server picks the MAC: thousands of ports in one VPC also check that it never
          // proposes one the VPC already uses (MAC_ADDRESS_IN_USE would count as a failure).
          const p = await this.client.createPort({ subnetId: this.subnetId });
          this.acked.push({ id: p.id, ip: p.ipAddress, subnetId: p.subnetId });
        } catch (error) {
          this.failures.push({ op: "createPort", at: Date.now(), error });
          await sleep(20);
        }
        if (!this.opts.reads || this.acked.length === 0) continue;
        const pick = this.acked[(i * 7919 + w) % this.acked.length]!;
        try {
          const got = await this.client.getPort({ portId: pick.id });
          if (got.ipAddress !== pick.ip) {
            this.failures.push({
              op: "getPort",
              at: Date.now(),
              error: new Error(`port ${pick.id}: ip ${got.ipAddress}, acknowledged ${pick.ip}`),
            });
          }
          this.reads++;
          if (i % 10 === 0) {
            await this.client.listPorts({ subnetId: this.subnetId, pageSize: 20 });
            this.reads++;
          }
        } catch (error) {
          this.failures.push({ op: "read", at: Date.now(), error });
        }
      }
    };
    this.#workers = Array.from({ length: this.opts.workers }, (_, w) => worker(w));
    return this;
  }

  /** Waits until `n` more ports than now are acknowledged (bounded by `ms`). */
  async progress(n: number, ms = 20_000): Promise<void> {
    const target = this.acked.length + n;
    await waitFor(
      `${n} more acknowledged ports`,
      () => this.acked.length >= target || undefined,
      ms,
      20,
    );
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#workers);
  }

  describeFailures(): string {
    return this.failures
      .slice(0, 10)
      .map((f) => {
        const e = f.error;
        const what = e instanceof NovanetError ? `${e.code}: ${e.message}` : String(e);
        return `${f.op} at ${new Date(f.at).toISOString()}: ${what}`;
      })
      .join("\n");
  }
}

/**
 * Every acknowledged port exists (ListPorts, linearizable, and GetPort for a sample) with its
 * acknowledged IP; no IP appears twice within a subnet.
 */
export async function checkPorts(
  client: NetworkClient,
  acked: Acked[],
): Promise<{ listed: number }> {
  const listed = new Map<string, { ip: string; subnetId: string }>();
  for await (const p of client.listAllPorts({ pageSize: 500 })) {
    listed.set(p.id, { ip: p.ipAddress, subnetId: p.subnetId });
  }
  const missing = acked.filter((p) => listed.get(p.id)?.ip !== p.ip);
  if (missing.length > 0) {
    throw new Error(
      `${missing.length} acknowledged ports missing or changed, e.g. ${JSON.stringify(missing.slice(0, 3))}`,
    );
  }
  const seen = new Map<string, string>();
  for (const [id, p] of listed) {
    const key = `${p.subnetId} ${p.ip}`;
    const other = seen.get(key);
    if (other !== undefined) throw new Error(`IP ${p.ip} in ${p.subnetId} on ${other} and ${id}`);
    seen.set(key, id);
  }
  for (let i = 0; i < acked.length; i += Math.max(1, Math.floor(acked.length / 20))) {
    const p = acked[i]!;
    const got = await client.getPort({ portId: p.id });
    if (got.ipAddress !== p.ip) throw new Error(`GetPort ${p.id}: ${got.ipAddress} != ${p.ip}`);
  }
  return { listed: listed.size };
}

/**
 * Waits until every given replica reports the same applied index and the same resource digest
 * (and state digest); returns that status.
 */
export async function converged(
  admin: ClusterClient,
  replicas: ReplicaProcess[],
  ms = 15_000,
): Promise<ClusterStatus[]> {
  let last: ClusterStatus[] = [];
  try {
    return await waitFor(
      "the same applied index and resource digest everywhere",
      async () => {
        last = await Promise.all(replicas.map((r) => statusOf(admin, r)));
        const a = last[0]!;
        return last.every(
          (s) =>
            s.appliedIndex === a.appliedIndex &&
            s.resourceDigest === a.resourceDigest &&
            s.stateDigest === a.stateDigest &&
            s.resourceDigest !== "",
        )
          ? last
          : undefined;
      },
      ms,
      200,
    );
  } catch (e) {
    throw new Error(
      `${(e as Error).message}; last: ${JSON.stringify(last.map((s) => [s.id, s.appliedIndex, s.resourceDigest.slice(0, 12)]))}`,
    );
  }
}

/** What the leader reported about one member while it caught up. */
export interface CatchUp {
  maxLagEntries: number;
  maxLagBytes: number;
  states: Set<string>;
  samples: number;
  ms: number;
}

/**
 * Polls the leader's progress for `id` until the member's match has reached the leader's commit
 * index (what promotion requires) and the member itself has applied it.
 */
export async function waitCaughtUp(
  admin: ClusterClient,
  cluster: LocalCluster,
  id: string,
  ms = 30_000,
): Promise<CatchUp> {
  const started = Date.now();
  const seen: CatchUp = { maxLagEntries: 0, maxLagBytes: 0, states: new Set(), samples: 0, ms: 0 };
  const member = cluster.byId(id);
  await waitFor(
    `${id} to catch up`,
    async () => {
      const { status } = await leaderStatus(admin, cluster.replicas, 5000);
      const p = status.progress.find((x) => x.id === id);
      if (!p) return undefined;
      seen.samples++;
      seen.states.add(p.state);
      seen.maxLagEntries = Math.max(seen.maxLagEntries, p.lagEntries);
      seen.maxLagBytes = Math.max(seen.maxLagBytes, p.lagBytes);
      if (p.match < status.commitIndex && p.lagEntries > 0) return undefined;
      const own = await statusOf(admin, member);
      return own.appliedIndex >= status.commitIndex ? true : undefined;
    },
    ms,
    25,
  );
  seen.ms = Date.now() - started;
  return seen;
}

/** Promotes a caught-up learner, retrying (bounded) while the leader says it is not caught up. */
export async function promote(admin: ClusterClient, id: string, ms = 15_000): Promise<number> {
  let tries = 0;
  await waitFor(
    `promotion of ${id}`,
    async () => {
      tries++;
      try {
        const r = await admin.promote(id);
        return r.members.find((m) => m.id === id && !m.isLearner) ? true : undefined;
      } catch (e) {
        if (e instanceof NovanetError && e.code === "FAILED_PRECONDITION") return undefined;
        throw e;
      }
    },
    ms,
    100,
  );
  return tries;
}

export function peerAddress(r: ReplicaProcess): string {
  return `127.0.0.1:${r.spec.peerPort}`;
}
