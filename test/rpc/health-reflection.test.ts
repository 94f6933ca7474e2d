// The standard gRPC side services of a replica, spoken to with clients built only from the
// packages' own .proto files (no NovaNET code on the client side): grpc.health.v1.Health follows
// readiness (a leader is known, the cluster is bootstrapped, this replica has caught up), and
// server reflection lists the services and serves their descriptors.
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { loadFileDescriptorSetFromBuffer, loadSync } from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../cluster/lib/replica-processes.js";
import type { CallAuth } from "../../src/rpc/network-service.js";
import { NovanetServer, type NovanetServerOptions } from "../../src/server/novanet-server.js";
import { defaultNetworkConfig } from "../../src/statemachine/index.js";

const allowAll: CallAuth = {
  caller: async () => {},
  tenant: async () => {},
  admin: async () => {},
};
const dir = mkdtempSync(join(tmpdir(), "novanet-health-"));
const servers: NovanetServer[] = [];
const closers: Array<() => void> = [];

afterAll(async () => {
  for (const close of closers.splice(0)) close();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function start(
  id: string,
  clusterId: string,
  initialMembers: Record<string, string>,
): Promise<NovanetServer> {
  const opts: NovanetServerOptions = {
    id,
    clusterId,
    dataDir: join(dir, clusterId, id),
    peerListen: initialMembers[id]!,
    apiListen: `127.0.0.1:${await freePort()}`,
    initialMembers,
    apiAddresses: {},
    network: defaultNetworkConfig,
    auth: allowAll,
    logger: pino({ level: "silent" }),
    tickMs: 20,
    metricsListen: "127.0.0.1:0",
  };
  const s = await NovanetServer.start(opts);
  servers.push(s);
  return s;
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until && !cond()) await sleep(20);
  return cond();
}

const ready = (s: NovanetServer) => fetch(`http://127.0.0.1:${s.metricsPort}/ready`);

// --- grpc.health.v1 client, from the proto shipped in grpc-health-check ----------------------

type Status = "UNKNOWN" | "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN";
interface HealthClient extends grpc.Client {
  Check(
    req: { service: string },
    opts: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: { status: Status }) => void,
  ): grpc.ClientUnaryCall;
  Watch(req: { service: string }, opts: grpc.CallOptions): grpc.ClientReadableStream<unknown>;
}
const healthPkg = grpc.loadPackageDefinition(
  loadSync(healthProtoPath, { keepCase: true, enums: String, defaults: true }),
) as unknown as {
  grpc: { health: { v1: { Health: new (a: string, c: grpc.ChannelCredentials) => HealthClient } } };
};

function healthClient(address: string): HealthClient {
  const c = new healthPkg.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
  closers.push(() => c.close());
  return c;
}

/** Check's status, or "error: <gRPC code name>". */
function check(c: HealthClient, service: string): Promise<string> {
  return new Promise((resolve) => {
    c.Check({ service }, { deadline: Date.now() + 5000 }, (err, res) =>
      resolve(err ? `error: ${grpc.status[err.code]}` : (res?.status ?? "none")),
    );
  });
}

// --- grpc.reflection.v1 client, from the proto shipped in @grpc/reflection ---------------------

const reflectionProto = join(
  dirname(createRequire(import.meta.url).resolve("@grpc/reflection")),
  "../proto/grpc/reflection/v1/reflection.proto",
);
interface ReflectionResponse {
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}
interface ReflectionClient extends grpc.Client {
  ServerReflectionInfo(opts: grpc.CallOptions): grpc.ClientDuplexStream<object, ReflectionResponse>;
}
const reflectionPkg = grpc.loadPackageDefinition(
  loadSync(reflectionProto, { keepCase: true, oneofs: true, defaults: true }),
) as unknown as {
  grpc: {
    reflection: {
      v1: {
        ServerReflection: new (a: string, c: grpc.ChannelCredentials) => ReflectionClient;
      };
    };
  };
};

/** Sends the requests on one ServerReflectionInfo stream; resolves with one answer each. */
function reflect(address: string, requests: object[]): Promise<ReflectionResponse[]> {
  const c = new reflectionPkg.grpc.reflection.v1.ServerReflection(
    address,
    grpc.credentials.createInsecure(),
  );
  closers.push(() => c.close());
  return new Promise((resolve, reject) => {
    const got: ReflectionResponse[] = [];
    const stream = c.ServerReflectionInfo({ deadline: Date.now() + 5000 });
    stream.on("data", (r: ReflectionResponse) => {
      got.push(r);
      if (got.length === requests.length) stream.end();
    });
    stream.on("error", reject);
    stream.on("end", () => resolve(got));
    for (const r of requests) stream.write(r);
  });
}

/** FileDescriptorProto bytes → a FileDescriptorSet (field 1, repeated) that proto-loader reads. */
function descriptorSet(files: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const len: number[] = [];
    for (let n = f.length; ; n >>>= 7) {
      if (n < 0x80) {
        len.push(n);
        break;
      }
      len.push((n & 0x7f) | 0x80);
    }
    parts.push(Buffer.from([0x0a, ...len]), f);
  }
  return Buffer.concat(parts);
}

describe("a ready replica (a one-member cluster)", () => {
  let s: NovanetServer;
  beforeAll(async () => {
    const peer = `127.0.0.1:${await freePort()}`;
    s = await start("n1", "health-ready", { n1: peer });
    expect(await waitFor(() => s.readiness().ready, 15_000)).toBe(true);
  });

  it("answers SERVING for the server and NetworkService, NOT_FOUND for an unknown service", async () => {
    const c = healthClient(s.apiAddress);
    // The health status is refreshed every 250 ms after readiness changes.
    const until = Date.now() + 3000;
    while (Date.now() < until && (await check(c, "")) !== "SERVING") await sleep(50);
    expect(await check(c, "")).toBe("SERVING");
    expect(await check(c, "novanet.v1.NetworkService")).toBe("SERVING");
    expect(await check(c, "novanet.v1.ClusterService")).toBe("SERVING");
    expect(await check(c, "novanet.v1.NoSuchService")).toBe("error: NOT_FOUND");
    expect((await ready(s)).status).toBe(200);
  });

  // KNOWN BUG (reported): the health protocol says Watch sends a message when the status
  // changes, but NovanetServer re-sets both statuses every 250 ms (#updateHealth in
  // src/server/novanet-server.ts) and grpc-health-check notifies watchers on every setStatus, so
  // a watcher of a steady replica gets an unchanged SERVING four times a second. Drop `.fails`
  // once #updateHealth only calls setStatus on a change.
  it("Watch sends a status once while it does not change", async () => {
    const c = healthClient(s.apiAddress);
    const seen: string[] = [];
    const stream = c.Watch({ service: "" }, { deadline: Date.now() + 5000 });
    stream.on("data", (m: { status: string }) => seen.push(m.status));
    stream.on("error", () => {});
    await sleep(1000);
    stream.cancel();
    expect(seen[0]).toBe("SERVING");
    expect(seen).toEqual(["SERVING"]);
  });

  it("lists NetworkService and ClusterService through reflection", async () => {
    const [r] = await reflect(s.apiAddress, [{ list_services: "*" }]);
    const names = r?.list_services_response?.service.map((x) => x.name) ?? [];
    expect(names).toContain("novanet.v1.NetworkService");
    expect(names).toContain("novanet.v1.ClusterService");
  });

  // KNOWN BUG (reported, not fixed here: production code belongs to another change). The
  // ReflectionService in src/server/novanet-server.ts is built from network.proto and
  // cluster.proto only, so the grpc.health.v1.Health service the same server registers is not
  // listed (nor the reflection service itself). `it.fails` keeps the suite green while the bug
  // exists and turns red once it is fixed: then drop `.fails`.
  it("lists grpc.health.v1.Health through reflection", async () => {
    const [r] = await reflect(s.apiAddress, [{ list_services: "" }]);
    const names = r?.list_services_response?.service.map((x) => x.name) ?? [];
    expect(names).toContain("grpc.health.v1.Health");
  });

  it("serves the FileDescriptorProto containing novanet.v1.NetworkService", async () => {
    const [found, missing] = await reflect(s.apiAddress, [
      { file_containing_symbol: "novanet.v1.NetworkService" },
      { file_containing_symbol: "novanet.v1.NoSuchThing" },
    ]);
    const files = found?.file_descriptor_response?.file_descriptor_proto ?? [];
    expect(files.length).toBeGreaterThan(0);
    expect(files[0]!.length).toBeGreaterThan(0);
    // The bytes are a real descriptor: proto-loader rebuilds the service from them.
    const def = loadFileDescriptorSetFromBuffer(descriptorSet(files));
    const svc = def["novanet.v1.NetworkService"] as grpc.ServiceDefinition | undefined;
    expect(svc?.CreateVpc?.path).toBe("/novanet.v1.NetworkService/CreateVpc");
    expect(svc?.RegisterClient?.path).toBe("/novanet.v1.NetworkService/RegisterClient");
    expect(def["novanet.v1.CreateVpcRequest"]).toBeDefined();
    expect(missing?.error_response?.error_code).toBe(grpc.status.NOT_FOUND);
  });
});

describe("a replica whose cluster has no leader", () => {
  let lonely: NovanetServer;
  let members: Record<string, string>;
  beforeAll(async () => {
    // A three-member cluster of which only n1 runs: it can never win an election alone.
    const ids = ["n1", "n2", "n3"];
    const ports = await Promise.all(ids.map(() => freePort()));
    members = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${ports[i]}`]));
    lonely = await start("n1", "health-lonely", members);
    // Several election timeouts (tickMs 20) pass without a leader.
    await sleep(1000);
  });

  it("answers NOT_SERVING, and /ready answers 503", async () => {
    expect(lonely.raft.status().leader).toBe("");
    const c = healthClient(lonely.apiAddress);
    expect(await check(c, "")).toBe("NOT_SERVING");
    expect(await check(c, "novanet.v1.NetworkService")).toBe("NOT_SERVING");
    const r = await ready(lonely);
    expect(r.status).toBe(503);
    expect(await r.json()).toEqual({ ready: false, reason: "no leader" });
  });

  it("turns SERVING (seen through Watch) once a quorum is up", async () => {
    const c = healthClient(lonely.apiAddress);
    const seen: string[] = [];
    const stream = c.Watch(
      { service: "novanet.v1.NetworkService" },
      { deadline: Date.now() + 20_000 },
    );
    stream.on("data", (m: { status: string }) => seen.push(m.status));
    stream.on("error", () => {});
    expect(await waitFor(() => seen.length > 0, 3000)).toBe(true);
    expect(seen[0]).toBe("NOT_SERVING");
    await start("n2", "health-lonely", members);
    expect(await waitFor(() => seen.includes("SERVING"), 15_000)).toBe(true);
    stream.cancel();
    expect(await check(c, "")).toBe("SERVING");
    expect((await ready(lonely)).status).toBe(200);
  });
});
