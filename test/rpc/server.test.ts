// Three NovaNET replicas in-process over real gRPC on loopback and LevelDB in temp dirs: the
// NetworkService end to end — follower forwarding, linearizable and stale reads, error mapping,
// idempotent retries, tenant isolation, health, reflection and metrics.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../cluster/lib/replica-processes.js";
import { ClusterServiceClient } from "../../src/api/gen/novanet/v1/cluster.js";
import * as pb from "../../src/api/gen/novanet/v1/network.js";
import { NetworkServiceClient } from "../../src/api/gen/novanet/v1/network.js";
import {
  appliedIndexMetadata,
  errorCodeMetadata,
  leaderIdMetadata,
} from "../../src/api/protocol.js";
import type { CallAuth } from "../../src/rpc/network-service.js";
import { NovanetServer } from "../../src/server/novanet-server.js";
import { defaultNetworkConfig } from "../../src/statemachine/index.js";

const allowAll: CallAuth = {
  caller: async () => {},
  tenant: async () => {},
  admin: async () => {},
};
const dir = mkdtempSync(join(tmpdir(), "novanet-rpc-"));
const servers: NovanetServer[] = [];
const clients: NetworkServiceClient[] = [];

type Call<Req, Res> = (
  req: Req,
  md: grpc.Metadata,
  opts: Partial<grpc.CallOptions>,
  cb: (err: grpc.ServiceError | null, res: Res) => void,
) => grpc.ClientUnaryCall;

interface Answer<Res> {
  res?: Res;
  err?: grpc.ServiceError;
  trailers: grpc.Metadata;
  headers: grpc.Metadata;
}

function call<Req, Res>(
  c: NetworkServiceClient,
  method: keyof NetworkServiceClient,
  req: Req,
): Promise<Answer<Res>> {
  return new Promise((resolve) => {
    let headers = new grpc.Metadata();
    let trailers = new grpc.Metadata();
    const fn = (c[method] as unknown as Call<Req, Res>).bind(c);
    const handle = fn(req, new grpc.Metadata(), { deadline: Date.now() + 15_000 }, (err, res) => {
      setImmediate(() =>
        resolve(
          err ? { err, trailers: err.metadata ?? trailers, headers } : { res, trailers, headers },
        ),
      );
    });
    handle.on("metadata", (md) => {
      headers = md;
    });
    handle.on("status", (s) => {
      trailers = s.metadata;
    });
  });
}

async function ok<Req, Res>(
  c: NetworkServiceClient,
  method: keyof NetworkServiceClient,
  req: Req,
): Promise<Answer<Res>> {
  const a = await call<Req, Res>(c, method, req);
  if (a.err) throw new Error(`${String(method)} failed: ${a.err.details}`);
  return a;
}

const tenant = { orgId: "org1", projectId: "proj1" };

beforeAll(async () => {
  const ids = ["n1", "n2", "n3"];
  const peerPorts = await Promise.all(ids.map(() => freePort()));
  const apiPorts = await Promise.all(ids.map(() => freePort()));
  const initial = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${peerPorts[i]}`]));
  const apis = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${apiPorts[i]}`]));
  const started = await Promise.all(
    ids.map((id, i) =>
      NovanetServer.start({
        id,
        clusterId: "rpc-test",
        dataDir: join(dir, id),
        peerListen: initial[id]!,
        apiListen: apis[id]!,
        initialMembers: initial,
        apiAddresses: apis,
        network: { ...defaultNetworkConfig, external_ip_pool: ["203.0.113.0/28"] },
        auth: allowAll,
        logger: pino({ level: "silent" }),
        tickMs: 20,
        metricsListen: "127.0.0.1:0",
        ...(i === 0 ? {} : {}),
      }),
    ),
  );
  servers.push(...started);
  for (const s of servers)
    clients.push(new NetworkServiceClient(s.apiAddress, grpc.credentials.createInsecure()));
  const until = Date.now() + 15_000;
  while (Date.now() < until && !servers.every((s) => s.readiness().ready)) await sleep(20);
  expect(servers.map((s) => s.readiness())).toEqual(
    servers.map(() => ({ ready: true, reason: "ok" })),
  );
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

const leaderIndex = () => servers.findIndex((s) => s.raft.status().role === "leader");
const followerIndex = () => servers.findIndex((s) => s.raft.status().role === "follower");

describe("NetworkService end to end", () => {
  it("creates a VPC through a follower (forwarded to the leader) and reads it everywhere", async () => {
    const f = followerIndex();
    const created = await ok<pb.CreateVpcRequest, pb.Vpc>(clients[f]!, "createVpc", {
      ...pb.CreateVpcRequest.fromPartial({ ...tenant, name: "main" }),
    });
    expect(created.res?.id).toBe("org1/proj1");
    expect(created.res?.cidr).toMatch(/^10\.\d+\.0\.0\/16$/);
    expect(
      created.headers.get(leaderIdMetadata)[0] ?? created.trailers.get(leaderIdMetadata)[0],
    ).toBe(servers[leaderIndex()]!.raft.id);
    for (const c of clients) {
      const got = await ok<pb.GetVpcRequest, pb.Vpc>(
        c,
        "getVpc",
        pb.GetVpcRequest.fromPartial(tenant),
      );
      expect(got.res?.cidr).toBe(created.res?.cidr);
      const subnets = await ok<pb.ListSubnetsRequest, pb.ListSubnetsResponse>(
        c,
        "listSubnets",
        pb.ListSubnetsRequest.fromPartial(tenant),
      );
      expect(subnets.res?.subnets.map((s) => s.name)).toEqual(["default"]);
    }
  });

  it("allocates distinct IPs, maps domain errors to statuses, and keeps tenants apart", async () => {
    const subnetId = "org1/proj1/default";
    const a = await ok<pb.CreatePortRequest, pb.Port>(
      clients[0]!,
      "createPort",
      pb.CreatePortRequest.fromPartial({ ...tenant, subnetId, vmId: "vm-1" }),
    );
    const b = await ok<pb.CreatePortRequest, pb.Port>(
      clients[1]!,
      "createPort",
      pb.CreatePortRequest.fromPartial({ ...tenant, subnetId }),
    );
    expect(a.res?.ipAddress).not.toBe(b.res?.ipAddress);
    expect(a.res?.macAddress).toMatch(/^fa:16:3e(:[0-9a-f]{2}){3}$/);

    const dup = await call<pb.CreatePortRequest, pb.Port>(
      clients[2]!,
      "createPort",
      pb.CreatePortRequest.fromPartial({ ...tenant, subnetId, ipAddress: a.res!.ipAddress }),
    );
    expect(dup.err?.code).toBe(grpc.status.ALREADY_EXISTS);
    expect(dup.err?.details).toMatch(/^IP_ALREADY_ALLOCATED: /);
    expect(dup.trailers.get(errorCodeMetadata)[0]).toBe("IP_ALREADY_ALLOCATED");

    const outside = await call(
      clients[0]!,
      "createPort",
      pb.CreatePortRequest.fromPartial({ ...tenant, subnetId, ipAddress: "192.168.1.1" }),
    );
    expect(outside.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(outside.err?.details).toMatch(/^IP_OUTSIDE_SUBNET: /);

    // Another tenant sees nothing, exactly as if the port did not exist.
    const other = await call(
      clients[0]!,
      "getPort",
      pb.GetPortRequest.fromPartial({ orgId: "org2", projectId: "proj1", portId: a.res!.id }),
    );
    const missing = await call(
      clients[0]!,
      "getPort",
      pb.GetPortRequest.fromPartial({
        orgId: "org2",
        projectId: "proj1",
        portId: "00000000-0000-4000-8000-000000000000",
      }),
    );
    expect(other.err?.code).toBe(grpc.status.NOT_FOUND);
    expect(missing.err?.code).toBe(grpc.status.NOT_FOUND);
  });

  it("answers a retried request with the original result (one port, one IP)", async () => {
    const clientId = "7d6c3c9e-4b0a-4d5e-9f1a-2b3c4d5e6f70";
    const reg = await ok<pb.RegisterClientRequest, pb.RegisterClientResponse>(
      clients[1]!,
      "registerClient",
      { clientId },
    );
    expect(reg.res?.clientId).toBe(clientId);
    const req = pb.CreatePortRequest.fromPartial({
      ...tenant,
      subnetId: "org1/proj1/default",
      clientId,
      requestId: 1,
    });
    const first = await ok<pb.CreatePortRequest, pb.Port>(clients[1]!, "createPort", req);
    const again = await ok<pb.CreatePortRequest, pb.Port>(clients[2]!, "createPort", req);
    expect(again.res?.id).toBe(first.res?.id);
    expect(again.res?.ipAddress).toBe(first.res?.ipAddress);
    const list = await ok<pb.ListPortsRequest, pb.ListPortsResponse>(
      clients[0]!,
      "listPorts",
      pb.ListPortsRequest.fromPartial(tenant),
    );
    expect(list.res?.ports.filter((p) => p.id === first.res?.id)).toHaveLength(1);
  });

  it("serves stale reads with the applied index in metadata", async () => {
    const f = followerIndex();
    const r = await ok<pb.ListPortsRequest, pb.ListPortsResponse>(
      clients[f]!,
      "listPorts",
      pb.ListPortsRequest.fromPartial({ ...tenant, consistency: pb.Consistency.CONSISTENCY_STALE }),
    );
    const applied = Number(
      r.headers.get(appliedIndexMetadata)[0] ?? r.trailers.get(appliedIndexMetadata)[0],
    );
    expect(applied).toBeGreaterThan(0);
  });

  it("reports health and metrics, and the cluster status through ClusterService", async () => {
    const s = servers[0]!;
    const metrics = await fetch(`http://127.0.0.1:${s.metricsPort}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/overlay_network_ports_total \d+/);
    expect(metrics).toMatch(/novanet_grpc_requests_total\{method="CreatePort",code="OK"\} \d+/);
    const ready = await fetch(`http://127.0.0.1:${s.metricsPort}/ready`);
    expect(ready.status).toBe(200);
    const cluster = new ClusterServiceClient(s.apiAddress, grpc.credentials.createInsecure());
    const status = await new Promise<
      import("../../src/api/gen/novanet/v1/cluster.js").ClusterStatus
    >((res, rej) => cluster.getStatus({}, (e, v) => (e ? rej(e) : res(v))));
    cluster.close();
    expect(status.voters).toEqual(["n1", "n2", "n3"]);
    expect(status.stateDigest).toBe(s.network.sm.digest());
  });
});

describe("leader loss", () => {
  it("a write waits out an election; with quorum lost writes fail UNAVAILABLE and stale reads still work", async () => {
    const li = leaderIndex();
    await servers[li]!.stop();
    const f = servers.findIndex((_, i) => i !== li);
    const during = await call<pb.CreatePortRequest, pb.Port>(
      clients[f]!,
      "createPort",
      pb.CreatePortRequest.fromPartial({ ...tenant, subnetId: "org1/proj1/default" }),
    );
    expect(during.err).toBeUndefined();
    expect(during.res?.ipAddress).toMatch(/^10\./);

    const other = servers.findIndex((_, i) => i !== li && i !== f);
    await servers[other]!.stop();
    const started = Date.now();
    const lost = await call<pb.CreatePortRequest, pb.Port>(
      clients[f]!,
      "createPort",
      pb.CreatePortRequest.fromPartial({ ...tenant, subnetId: "org1/proj1/default" }),
    );
    expect(lost.err?.code).toBe(grpc.status.UNAVAILABLE);
    expect(lost.err?.details).toMatch(/^NO_LEADER: /);
    expect(Number(lost.trailers.get("x-novanet-retry-after-ms")[0])).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(12_000);

    const stale = await call<pb.ListPortsRequest, pb.ListPortsResponse>(
      clients[f]!,
      "listPorts",
      pb.ListPortsRequest.fromPartial({ ...tenant, consistency: pb.Consistency.CONSISTENCY_STALE }),
    );
    expect(stale.err).toBeUndefined();
    expect(stale.res?.ports.some((p) => p.id === during.res?.id)).toBe(true);
    const linearizable = await call(
      clients[f]!,
      "listPorts",
      pb.ListPortsRequest.fromPartial(tenant),
    );
    expect(linearizable.err?.code).toBe(grpc.status.UNAVAILABLE);
  }, 60_000);
});
