// The chaos harness against a real Toxiproxy-compatible server: TOXIPROXY_URL when set (e.g. a
// real toxiproxy-server), else the in-repo TypeScript server (test/chaos/toxiproxy/server.ts),
// started here. Three replica processes with a proxy on every directed link.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { NetworkClient } from "../../src/client/index.js";
import { ChaosCluster } from "./cluster.js";
import { startToxiproxyServer } from "./toxiproxy/index.js";

interface StartedServer {
  url: string;
  close(): Promise<void>;
}

async function toxiproxy(): Promise<StartedServer> {
  const url = process.env.TOXIPROXY_URL;
  if (url !== undefined) return { url, close: async () => {} };
  return startToxiproxyServer({ port: 0, seed: 7 });
}

const dir = mkdtempSync(join(tmpdir(), "novanet-chaos-"));
let server: StartedServer | undefined;
let cluster: ChaosCluster;
let client: NetworkClient;
let writes = 0;

/** One write (a VPC in a fresh project) through the proxied client endpoints. */
function write(opts: { endpoint?: string; deadlineMs?: number } = {}) {
  const n = ++writes;
  return client.createVpc(
    { orgId: "chaos", projectId: `p${n}`, name: `v${n}` },
    {
      deadlineMs: opts.deadlineMs ?? 10_000,
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    },
  );
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(150);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** One leader, every replica at the same applied index and resource digest. */
async function settled(ms = 30_000) {
  return waitFor(
    "one leader and equal resource digests",
    async () => {
      const st = [...(await cluster.statuses()).values()];
      if (st.length !== cluster.ids.length) return undefined;
      if (st.filter((s) => s.role === "leader").length !== 1) return undefined;
      const a = st[0]!;
      const same = st.every(
        (s) =>
          s.appliedIndex === a.appliedIndex &&
          s.resourceDigest === a.resourceDigest &&
          s.resourceDigest !== "",
      );
      return same ? st : undefined;
    },
    ms,
  );
}

describe("ChaosCluster (3 replicas, Toxiproxy)", () => {
  beforeAll(async () => {
    server = await toxiproxy();
    cluster = await ChaosCluster.start({
      replicas: 3,
      dir,
      toxiproxyUrl: server.url,
      seed: 1,
      logLevel: "warn",
    });
    client = NetworkClient.connect({
      endpoints: cluster.clientEndpoints(),
      // Replicas name the leader's real API address; stay on the proxied ones.
      followLeaderHints: false,
      deadlineMs: 10_000,
      attemptTimeoutMs: 2000,
    });
    await cluster.waitAllUp();
    await cluster.waitLeader(30_000);
    await waitFor("a first write", () => write());
  }, 60_000);

  afterEach(async () => {
    for (const id of cluster?.ids ?? []) await cluster.resume(id);
    await cluster?.heal();
  });

  afterAll(async () => {
    client?.close();
    await cluster?.stop();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  it("creates a proxy per directed peer link and per client link; replicas dial through them", async () => {
    const names = [...cluster.proxies.keys()].sort();
    expect(names).toEqual(
      [
        "api-n1",
        "api-n2",
        "api-n3",
        "peer-n1-n2",
        "peer-n1-n3",
        "peer-n2-n1",
        "peer-n2-n3",
        "peer-n3-n1",
        "peer-n3-n2",
      ].sort(),
    );
    expect(cluster.clientEndpoints()).not.toEqual(cluster.directEndpoints());
    const leader = await cluster.waitLeader();
    const st = await cluster.status(leader);
    // The membership keeps the real peer addresses.
    expect(st?.voters.sort()).toEqual(["n1", "n2", "n3"]);
  });

  it("isolating the leader: a new leader among the rest, the old one cannot commit; heal: one leader, equal digests", async () => {
    const old = await cluster.waitLeader();
    const oldTerm = (await cluster.status(old))!.term;
    await cluster.isolate(old);
    const fresh = await cluster.waitLeader(20_000, (id) => id !== old);
    expect(fresh).not.toBe(old);
    expect((await cluster.status(fresh))!.term).toBeGreaterThan(oldTerm);

    // A write through the old leader's proxied endpoint cannot commit (it leads no majority and
    // its forwarding link to the new leader is cut): it fails and the old leader's commit index
    // does not move.
    const commitBefore = (await cluster.status(old))!.commitIndex;
    const err = await write({ endpoint: cluster.clientEndpoints(old), deadlineMs: 3000 }).then(
      () => undefined,
      (e: unknown) => e as Error & { code?: string },
    );
    expect(err, "the write through the isolated old leader succeeded").toBeDefined();
    expect(err?.code).toMatch(/DEADLINE_EXCEEDED|TIMEOUT|NO_LEADER|UNAVAILABLE/);
    expect((await cluster.status(old))!.commitIndex).toBe(commitBefore);
    // The majority side takes writes.
    await write({ endpoint: cluster.clientEndpoints(fresh) });

    await cluster.heal();
    const st = await settled();
    expect(st.filter((s) => s.role === "leader")).toHaveLength(1);
    await write();
  }, 90_000);

  it("an asymmetric cut (leader → one follower) does not break the cluster for good", async () => {
    const leader = await cluster.waitLeader();
    const follower = cluster.ids.find((id) => id !== leader)!;
    await cluster.cutLink(leader, follower);
    // Several election timeouts: the follower hears nothing from the leader.
    await sleep(3000);
    // Whatever happens meanwhile (the follower hears nothing and calls elections), the cluster
    // takes writes within a bounded time.
    await waitFor("a write under the asymmetric cut", () => write({ deadlineMs: 5000 }), 30_000);
    await cluster.heal();
    await settled();
    await write();
  }, 90_000);

  it("latency, bandwidth, slicer, limit_data and reset_peer toxics install on the server; heal removes them", async () => {
    const onServer = async (name: string) =>
      (
        (await (await fetch(`${server!.url}/proxies/${name}/toxics`)).json()) as {
          name: string;
          type: string;
        }[]
      ).map((t) => `${t.name}:${t.type}`);
    await cluster.addLatency("peers", 20, 5);
    await cluster.bandwidth({ from: "n1", to: "n2" }, 1000);
    await cluster.slicer({ from: "n2", to: "n3" }, 512, 64, 10);
    await cluster.limitData({ from: "n3", to: "n1" }, 1 << 20);
    await cluster.resetPeer("api-n1", 5000);
    expect(await onServer("peer-n1-n2")).toEqual(
      expect.arrayContaining(["latency-upstream:latency", "bandwidth-upstream:bandwidth"]),
    );
    expect(await onServer("peer-n2-n3")).toContain("slicer-upstream:slicer");
    expect(await onServer("peer-n3-n1")).toContain("limit_data-upstream:limit_data");
    expect(await onServer("api-n1")).toEqual(["reset_peer-upstream:reset_peer"]);
    // Slow links still carry a working cluster.
    await write({ endpoint: cluster.clientEndpoints("n2") });
    await cluster.clear("peers", "latency");
    expect(await onServer("peer-n2-n1")).toEqual([]);
    await cluster.heal();
    for (const name of cluster.proxies.keys()) expect(await onServer(name)).toEqual([]);
    await settled();
  }, 60_000);

  it("kill -9 and restart of a follower: it comes back through its proxies and catches up", async () => {
    const leader = await cluster.waitLeader();
    const follower = cluster.ids.find((id) => id !== leader)!;
    await cluster.kill(follower, "SIGKILL");
    expect(cluster.replica(follower).running()).toBe(false);
    await write();
    await cluster.restart(follower);
    await cluster.waitAllUp();
    await settled();
  }, 60_000);

  it("pausing the leader past the election timeout elects another; resumed, it steps down", async () => {
    const old = await cluster.waitLeader();
    await cluster.pause(old);
    try {
      const fresh = await cluster.waitLeader(20_000, (id) => id !== old);
      expect(fresh).not.toBe(old);
      await write({ endpoint: cluster.clientEndpoints(fresh) });
    } finally {
      await cluster.resume(old);
    }
    await waitFor("the resumed leader to step down", async () => {
      const s = await cluster.status(old);
      return s !== undefined && s.role !== "leader" ? s : undefined;
    });
    await settled();
  }, 90_000);

  it("membership under writes: the leader removed (process and proxies gone), a fresh replica added through its proxies", async () => {
    const old = await cluster.waitLeader();
    const writing = (async () => {
      for (let i = 0; i < 20; i++) await write().catch(() => undefined);
    })();
    await cluster.removeReplica(old);
    expect(cluster.ids).not.toContain(old);
    expect(cluster.replica(old).running()).toBe(false);
    expect([...cluster.proxies.keys()].filter((n) => n.includes(old))).toEqual([]);
    const took = await cluster.addReplica("n9");
    expect(took).toMatch(/promoted/);
    await writing;
    expect(cluster.ids).toContain("n9");
    expect(cluster.proxies.has("peer-n9-" + cluster.ids[0])).toBe(true);
    expect(cluster.proxies.has("api-n9")).toBe(true);
    const leader = await cluster.waitLeader();
    expect((await cluster.status(leader))?.voters.sort()).toEqual([...cluster.ids].sort());
    // Its outgoing links are fault-injectable (the links to it are not: the members dial it
    // directly); healed, it converges.
    await cluster.isolate("n9");
    await write({ endpoint: cluster.clientEndpoints(leader === "n9" ? cluster.ids[0]! : leader) });
    await cluster.heal();
    await settled();
  }, 120_000);
});

describe("ChaosCluster (5 replicas, Toxiproxy)", () => {
  const dir5 = mkdtempSync(join(tmpdir(), "novanet-chaos5-"));
  let server5: StartedServer | undefined;
  let c5: ChaosCluster;

  beforeAll(async () => {
    server5 = await toxiproxy();
    c5 = await ChaosCluster.start({
      replicas: 5,
      dir: dir5,
      toxiproxyUrl: server5.url,
      seed: 42,
      logLevel: "warn",
    });
    await c5.waitAllUp();
    await c5.waitLeader(30_000);
  }, 60_000);

  afterAll(async () => {
    await c5?.stop();
    await server5?.close();
    rmSync(dir5, { recursive: true, force: true });
  }, 30_000);

  it("a symmetric partition leaves the leader on the majority side; heal converges", async () => {
    const old = await c5.waitLeader();
    const others = c5.ids.filter((id) => id !== old);
    const minority = [old, others[0]!];
    const majority = others.slice(1);
    await c5.partition([minority, majority]);
    const fresh = await c5
      .waitLeader(20_000, (id) => majority.includes(id))
      .catch(async (e) => {
        const st = [...(await c5.statuses()).values()].map((x) => [
          x.id,
          x.role,
          x.term,
          x.leaderId,
        ]);
        throw new Error(
          `${(e as Error).message}; ${JSON.stringify({ old, minority, majority, st })}`,
        );
      });
    expect(majority).toContain(fresh);
    await c5.heal();
    await waitFor("one leader", async () => ((await c5.leaders()).length === 1 ? true : undefined));
  }, 60_000);

  it("majorities ring: every replica sees a different majority; heal converges", async () => {
    const sees = await c5.majoritiesRing();
    const views = Object.values(sees).map((v) => v.join(","));
    expect(new Set(views).size).toBe(5);
    for (const [id, view] of Object.entries(sees)) {
      expect(view).toHaveLength(3);
      expect(view).toContain(id);
      // Symmetric: a sees b exactly when b sees a.
      for (const other of c5.ids) expect(view.includes(other)).toBe(sees[other]!.includes(id));
    }
    await sleep(3000);
    await c5.heal();
    await waitFor("one leader", async () => ((await c5.leaders()).length === 1 ? true : undefined));
  }, 60_000);
});
