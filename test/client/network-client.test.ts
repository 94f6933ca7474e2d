import { Metadata, status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { Consistency } from "../../src/api/gen/novanet/v1/network.js";
import { toNovanetError } from "../../src/client/errors.js";
import {
  NetworkClient,
  type NetworkClientOptions,
  NovanetError,
  OutcomeUnknownError,
} from "../../src/client/index.js";
import { deadAddress, type FakeCluster, failure, startFakeCluster } from "./fake-cluster.js";

const tenant = { orgId: "org1", projectId: "proj1" };
let cluster: FakeCluster | undefined;
const clients: NetworkClient[] = [];

afterEach(() => {
  for (const c of clients.splice(0)) c.close();
  cluster?.stop();
  cluster = undefined;
});

function connect(opts: Partial<NetworkClientOptions> & { endpoints: string[] }): NetworkClient {
  const c = NetworkClient.connect({
    retry: { attemptsMax: 5, backoffMsMin: 5, backoffMsMax: 20 },
    ...tenant,
    ...opts,
  });
  clients.push(c);
  return c;
}

async function withSubnet(c: NetworkClient): Promise<string> {
  const vpc = await c.createVpc({ name: "v" });
  const subnet = await c.createSubnet({ vpcId: vpc.id, name: "web", cidr: "10.1.1.0/24" });
  return subnet.id;
}

const unavailable = (
  details = "NO_LEADER: election in progress",
  md: Record<string, string> = {},
) => ({
  kind: "fail" as const,
  code: status.UNAVAILABLE,
  details,
  metadata: { "x-novanet-error-code": "NO_LEADER", ...md },
});

describe("leader following", () => {
  it("follows a follower's UNAVAILABLE + leader hint, then writes straight to the leader", async () => {
    cluster = await startFakeCluster({ replicas: 3, leader: 2 });
    const c = connect({ endpoints: cluster.addresses });
    const vpc = await c.createVpc({ name: "v" });
    expect(vpc.id).toBe("org1/proj1");
    expect(c.leader).toBe(cluster.replicas[2]!.address);
    // RegisterClient went to replica 0 first, was redirected, then everything went to the leader.
    expect(cluster.calls.map((x) => `${x.method}@${x.replica}`)).toEqual([
      "registerClient@0",
      "registerClient@2",
      "createVpc@2",
    ]);
    cluster.calls.length = 0;
    await c.createSubnet({ vpcId: vpc.id, name: "a", cidr: "10.1.1.0/24" });
    expect(cluster.calls.map((x) => x.replica)).toEqual([2]);
  });

  it("learns the leader from a forwarded write's response metadata", async () => {
    cluster = await startFakeCluster({ replicas: 3, leader: 1, forward: true });
    const c = connect({ endpoints: cluster.addresses });
    await c.createVpc({ name: "v" });
    expect(c.leader).toBe(cluster.replicas[1]!.address);
    expect(cluster.callsOf("createVpc").map((x) => x.replica)).toEqual([1]);
  });

  it("with followLeaderHints off, keeps writing through a forwarding endpoint it was given", async () => {
    cluster = await startFakeCluster({ replicas: 2, leader: 1, forward: true });
    const only = [cluster.addresses[0]!];
    const c = connect({ endpoints: only, followLeaderHints: false });
    await c.createVpc({ name: "v" });
    await c.createSubnet({ vpcId: "org1/proj1", name: "a", cidr: "10.1.1.0/24" });
    expect(c.leader).toBe(only[0]);
    expect(new Set(cluster.calls.map((x) => x.replica))).toEqual(new Set([0]));
    const follow = connect({ endpoints: only });
    await follow.createSubnet({ vpcId: "org1/proj1", name: "b", cidr: "10.1.2.0/24" });
    expect(follow.leader).toBe(cluster.addresses[1]);
  });

  it("moves on when the leader dies and a new one is elected", async () => {
    cluster = await startFakeCluster({ replicas: 3, leader: 0 });
    const c = connect({ endpoints: cluster.addresses });
    await c.createVpc({ name: "v" });
    expect(c.leader).toBe(cluster.replicas[0]!.address);
    cluster.replicas[0]!.stop();
    cluster.leaderIndex = 2;
    const subnet = await c.createSubnet({ vpcId: "org1/proj1", name: "a", cidr: "10.1.1.0/24" });
    expect(subnet.name).toBe("a");
    expect(c.leader).toBe(cluster.replicas[2]!.address);
  });

  it("skips an endpoint that is down", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect({ endpoints: [await deadAddress(), cluster.addresses[0]!] });
    const vpc = await c.createVpc({ name: "v" });
    expect(vpc.cidr).toBe("10.1.0.0/16");
    const got = await c.getVpc();
    expect(got.id).toBe(vpc.id);
  });
});

describe("idempotent retries", () => {
  it("retries a write whose attempt timed out with the same request_id: one port, not two", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect({ endpoints: cluster.addresses, attemptTimeoutMs: 300 });
    const subnetId = await withSubnet(c);
    cluster.replicas[0]!.inject("createPort", { kind: "hang" });
    const port = await c.createPort({ subnetId, vmId: "vm-1" });
    const attempts = cluster.callsOf("createPort");
    expect(attempts).toHaveLength(2);
    expect(attempts[0]!.request.requestId).toBe(attempts[1]!.request.requestId);
    expect(attempts[0]!.request.clientId).toBe(attempts[1]!.request.clientId);
    expect(cluster.store.ports.size).toBe(1);
    expect(cluster.store.applied.filter((a) => a.method === "createPort")).toHaveLength(1);
    expect([...cluster.store.ports.values()][0]!.id).toBe(port.id);
  });

  it("numbers logical calls 1, 2, 3 … under one registered client_id", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect({
      endpoints: cluster.addresses,
      clientId: "6f1c7a2e-0000-4000-8000-000000000001",
    });
    const subnetId = await withSubnet(c);
    await c.createPort({ subnetId });
    await c.createPort({ subnetId });
    const writes = cluster.calls.filter((x) => x.method !== "registerClient");
    expect(writes.map((x) => x.request.requestId)).toEqual([1, 2, 3, 4]);
    expect(new Set(writes.map((x) => x.request.clientId))).toEqual(
      new Set(["6f1c7a2e-0000-4000-8000-000000000001"]),
    );
    expect(cluster.store.registrations).toEqual(["6f1c7a2e-0000-4000-8000-000000000001"]);
  });

  it("registers once for concurrent first writes", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect({ endpoints: cluster.addresses });
    const vpc = await c.createVpc({ name: "v" });
    await Promise.all(
      ["a", "b", "c", "d"].map((n, i) =>
        c.createSubnet({ vpcId: vpc.id, name: n, cidr: `10.1.${i + 1}.0/24` }),
      ),
    );
    expect(cluster.store.registrations).toHaveLength(1);
    const ids = cluster.callsOf("createSubnet").map((x) => x.request.requestId);
    expect(new Set(ids).size).toBe(4);
  });

  it("retries UNAVAILABLE and honours retry-after", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect({ endpoints: cluster.addresses });
    await c.register();
    cluster.replicas[0]!.inject(
      "createVpc",
      unavailable("NO_LEADER: election", { "x-novanet-retry-after-ms": "250" }),
    );
    const t0 = Date.now();
    await c.createVpc({ name: "v" });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(240);
    expect(cluster.callsOf("createVpc")).toHaveLength(2);
  });
});

describe("reads", () => {
  it("passes consistency through and reports the applied index", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect({ endpoints: cluster.addresses });
    await c.createVpc({ name: "v" });
    let applied: number | undefined;
    await c.getVpc(
      { consistency: Consistency.CONSISTENCY_STALE },
      { onResponse: (i) => (applied = i.appliedIndex) },
    );
    await c.getVpc();
    const reads = cluster.callsOf("getVpc");
    expect(reads[0]!.request.consistency).toBe(Consistency.CONSISTENCY_STALE);
    expect(reads[1]!.request.consistency).toBe(Consistency.CONSISTENCY_UNSPECIFIED);
    expect(applied).toBe(cluster.store.appliedIndex);
  });

  it("applies a client-wide default consistency unless the request sets one", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect({ endpoints: cluster.addresses, consistency: Consistency.CONSISTENCY_STALE });
    await c.createVpc({ name: "v" });
    await c.listVpcs();
    await c.listVpcs({ consistency: Consistency.CONSISTENCY_LINEARIZABLE });
    expect(cluster.callsOf("listVpcs").map((x) => x.request.consistency)).toEqual([
      Consistency.CONSISTENCY_STALE,
      Consistency.CONSISTENCY_LINEARIZABLE,
    ]);
  });

  it("reads from the preferred endpoint (readFrom any) or the leader (readFrom leader)", async () => {
    cluster = await startFakeCluster({ replicas: 3, leader: 2 });
    const c = connect({ endpoints: cluster.addresses });
    await c.createVpc({ name: "v" });
    await c.getVpc();
    await c.getVpc({}, { readFrom: "leader" });
    expect(cluster.callsOf("getVpc").map((x) => x.replica)).toEqual([0, 2]);
    const leaderReads = connect({ endpoints: cluster.addresses, readFrom: "leader" });
    await failure(leaderReads.createVpc({ name: "v" })); // learns the leader (ALREADY_EXISTS)
    await leaderReads.getVpc();
    expect(cluster.callsOf("getVpc").map((x) => x.replica)).toEqual([0, 2, 2]);
  });

  it("retries a read on another endpoint when one is unavailable", async () => {
    cluster = await startFakeCluster({ replicas: 2, leader: 1 });
    const c = connect({ endpoints: cluster.addresses });
    await c.createVpc({ name: "v" });
    cluster.replicas[0]!.inject("getVpc", unavailable());
    const vpc = await c.getVpc();
    expect(vpc.id).toBe("org1/proj1");
    expect(cluster.callsOf("getVpc").map((x) => x.replica)).toEqual([0, 1]);
  });

  it("iterates over every page", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect({ endpoints: cluster.addresses });
    const subnetId = await withSubnet(c);
    for (let i = 0; i < 7; i++) await c.createPort({ subnetId, vmId: `vm-${i}` });
    const seen: string[] = [];
    for await (const p of c.listAllPorts({ subnetId, pageSize: 3 })) seen.push(p.vmId);
    expect(seen.sort()).toEqual(["vm-0", "vm-1", "vm-2", "vm-3", "vm-4", "vm-5", "vm-6"]);
    expect(cluster.callsOf("listPorts").map((x) => x.request.pageToken)).toEqual(["", "3", "6"]);
    const first = await c.listPorts({ pageSize: 3 });
    expect(first.ports).toHaveLength(3);
    expect(first.nextPageToken).toBe("3");
  });
});

describe("errors", () => {
  it("does not retry a final error and surfaces the domain code", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect({ endpoints: cluster.addresses });
    const subnetId = await withSubnet(c);
    await c.createPort({ subnetId, ipAddress: "10.1.1.50" });
    const before = cluster.callsOf("createPort").length;
    const err = await failure(c.createPort({ subnetId, ipAddress: "10.1.1.50" }));
    expect(err).toBeInstanceOf(NovanetError);
    expect(err).not.toBeInstanceOf(OutcomeUnknownError);
    const e = err as NovanetError;
    expect(e.code).toBe("IP_ALREADY_ALLOCATED");
    expect(e.grpcCode).toBe(status.ALREADY_EXISTS);
    expect(e.message).toBe("10.1.1.50 is in use");
    expect(e.message).not.toMatch(/\n\s+at /);
    expect(cluster.callsOf("createPort").length - before).toBe(1);

    const nf = await failure(c.getPort({ portId: "nope" }));
    expect(nf.code).toBe("NOT_FOUND");
    expect(cluster.callsOf("getPort")).toHaveLength(1);
  });

  it.each([
    [status.INVALID_ARGUMENT, "INVALID_CIDR"],
    [status.FAILED_PRECONDITION, "FAILED_PRECONDITION"],
    [status.RESOURCE_EXHAUSTED, "OVERLOADED"],
    [status.PERMISSION_DENIED, "PERMISSION_DENIED"],
    [status.UNAUTHENTICATED, "UNAUTHENTICATED"],
  ])("never retries gRPC %i (%s)", async (code, domain) => {
    cluster = await startFakeCluster({ replicas: 2 });
    const c = connect({ endpoints: cluster.addresses });
    await c.register();
    cluster.replicas[0]!.inject("createVpc", { kind: "fail", code, details: `${domain}: no` });
    const e = await failure(c.createVpc({ name: "v" }));
    expect(e.code).toBe(domain); // recovered from the message when metadata lacks it
    expect(e.grpcCode).toBe(code);
    expect(cluster.callsOf("createVpc")).toHaveLength(1);
  });

  it("gives up after attemptsMax attempts; a write that may have been applied is OutcomeUnknown", async () => {
    cluster = await startFakeCluster({ replicas: 2, leader: -1 });
    const c = connect({
      endpoints: cluster.addresses,
      retry: { attemptsMax: 3, backoffMsMin: 1, backoffMsMax: 5 },
    });
    const reg = await failure(c.createVpc({ name: "v" }));
    // Registration itself failed: no leader anywhere.
    expect(reg.code).toBe("NO_LEADER");
    expect(cluster.callsOf("registerClient")).toHaveLength(3);

    cluster.leaderIndex = 0;
    await c.register();
    cluster.replicas[0]!.inject(
      "createVpc",
      unavailable(),
      unavailable(),
      unavailable(),
      unavailable(),
    );
    cluster.replicas[1]!.inject(
      "createVpc",
      unavailable(),
      unavailable(),
      unavailable(),
      unavailable(),
    );
    const e = await failure(c.createVpc({ name: "v" }));
    expect(e).toBeInstanceOf(OutcomeUnknownError);
    expect((e as OutcomeUnknownError).code).toBe("NO_LEADER");
    expect((e as OutcomeUnknownError).requestId).toBe(1);
    expect(cluster.callsOf("createVpc")).toHaveLength(3);

    const r = await failure(c.getVpc());
    expect(r).toBeInstanceOf(NovanetError);
  });

  it("respects the overall deadline even when asked to wait longer", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect({ endpoints: cluster.addresses, deadlineMs: 500 });
    await c.createVpc({ name: "v" });
    cluster.replicas[0]!.inject(
      "getVpc",
      unavailable("NO_LEADER: x", { "x-novanet-retry-after-ms": "60000" }),
    );
    const t0 = Date.now();
    const e = await failure(c.getVpc());
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(e.code).toBe("NO_LEADER");
    expect(e.retryAfterMs).toBe(60000);
  });

  it("reports a cluster that is entirely down as UNAVAILABLE, not OutcomeUnknown", async () => {
    const c = connect({ endpoints: [await deadAddress(), await deadAddress()], deadlineMs: 2000 });
    const e = await failure(c.createVpc({ name: "v" }));
    expect(e).toBeInstanceOf(NovanetError);
    expect(e).not.toBeInstanceOf(OutcomeUnknownError);
    expect((e as NovanetError).grpcCode).toBe(status.UNAVAILABLE);
  });

  it("does not call a write whose every attempt was refused OutcomeUnknown", async () => {
    cluster = await startFakeCluster({ replicas: 2 });
    const c = connect({ endpoints: cluster.addresses, deadlineMs: 2000 });
    await c.register();
    cluster.stop();
    const e = await failure(c.createVpc({ name: "v" }));
    expect(e).toBeInstanceOf(NovanetError);
    expect(e).not.toBeInstanceOf(OutcomeUnknownError);
    expect((e as NovanetError).grpcCode).toBe(status.UNAVAILABLE);
    expect((e as NovanetError).message).toMatch(/No connection established/);
  });

  it("converts grpc-js errors: metadata code, leader, retry-after, no stack", () => {
    const md = new Metadata();
    md.set("x-novanet-error-code", "NO_LEADER");
    md.set("x-novanet-leader", "10.0.0.2:8081");
    md.set("x-novanet-retry-after-ms", "120");
    const raw = Object.assign(new Error("14 UNAVAILABLE: NO_LEADER: election"), {
      code: status.UNAVAILABLE,
      details: "NO_LEADER: election\n    at Foo (/srv/x.js:1:1)",
      metadata: md,
    });
    const e = toNovanetError(raw, "a:1");
    expect(e).toMatchObject({
      code: "NO_LEADER",
      grpcCode: status.UNAVAILABLE,
      message: "election",
      leader: "10.0.0.2:8081",
      retryAfterMs: 120,
      endpoint: "a:1",
    });
    expect(String(e)).toBe("NO_LEADER: election");
  });
});

describe("sessions", () => {
  it("re-registers under a new client_id and retries once when a first attempt hits SESSION_EXPIRED", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect({ endpoints: cluster.addresses });
    const vpc = await c.createVpc({ name: "v" });
    const first = c.clientId;
    cluster.expireSessions();
    const subnet = await c.createSubnet({ vpcId: vpc.id, name: "a", cidr: "10.1.1.0/24" });
    expect(subnet.name).toBe("a");
    expect(c.clientId).not.toBe(first);
    expect(cluster.store.registrations).toEqual([first, c.clientId]);
    const attempts = cluster.callsOf("createSubnet");
    expect(attempts).toHaveLength(2);
    expect(attempts[0]!.request.clientId).toBe(first);
    expect(attempts[1]!.request.clientId).toBe(c.clientId);
    expect(cluster.store.subnets.size).toBe(1);
  });

  it("throws OutcomeUnknownError when the session expired after an earlier attempt was sent", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect({ endpoints: cluster.addresses, attemptTimeoutMs: 300 });
    const subnetId = await withSubnet(c);
    const first = c.clientId;
    cluster.replicas[0]!.inject(
      "createPort",
      { kind: "fail", code: status.DEADLINE_EXCEEDED, details: "TIMEOUT: commit timed out" },
      {
        kind: "fail",
        code: status.FAILED_PRECONDITION,
        details: "SESSION_EXPIRED: unknown client session",
        metadata: { "x-novanet-error-code": "SESSION_EXPIRED" },
      },
    );
    const e = await failure(c.createPort({ subnetId }));
    expect(e).toBeInstanceOf(OutcomeUnknownError);
    const u = e as OutcomeUnknownError;
    expect(u.code).toBe("SESSION_EXPIRED");
    expect(u.clientId).toBe(first);
    expect(u.requestId).toBe(3);
    expect(cluster.callsOf("createPort")).toHaveLength(2);
    // The next write runs under a fresh session.
    await c.createPort({ subnetId });
    expect(c.clientId).not.toBe(first);
    expect(cluster.store.registrations).toHaveLength(2);
  });

  it("retries a first attempt rejected as STALE_REQUEST once with a new request id", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect({ endpoints: cluster.addresses });
    await c.register();
    const stale = {
      kind: "fail" as const,
      code: status.FAILED_PRECONDITION,
      details: "STALE_REQUEST: below floor",
    };
    cluster.replicas[0]!.inject("createVpc", stale);
    await c.createVpc({ name: "v" });
    expect(cluster.callsOf("createVpc").map((x) => x.request.requestId)).toEqual([1, 2]);

    const timeout = {
      kind: "fail" as const,
      code: status.DEADLINE_EXCEEDED,
      details: "TIMEOUT: x",
    };
    cluster.replicas[0]!.inject("createSubnet", timeout, stale);
    const e = await failure(
      c.createSubnet({ vpcId: "org1/proj1", name: "a", cidr: "10.1.1.0/24" }),
    );
    expect(e).toBeInstanceOf(OutcomeUnknownError);
    expect(e.code).toBe("STALE_REQUEST");
  });

  it("keeps at most writesInFlightMax request ids ahead of the oldest unfinished write", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect({ endpoints: cluster.addresses, writesInFlightMax: 2 });
    const vpc = await c.createVpc({ name: "v" }); // request 1
    cluster.replicas[0]!.inject("createSubnet", { kind: "delay", ms: 400 }); // request 2 is slow
    const names = ["a", "b", "c", "d"];
    await Promise.all(
      names.map((n, i) => c.createSubnet({ vpcId: vpc.id, name: n, cidr: `10.1.${i + 1}.0/24` })),
    );
    const calls = cluster.callsOf("createSubnet");
    const at = (id: number) => calls.find((x) => x.request.requestId === id)!.at;
    expect(calls.map((x) => x.request.requestId)).toEqual([2, 3, 4, 5]);
    // 4 waited for 2 (the oldest) to finish although 3 finished long before.
    expect(at(3) - at(2)).toBeLessThan(390);
    expect(at(4) - at(2)).toBeGreaterThanOrEqual(390);
    expect(cluster.store.subnets.size).toBe(4);
  });

  it("fails a write that cannot enter the window before its deadline, without sending it", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect({ endpoints: cluster.addresses, writesInFlightMax: 1, deadlineMs: 300 });
    await c.register();
    cluster.replicas[0]!.inject("createVpc", { kind: "hang" }, { kind: "hang" }, { kind: "hang" });
    const [first, second] = await Promise.allSettled([
      c.createVpc({ name: "v" }),
      c.createSubnet({ vpcId: "org1/proj1", name: "a", cidr: "10.1.1.0/24" }, { deadlineMs: 150 }),
    ]);
    expect(first.status).toBe("rejected");
    expect(second.status).toBe("rejected");
    expect(((second as PromiseRejectedResult).reason as NovanetError).message).toMatch(/not sent/);
    expect(cluster.callsOf("createSubnet")).toHaveLength(0);
  });

  it("does not loop when the new session expires at once too", async () => {
    cluster = await startFakeCluster({ replicas: 1 });
    const c = connect({ endpoints: cluster.addresses });
    await c.register();
    const expired = {
      kind: "fail" as const,
      code: status.FAILED_PRECONDITION,
      details: "SESSION_EXPIRED: gone",
    };
    cluster.replicas[0]!.inject("createVpc", expired, expired, expired);
    const e = await failure(c.createVpc({ name: "v" }));
    expect(e).toBeInstanceOf(NovanetError);
    expect(e).not.toBeInstanceOf(OutcomeUnknownError);
    expect((e as NovanetError).code).toBe("SESSION_EXPIRED");
    expect(cluster.callsOf("createVpc")).toHaveLength(2);
  });
});

describe("auth and options", () => {
  it("sends a static token or one from a provider on every attempt", async () => {
    cluster = await startFakeCluster({ replicas: 1, token: "t-2" });
    let n = 0;
    const c = connect({
      endpoints: cluster.addresses,
      token: () => {
        n++;
        return Promise.resolve("t-2");
      },
    });
    await c.createVpc({ name: "v" });
    expect(n).toBe(2); // RegisterClient + CreateVpc
    expect(cluster.calls.every((x) => x.authorization === "Bearer t-2")).toBe(true);

    const bad = connect({ endpoints: cluster.addresses, token: "wrong" });
    const e = await failure(bad.getVpc());
    expect(e.code).toBe("UNAUTHENTICATED");
    const none = await failure(connect({ endpoints: cluster.addresses }).getVpc());
    expect(none.grpcCode).toBe(status.UNAUTHENTICATED);
  });

  it("validates options", () => {
    expect(() => NetworkClient.connect({ endpoints: [] })).toThrow(NovanetError);
    expect(() => NetworkClient.connect({ endpoints: ["a:1"], retry: { attemptsMax: 0 } })).toThrow(
      /attemptsMax/,
    );
    expect(() => NetworkClient.connect({ endpoints: ["a:1"], deadlineMs: -1 })).toThrow(
      /deadlineMs/,
    );
    const c = NetworkClient.connect({ endpoints: [" http://a:1/ ", "b:2", "a:1"] });
    expect(c.transport.endpoints).toEqual(["a:1", "b:2"]);
    c.close();
  });
});
