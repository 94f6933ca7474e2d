// The chaos suite's cluster: NovaNET replica processes (cluster/lib/replica-processes.ts) with a
// Toxiproxy proxy on every directed link between replicas and on every client → replica link,
// driven through Toxiproxy's HTTP API (toxiproxy-node-client), plus process faults.
//
// Links. Replica i sends its Raft messages (and forwarded writes) to j only on the connection it
// dials to j; j answers on the connection j dials to i. Each replica is started with
// replica.peer_dial_overrides naming its own outgoing proxies, so the proxy `peer-<i>-<j>`
// (listen: a free port, upstream: j's real peer port) carries exactly the traffic i → j, and
// faulting it is a directed link fault. The membership keeps the real addresses. A replica added
// later (addReplica) dials through its proxies too, but the running ones dial it directly.
//
// Clients use `clientEndpoints()`, one proxy `api-<id>` per replica. Status and leader queries
// of the harness itself go to the real API ports, so faults never blind the harness. A client of
// the proxied endpoints should set followLeaderHints: false (replicas name the leader's real
// API address).
//
// A cut is a `timeout` toxic with timeout 0 on both streams of the link's proxy: live
// connections stay open but deliver nothing (a blackhole, as a partitioned network does; the
// gRPC keepalive then gives up on them), and new connections are accepted by the proxy and then
// starve, so the dialer's connect timeout fires. Disabling the proxy instead would close the
// connections and make re-dials fail fast with "connection refused": a crash, not a partition.
import { setTimeout as sleep } from "node:timers/promises";
import { type Toxic, type Proxy as ToxiProxy, Toxiproxy } from "toxiproxy-node-client";
import {
  freePort,
  LocalCluster,
  type ReplicaOvnOptions,
  type ReplicaProcess,
} from "../../cluster/lib/replica-processes.js";
import { ClusterClient, type ClusterStatus } from "../../src/client/index.js";
import { createRng } from "./toxiproxy/toxics.js";

export interface ChaosClusterOptions {
  replicas: 3 | 5;
  /** Root folder for the replicas' data dirs and logs. */
  dir: string;
  /** Toxiproxy HTTP API, e.g. "http://127.0.0.1:8474". */
  toxiproxyUrl: string;
  /** OVN for the replicas to sync (default: OVN sync off). */
  ovn?: { nbRemote: string };
  /** Seeds the choices the harness makes (majorities ring order). */
  seed: number;
  /** Raft tick (default 50 ms: election timeout ≈ 0.5–1 s). */
  tickMs?: number;
  logLevel?: string;
}

/** A directed replica link, a proxy name ("peer-n1-n2", "api-n1"), or every proxy. */
export type LinkRef = { from: string; to: string } | string;

type Stream = "upstream" | "downstream";

/** Polls `ok` every 200 ms until it holds, or throws after ms. */
async function until_(what: string, ms: number, ok: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await ok()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what} (${ms} ms)`);
    await sleep(200);
  }
}

export const peerProxyName = (from: string, to: string): string => `peer-${from}-${to}`;
export const apiProxyName = (id: string): string => `api-${id}`;

export class ChaosCluster {
  readonly ids: string[];
  readonly #toxics = new Map<string, Map<string, Toxic<unknown>>>();
  readonly #random: () => number;
  readonly #admin: ClusterClient;
  #stopped = false;

  private constructor(
    readonly local: LocalCluster,
    readonly toxiproxy: Toxiproxy,
    readonly proxies: ReadonlyMap<string, ToxiProxy>,
    readonly apiProxyAddresses: ReadonlyMap<string, string>,
    seed: number,
    /** Listen port of every peer proxy by name (read by the replicas' extraArgs). */
    readonly peerListen: Map<string, number>,
  ) {
    this.ids = local.replicas.map((r) => r.spec.id);
    this.#random = createRng(seed);
    this.#admin = ClusterClient.connect({
      endpoints: local.endpoints(),
      deadlineMs: 2000,
      followLeaderHints: false,
    });
  }

  /**
   * Creates the proxies (replacing any of the same names left on the server), then starts the
   * replicas with their outgoing peer links pointed at them. Does not wait for a leader.
   */
  static async start(o: ChaosClusterOptions): Promise<ChaosCluster> {
    const toxiproxy = new Toxiproxy(o.toxiproxyUrl.replace(/\/$/, ""));
    const ids = Array.from({ length: o.replicas }, (_, i) => `n${i + 1}`);
    // Listen ports of the proxies first: each replica's flags name its outgoing proxies. Ports
    // are probed one by one (bind, close), so the proxies' and the replicas' may collide: then
    // allocate again (nothing is started before the check).
    // One map for the life of the cluster: extraArgs reads it, addReplica adds to it.
    const peerListen = new Map<string, number>();
    let apiListen = new Map<string, number>();
    let local: LocalCluster | undefined;
    for (let attempt = 0; attempt < 10 && local === undefined; attempt++) {
      peerListen.clear();
      for (const from of ids) {
        for (const to of ids) {
          if (from !== to) peerListen.set(peerProxyName(from, to), await freePort());
        }
      }
      apiListen = new Map();
      for (const id of ids) apiListen.set(id, await freePort());
      const candidate = await LocalCluster.create({
        kind: "novanet",
        dir: o.dir,
        replicas: o.replicas,
        clusterId: "novanet-chaos",
        tickMs: o.tickMs ?? 50,
        logLevel: o.logLevel ?? "info",
        ...(o.ovn ? { ovn: { nbRemote: o.ovn.nbRemote } satisfies ReplicaOvnOptions } : {}),
        // Every outgoing proxy `peer-<id>-<to>` known when the process object is made (a
        // replica added later finds its own in the map; ids contain no "-").
        extraArgs: (id) => {
          const prefix = `peer-${id}-`;
          const overrides = [...peerListen]
            .filter(([name]) => name.startsWith(prefix))
            .map(([name, port]) => `${name.slice(prefix.length)}=127.0.0.1:${port}`)
            .join(",");
          return [`--replica.peer_dial_overrides=${overrides}`];
        },
      });
      const ports = [
        ...peerListen.values(),
        ...apiListen.values(),
        ...candidate.replicas.flatMap((r) => [r.spec.apiPort, r.spec.peerPort, r.spec.metricsPort]),
      ];
      if (new Set(ports).size === ports.length) local = candidate;
    }
    if (local === undefined) throw new Error("could not find distinct free ports");

    const existing = await toxiproxy.getAll();
    const proxies = new Map<string, ToxiProxy>();
    const create = async (name: string, listen: number, upstream: number) => {
      await existing[name]?.remove();
      proxies.set(
        name,
        await toxiproxy.createProxy({
          name,
          listen: `127.0.0.1:${listen}`,
          upstream: `127.0.0.1:${upstream}`,
          enabled: true,
        }),
      );
    };
    for (const from of ids) {
      for (const to of ids) {
        if (from === to) continue;
        const name = peerProxyName(from, to);
        await create(name, peerListen.get(name)!, local.byId(to).spec.peerPort);
      }
    }
    const apiAddresses = new Map<string, string>();
    for (const id of ids) {
      await create(apiProxyName(id), apiListen.get(id)!, local.byId(id).spec.apiPort);
      apiAddresses.set(id, `127.0.0.1:${apiListen.get(id)}`);
    }
    local.startAll();
    return new ChaosCluster(local, toxiproxy, proxies, apiAddresses, o.seed, peerListen);
  }

  replica(id: string): ReplicaProcess {
    return this.local.byId(id);
  }

  /** The proxied client API addresses, in replica order (or one replica's). */
  clientEndpoints(): string[];
  clientEndpoints(id: string): string;
  clientEndpoints(id?: string): string[] | string {
    if (id !== undefined) {
      const a = this.apiProxyAddresses.get(id);
      if (a === undefined) throw new Error(`no replica ${id}`);
      return a;
    }
    return this.ids.map((i) => this.apiProxyAddresses.get(i)!);
  }

  /** Real (unproxied) client API addresses of the current members: for the harness's queries. */
  directEndpoints(): string[] {
    return this.ids.map((id) => this.replica(id).apiAddress);
  }

  // --- membership changes --------------------------------------------------------------------

  /** An admin client on the current members' real API ports (closed by the caller). */
  #membershipClient(): ClusterClient {
    return ClusterClient.connect({
      endpoints: this.directEndpoints(),
      deadlineMs: 3000,
      followLeaderHints: true,
    });
  }

  async #createProxy(name: string, listen: number, upstream: number): Promise<void> {
    const existing = await this.toxiproxy.getAll();
    await existing[name]?.remove();
    (this.proxies as Map<string, ToxiProxy>).set(
      name,
      await this.toxiproxy.createProxy({
        name,
        listen: `127.0.0.1:${listen}`,
        upstream: `127.0.0.1:${upstream}`,
        enabled: true,
      }),
    );
  }

  async #dropProxy(name: string): Promise<void> {
    const p = this.proxies.get(name);
    this.#toxics.delete(name);
    (this.proxies as Map<string, ToxiProxy>).delete(name);
    await p?.remove().catch(() => {});
  }

  /**
   * Adds a fresh replica `id` as a voter, under load: creates its proxies (peer links both ways
   * with every current member, and `api-<id>`), starts it joining (its outgoing links through its
   * proxies), adds it as a learner at its real peer address (the membership is what replicates),
   * waits (bounded) until its lag is 0 and promotes it (retrying while refused as not caught up).
   *
   * Limitation: the running members cannot change their flags, so they dial the new replica at
   * its membership (real) address: the links `peer-<existing>-<id>` exist but carry nothing, and
   * faults on them (cuts, partitions) only act on the direction id → existing.
   * Returns the time spent per step.
   */
  async addReplica(id: string, ms = 60_000): Promise<string> {
    if (this.ids.includes(id)) throw new Error(`replica ${id} exists`);
    const until = Date.now() + ms;
    const left = () => Math.max(1, until - Date.now());
    const members = this.ids.map((x) => this.replica(x));
    // Its outgoing proxies' ports first: the process's flags are computed from peerListen.
    for (const to of this.ids) this.peerListen.set(peerProxyName(id, to), await freePort());
    for (const from of this.ids) this.peerListen.set(peerProxyName(from, id), await freePort());
    const r = await this.local.addJoiningReplica(id, members);
    const apiListen = await freePort();
    for (const to of this.ids) {
      const name = peerProxyName(id, to);
      await this.#createProxy(name, this.peerListen.get(name)!, this.replica(to).spec.peerPort);
    }
    for (const from of this.ids) {
      const name = peerProxyName(from, id);
      await this.#createProxy(name, this.peerListen.get(name)!, r.spec.peerPort);
    }
    await this.#createProxy(apiProxyName(id), apiListen, r.spec.apiPort);
    (this.apiProxyAddresses as Map<string, string>).set(id, `127.0.0.1:${apiListen}`);
    r.start();
    const t0 = Date.now();
    const admin = this.#membershipClient();
    try {
      await until_(
        `${id} to answer status`,
        left(),
        async () =>
          (await this.#admin
            .status({ endpoint: r.apiAddress, deadlineMs: 1000 })
            .catch(() => undefined)) !== undefined,
      );
      const tUp = Date.now();
      await until_(`learner ${id} to be added`, left(), async () => {
        const m = await admin
          .addLearner({ id, peerAddress: `127.0.0.1:${r.spec.peerPort}`, apiAddress: r.apiAddress })
          .catch(async () => admin.members().catch(() => undefined));
        return m?.members.some((x) => x.id === id) ?? false;
      });
      // A member from here on: the harness observes it (statuses, final checks).
      this.ids.push(id);
      const tAdded = Date.now();
      await until_(`${id} to catch up`, left(), async () => {
        const l = await this.leader();
        const s = l === undefined ? undefined : await this.status(l, 1000);
        const p = s?.progress.find((x) => x.id === id);
        return (
          s !== undefined && p !== undefined && (p.lagEntries === 0 || p.match >= s.commitIndex)
        );
      });
      const tCaught = Date.now();
      await until_(`promotion of ${id}`, left(), async () => {
        const m = await admin.promote(id).catch(() => admin.members().catch(() => undefined));
        return m?.members.some((x) => x.id === id && !x.isLearner) ?? false;
      });
      return `up ${tUp - t0} ms, learner ${tAdded - tUp} ms, caught up ${tCaught - tAdded} ms, promoted ${Date.now() - tCaught} ms`;
    } catch (e) {
      // Never became a member: stop it and drop its proxies (a learner stays, observed).
      if (!this.ids.includes(id)) {
        await r.kill("SIGTERM");
        const names = [...this.proxies.keys()].filter(
          (n) => n === apiProxyName(id) || n.startsWith(`peer-${id}-`) || n.endsWith(`-${id}`),
        );
        await Promise.all(names.map((n) => this.#dropProxy(n)));
        (this.apiProxyAddresses as Map<string, string>).delete(id);
      }
      throw e;
    } finally {
      admin.close();
    }
  }

  /**
   * Removes member `id` (the leader too: it hands over once the change commits), then stops its
   * process and drops its proxies; the harness no longer observes it.
   */
  async removeReplica(id: string, ms = 30_000): Promise<void> {
    if (!this.ids.includes(id)) throw new Error(`no replica ${id}`);
    const admin = this.#membershipClient();
    try {
      await until_(`removal of ${id}`, ms, async () => {
        const m = await admin.remove(id).catch(() => admin.members().catch(() => undefined));
        return m !== undefined && !m.members.some((x) => x.id === id);
      });
    } finally {
      admin.close();
    }
    this.ids.splice(this.ids.indexOf(id), 1);
    const r = this.replica(id);
    r.child?.kill("SIGCONT");
    await r.kill("SIGTERM");
    const names = [...this.proxies.keys()].filter(
      (n) => n === apiProxyName(id) || n.startsWith(`peer-${id}-`) || n.endsWith(`-${id}`),
    );
    await Promise.all(names.map((n) => this.#dropProxy(n)));
    for (const n of names) this.peerListen.delete(n);
    (this.apiProxyAddresses as Map<string, string>).delete(id);
  }

  // --- network faults ------------------------------------------------------------------------

  #proxy(name: string): ToxiProxy {
    const p = this.proxies.get(name);
    if (!p) throw new Error(`no proxy ${name}`);
    return p;
  }

  #names(link: LinkRef): string[] {
    if (typeof link !== "string") return [peerProxyName(link.from, link.to)];
    if (link === "all") return [...this.proxies.keys()];
    if (link === "peers") return [...this.proxies.keys()].filter((n) => n.startsWith("peer-"));
    this.#proxy(link);
    return [link];
  }

  /** Adds (or replaces) a toxic named `<kind>-<stream>` on a proxy. */
  async #toxic<T>(
    proxyName: string,
    kind: string,
    type: Toxic<T>["type"],
    stream: Stream,
    attributes: T,
  ): Promise<void> {
    const name = `${kind}-${stream}`;
    let onProxy = this.#toxics.get(proxyName);
    if (!onProxy) {
      onProxy = new Map();
      this.#toxics.set(proxyName, onProxy);
    }
    const old = onProxy.get(name);
    if (old) {
      onProxy.delete(name);
      await old.remove();
    }
    const t = await this.#proxy(proxyName).addToxic<T>({
      name,
      type,
      stream,
      toxicity: 1,
      attributes,
    });
    onProxy.set(name, t as Toxic<unknown>);
  }

  async #removeToxics(proxyName: string, match: (toxicName: string) => boolean): Promise<void> {
    const onProxy = this.#toxics.get(proxyName);
    if (!onProxy) return;
    for (const [name, t] of [...onProxy]) {
      if (!match(name)) continue;
      onProxy.delete(name);
      await t.remove();
    }
  }

  /** Blackholes the link from → to (both streams of its proxy); the reverse link is untouched. */
  async cutLink(from: string, to: string): Promise<void> {
    await this.#cut(peerProxyName(from, to));
  }

  async #cut(proxyName: string): Promise<void> {
    if (this.#toxics.get(proxyName)?.has("cut-upstream")) return;
    for (const stream of ["upstream", "downstream"] as const) {
      await this.#toxic(proxyName, "cut", "timeout", stream, { timeout: 0 });
    }
  }

  /** Restores one directed link (removes its cut; other toxics stay). */
  async healLink(from: string, to: string): Promise<void> {
    await this.#removeToxics(peerProxyName(from, to), (n) => n.startsWith("cut-"));
  }

  /**
   * Symmetric partition: every link between replicas of different groups is cut both ways.
   * Replicas in no group are each a group of their own. Replaces any earlier cuts.
   */
  async partition(groups: string[][]): Promise<void> {
    const groupOf = new Map<string, number>();
    groups.forEach((g, i) => {
      for (const id of g) {
        if (!this.ids.includes(id)) throw new Error(`no replica ${id}`);
        if (groupOf.has(id)) throw new Error(`${id} is in two groups`);
        groupOf.set(id, i);
      }
    });
    let next = groups.length;
    for (const id of this.ids) if (!groupOf.has(id)) groupOf.set(id, next++);
    await this.#setCuts((a, b) => groupOf.get(a) !== groupOf.get(b));
  }

  /** Cuts every link to and from `id` (its client API link stays up). */
  async isolate(id: string): Promise<void> {
    await this.partition([[id], this.ids.filter((x) => x !== id)]);
  }

  /**
   * Jepsen's majorities ring: the replicas in a (seeded) random ring; each one sees itself and
   * its nearest neighbours on both sides, a majority, and no two see the same majority. With 5
   * replicas each sees its two neighbours and not the two others. Returns what each one sees.
   */
  async majoritiesRing(): Promise<Record<string, string[]>> {
    const n = this.ids.length;
    if (n < 5) throw new Error("majoritiesRing needs at least 5 replicas");
    const ring = [...this.ids];
    for (let i = ring.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      [ring[i], ring[j]] = [ring[j]!, ring[i]!];
    }
    const majority = Math.floor(n / 2) + 1;
    const reach = Math.ceil((majority - 1) / 2);
    const sees: Record<string, string[]> = {};
    ring.forEach((id, i) => {
      const view = [id];
      for (let d = 1; d <= reach; d++) view.push(ring[(i + d) % n]!, ring[(i - d + n) % n]!);
      sees[id] = [...new Set(view)].sort();
    });
    await this.#setCuts((a, b) => !sees[a]!.includes(b));
    return sees;
  }

  /** Cuts exactly the directed links for which `cut(from, to)` holds and heals all others. */
  async #setCuts(cut: (from: string, to: string) => boolean): Promise<void> {
    const work: Promise<void>[] = [];
    for (const from of this.ids) {
      for (const to of this.ids) {
        if (from === to) continue;
        work.push(cut(from, to) ? this.cutLink(from, to) : this.healLink(from, to));
      }
    }
    await Promise.all(work);
  }

  /** Removes every cut and every other toxic, and enables every proxy. */
  async heal(): Promise<void> {
    await Promise.all(
      [...this.proxies.keys()].map(async (name) => {
        await this.#removeToxics(name, () => true);
        await this.#setEnabled(name, true);
      }),
    );
  }

  /** Disables (closes, refuses) or enables a proxy, e.g. a client API link. */
  async setEnabled(link: LinkRef, enabled: boolean): Promise<void> {
    await Promise.all(this.#names(link).map((n) => this.#setEnabled(n, enabled)));
  }

  async #setEnabled(name: string, enabled: boolean): Promise<void> {
    const p = this.#proxy(name);
    const updated = await p.update({ enabled, listen: p.listen, upstream: p.upstream });
    (this.proxies as Map<string, ToxiProxy>).set(name, updated);
  }

  /**
   * Delay on a link's traffic: latency ± jitter ms. For a replica link that is the from → to
   * direction (its proxy's upstream); `"all"` means every proxy, `"peers"` every replica link.
   */
  async addLatency(link: LinkRef, ms: number, jitter = 0, stream: Stream = "upstream") {
    await Promise.all(
      this.#names(link).map((n) =>
        this.#toxic(n, "latency", "latency", stream, { latency: ms, jitter }),
      ),
    );
  }

  /** Resets (TCP RST) the link's connections after timeoutMs of data (0: at once). */
  async resetPeer(link: LinkRef, timeoutMs = 0, stream: Stream = "upstream") {
    await Promise.all(
      this.#names(link).map((n) =>
        this.#toxic(n, "reset_peer", "reset_peer", stream, { timeout: timeoutMs }),
      ),
    );
  }

  /** Limits the link to rateKBps kilobytes per second. */
  async bandwidth(link: LinkRef, rateKBps: number, stream: Stream = "upstream") {
    await Promise.all(
      this.#names(link).map((n) =>
        this.#toxic(n, "bandwidth", "bandwidth", stream, { rate: rateKBps }),
      ),
    );
  }

  /** Slices the link's data into ~averageSize-byte pieces, delayUs microseconds apart. */
  async slicer(
    link: LinkRef,
    averageSize: number,
    sizeVariation: number,
    delayUs: number,
    stream: Stream = "upstream",
  ) {
    await Promise.all(
      this.#names(link).map((n) =>
        this.#toxic(n, "slicer", "slicer", stream, {
          average_size: averageSize,
          size_variation: sizeVariation,
          delay: delayUs,
        }),
      ),
    );
  }

  /** Closes each of the link's connections after `bytes` bytes. */
  async limitData(link: LinkRef, bytes: number, stream: Stream = "upstream") {
    await Promise.all(
      this.#names(link).map((n) => this.#toxic(n, "limit_data", "limit_data", stream, { bytes })),
    );
  }

  /** Removes the named kind of toxic ("latency", "bandwidth", …) from a link. */
  async clear(link: LinkRef, kind: string): Promise<void> {
    await Promise.all(
      this.#names(link).map((n) => this.#removeToxics(n, (t) => t.startsWith(`${kind}-`))),
    );
  }

  // --- process faults ------------------------------------------------------------------------

  async kill(id: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    await this.replica(id).kill(signal);
  }

  /** SIGSTOP: the process keeps its sockets but does nothing (a GC pause, a stalled VM). */
  async pause(id: string): Promise<void> {
    await this.replica(id).kill("SIGSTOP");
  }

  async resume(id: string): Promise<void> {
    await this.replica(id).kill("SIGCONT");
  }

  /** Kills (if running) and starts the replica again with the same data dir and flags. */
  async restart(id: string, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const r = this.replica(id);
    if (r.running()) {
      r.child?.kill("SIGCONT");
      await r.kill(signal);
    }
    r.start();
  }

  // --- observation ---------------------------------------------------------------------------

  /** Status of one replica through its real API port (undefined: no answer). */
  async status(id: string, deadlineMs = 1000): Promise<ClusterStatus | undefined> {
    const r = this.replica(id);
    if (!r.running()) return undefined;
    return this.#admin.status({ endpoint: r.apiAddress, deadlineMs }).catch(() => undefined);
  }

  async statuses(deadlineMs = 1000): Promise<Map<string, ClusterStatus>> {
    const out = new Map<string, ClusterStatus>();
    await Promise.all(
      this.ids.map(async (id) => {
        const s = await this.status(id, deadlineMs);
        if (s) out.set(id, s);
      }),
    );
    return out;
  }

  /**
   * The replica that says it leads in the highest term (a deposed leader cut off from the
   * others may still say so in an older term), or undefined.
   */
  async leader(): Promise<string | undefined> {
    let best: ClusterStatus | undefined;
    for (const s of (await this.statuses()).values()) {
      if (s.role === "leader" && (!best || s.term > best.term)) best = s;
    }
    return best?.id;
  }

  /** Every replica that says it leads, with its term. */
  async leaders(): Promise<{ id: string; term: number }[]> {
    return [...(await this.statuses()).values()]
      .filter((s) => s.role === "leader")
      .map((s) => ({ id: s.id, term: s.term }));
  }

  /** Polls until every replica answers status (e.g. after start or restart). */
  async waitAllUp(ms = 30_000): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if ((await this.statuses()).size === this.ids.length) return;
      await sleep(100);
    }
    const down = this.ids.filter((id) => !this.replica(id).running());
    throw new Error(
      `not every replica answered within ${ms} ms (exited: ${down.join(", ") || "none"})`,
    );
  }

  /** Polls until `pred` holds for the leader (default: any leader), within ms. */
  async waitLeader(ms = 20_000, pred: (id: string) => boolean = () => true): Promise<string> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const l = await this.leader();
      if (l !== undefined && pred(l)) return l;
      await sleep(100);
    }
    throw new Error(`no leader within ${ms} ms`);
  }

  /** Stops the replicas (resuming paused ones first) and removes the proxies. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#admin.close();
    for (const r of this.local.replicas) if (r.running()) r.child?.kill("SIGCONT");
    await this.local.stopAll();
    await Promise.all([...this.proxies.values()].map((p) => p.remove().catch(() => {})));
  }
}
