// In-process NovaNET replicas on loopback with real certificates (made by the openssl CLI): TLS on
// the client API (client_auth "none", then "require") and mutual TLS between replicas. A write
// sent to a follower is forwarded to the leader over the mTLS peer port; plaintext clients and
// clients of other CAs are refused; a replica whose peer certificate comes from another CA is
// cut off from the cluster's Raft traffic.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../cluster/lib/replica-processes.js";
import {
  NetworkClient,
  type NetworkClientOptions,
  NovanetError,
  type ResponseInfo,
} from "../../src/client/index.js";
import { clientApiServerCredentials, peerCredentials } from "../../src/rpc/auth/tls.js";
import type { CallAuth } from "../../src/rpc/network-service.js";
import { forwardService } from "../../src/rpc/proposer.js";
import { NovanetServer } from "../../src/server/novanet-server.js";
import { defaultNetworkConfig } from "../../src/statemachine/index.js";
import { makePki, type Pki, tempDir } from "../auth/helpers.js";

const allowAll: CallAuth = {
  caller: async () => {},
  tenant: async () => {},
  admin: async () => {},
};
const tenant = { orgId: "org1", projectId: "proj1" };
/** The same tenant as the state machine's queries take it. */
const scope = { org_id: "org1", project_id: "proj1" };
const tmp = tempDir("novanet-rpc-tls-");
let pki: Pki;
/** Our CA followed by the other CA: trusting both, a foreign replica would accept our peers. */
let bothCas: string;
const servers: NovanetServer[] = [];
const clients: NetworkClient[] = [];

beforeAll(() => {
  pki = makePki(tmp.dir);
  pki.makeCa("ca");
  pki.makeCa("other-ca");
  for (const n of ["n1", "n2", "n3"]) pki.makeLeaf(n, "ca");
  pki.makeLeaf("client", "ca", "clientAuth");
  pki.makeLeaf("foreign", "other-ca");
  bothCas = join(tmp.dir, "both-cas.crt");
  writeFileSync(
    bothCas,
    Buffer.concat([readFileSync(pki.cert("ca")), readFileSync(pki.cert("other-ca"))]),
  );
});

afterAll(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
  tmp.cleanup();
});

const pem = (path: string) => readFileSync(path, "utf8");

interface ReplicaTls {
  /** The client API: plaintext when absent. */
  api?: { cert: string; clientAuth: "none" | "require" };
  /** Peer certificate name and the CA bundle it trusts. */
  peer: { cert: string; ca: string };
}

/** Starts one cluster whose members are all given; every replica runs in this process. */
async function startCluster(name: string, members: Record<string, ReplicaTls>) {
  const ids = Object.keys(members);
  const peerPorts = await Promise.all(ids.map(() => freePort()));
  const apiPorts = await Promise.all(ids.map(() => freePort()));
  const initial = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${peerPorts[i]}`]));
  const apis = Object.fromEntries(ids.map((id, i) => [id, `127.0.0.1:${apiPorts[i]}`]));
  const started = await Promise.all(
    ids.map((id) => {
      const t = members[id]!;
      const peer = peerCredentials({
        enabled: true,
        cert_file: pki.cert(t.peer.cert),
        key_file: pki.key(t.peer.cert),
        ca_file: t.peer.ca,
      });
      return NovanetServer.start({
        id,
        clusterId: name,
        dataDir: join(tmp.dir, name, id),
        peerListen: initial[id]!,
        apiListen: apis[id]!,
        initialMembers: initial,
        apiAddresses: apis,
        network: defaultNetworkConfig,
        auth: allowAll,
        logger: pino({ level: "silent" }),
        tickMs: 20,
        ...(t.api
          ? {
              apiCredentials: clientApiServerCredentials({
                cert_file: pki.cert(t.api.cert),
                key_file: pki.key(t.api.cert),
                ca_file: pki.cert("ca"),
                client_auth: t.api.clientAuth,
              }),
            }
          : {}),
        peerServerCredentials: peer.server,
        peerChannelCredentials: peer.channel,
      });
    }),
  );
  servers.push(...started);
  return started;
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until && !cond()) await sleep(20);
  return cond();
}

function connect(endpoint: string, opts: Partial<NetworkClientOptions> = {}): NetworkClient {
  const c = NetworkClient.connect({
    endpoints: [endpoint],
    deadlineMs: 8000,
    retry: { attemptsMax: 3 },
    ...opts,
  });
  clients.push(c);
  return c;
}

/** A call expected to fail: its NovanetError. */
async function refused(p: Promise<unknown>): Promise<NovanetError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(NovanetError);
  return e as NovanetError;
}

describe('client API TLS (client_auth "none") and peer mTLS, three replicas', () => {
  let cluster: NovanetServer[];
  const peerTls = (cert: string): ReplicaTls => ({
    api: { cert, clientAuth: "none" },
    peer: { cert, ca: pki.cert("ca") },
  });
  beforeAll(async () => {
    cluster = await startCluster("tls-none", {
      n1: peerTls("n1"),
      n2: peerTls("n2"),
      n3: peerTls("n3"),
    });
    expect(await waitFor(() => cluster.every((s) => s.readiness().ready), 15_000)).toBe(true);
  });

  it("elects a leader; a write sent to a follower is forwarded over the mTLS peer port", async () => {
    const leader = cluster.find((s) => s.raft.status().role === "leader")!;
    const follower = cluster.find((s) => s.raft.status().role === "follower")!;
    expect(leader).toBeDefined();
    expect(follower).toBeDefined();
    const client = connect(follower.apiAddress, { tls: { ca: pem(pki.cert("ca")) } });
    let info: ResponseInfo | undefined;
    const vpc = await client.createVpc(
      { ...tenant, name: "main" },
      {
        endpoint: follower.apiAddress,
        onResponse: (i) => {
          info = i;
        },
      },
    );
    expect(vpc.id).toBe("org1/proj1");
    // Answered by the follower, which names the leader that applied it.
    expect(info?.endpoint).toBe(follower.apiAddress);
    expect(info?.leader).toBe(leader.apiAddress);
    expect(leader.raft.status().role).toBe("leader");
    // Replicated to every replica over the peer mTLS streams; linearizable reads everywhere.
    for (const s of cluster) {
      const got = await client.getVpc(tenant, { endpoint: s.apiAddress });
      expect(got.cidr).toBe(vpc.cidr);
    }
  });

  it("refuses a plaintext client and a client that does not trust the replicas' CA", async () => {
    const address = cluster[0]!.apiAddress;
    const plain = connect(address, { retry: { attemptsMax: 1 }, deadlineMs: 3000 });
    const e1 = await refused(plain.getVpc(tenant));
    expect(e1.grpcCode).toBe(grpc.status.UNAVAILABLE);
    const foreign = connect(address, {
      tls: { ca: pem(pki.cert("other-ca")) },
      retry: { attemptsMax: 1 },
      deadlineMs: 3000,
    });
    const e2 = await refused(foreign.getVpc(tenant));
    expect(e2.grpcCode).toBe(grpc.status.UNAVAILABLE);
    // Control: the same replica answers a client that trusts its CA.
    const good = connect(address, { tls: { ca: pem(pki.cert("ca")) } });
    expect((await good.getVpc(tenant)).id).toBe("org1/proj1");
  });

  it("the peer port serves only clients with a certificate of the cluster CA", async () => {
    const peerAddress = cluster[0]!.raft.peerAddress();
    const propose = forwardService.propose;
    // A request the Forward handler rejects as a bad command: reaching the handler at all means
    // the TLS handshake was accepted.
    const request = { command: new Uint8Array([1, 2, 3]), deadlineMs: Date.now() + 5000 };
    const send = (creds: grpc.ChannelCredentials) => {
      const c = new grpc.Client(peerAddress, creds);
      return new Promise<grpc.status>((resolve) => {
        c.makeUnaryRequest(
          propose.path,
          propose.requestSerialize,
          propose.responseDeserialize,
          request,
          { deadline: Date.now() + 3000 },
          (err) => {
            c.close();
            resolve(err ? err.code : grpc.status.OK);
          },
        );
      });
    };
    const ca = readFileSync(pki.cert("ca"));
    expect(await send(grpc.credentials.createInsecure())).toBe(grpc.status.UNAVAILABLE);
    expect(await send(grpc.credentials.createSsl(ca))).toBe(grpc.status.UNAVAILABLE);
    const foreign = grpc.credentials.createSsl(
      ca,
      readFileSync(pki.key("foreign")),
      readFileSync(pki.cert("foreign")),
    );
    expect(await send(foreign)).toBe(grpc.status.UNAVAILABLE);
    const member = peerCredentials({
      enabled: true,
      cert_file: pki.cert("n3"),
      key_file: pki.key("n3"),
      ca_file: pki.cert("ca"),
    });
    // A member's certificate reaches the handler, which answers (a refusal of the dummy command
    // travels inside the response).
    expect(await send(member.channel)).toBe(grpc.status.OK);
  });
});

describe('client API TLS with client_auth "require"', () => {
  let server: NovanetServer;
  beforeAll(async () => {
    const started = await startCluster("tls-require", {
      n1: { api: { cert: "n1", clientAuth: "require" }, peer: { cert: "n1", ca: pki.cert("ca") } },
    });
    server = started[0]!;
    expect(await waitFor(() => server.readiness().ready, 15_000)).toBe(true);
  });

  it("serves a client with a CA-signed certificate and refuses one without or of another CA", async () => {
    const ca = pem(pki.cert("ca"));
    const good = connect(server.apiAddress, {
      tls: { ca, cert: pem(pki.cert("client")), key: pem(pki.key("client")) },
    });
    expect((await good.createVpc({ ...tenant, name: "main" })).id).toBe("org1/proj1");
    const once = { retry: { attemptsMax: 1 }, deadlineMs: 3000 };
    const noCert = connect(server.apiAddress, { tls: { ca }, ...once });
    expect((await refused(noCert.getVpc(tenant))).grpcCode).toBe(grpc.status.UNAVAILABLE);
    const foreign = connect(server.apiAddress, {
      tls: { ca, cert: pem(pki.cert("foreign")), key: pem(pki.key("foreign")) },
      ...once,
    });
    expect((await refused(foreign.getVpc(tenant))).grpcCode).toBe(grpc.status.UNAVAILABLE);
    const plain = connect(server.apiAddress, once);
    expect((await refused(plain.getVpc(tenant))).grpcCode).toBe(grpc.status.UNAVAILABLE);
  });
});

describe("a replica whose peer certificate comes from another CA", () => {
  let cluster: NovanetServer[];
  beforeAll(async () => {
    // n3 presents a certificate of the other CA; it trusts both CAs, so the refusals below are
    // n1's and n2's. The client API is plaintext here: only the peer identity is under test.
    cluster = await startCluster("tls-foreign", {
      n1: { peer: { cert: "n1", ca: pki.cert("ca") } },
      n2: { peer: { cert: "n2", ca: pki.cert("ca") } },
      n3: { peer: { cert: "foreign", ca: bothCas } },
    });
  });

  it("is kept out: n1 and n2 elect and commit, n3 never applies the write", async () => {
    const [n1, n2, n3] = cluster as [NovanetServer, NovanetServer, NovanetServer];
    expect(await waitFor(() => n1.readiness().ready && n2.readiness().ready, 15_000)).toBe(true);
    const leader = [n1, n2].find((s) => s.raft.status().role === "leader");
    expect(leader).toBeDefined();
    const client = connect(n1.apiAddress, { deadlineMs: 8000 });
    const vpc = await client.createVpc({ ...tenant, name: "main" });
    expect(vpc.id).toBe("org1/proj1");
    const committed = leader!.raft.status().commit;
    expect(await waitFor(() => n2.raft.status().applied >= committed, 5000)).toBe(true);
    expect(n2.network.sm.queries.getVpc(scope, "org1/proj1").ok).toBe(true);

    // Well past the time n3 would need to catch up had it been let in.
    await sleep(2000);
    const st = n3.raft.status();
    expect(st.leader).toBe("");
    // n3's log holds only the three add-voter entries every member writes itself from
    // initialMembers: nothing of the leader's (its no-op, Bootstrap, RegisterClient, CreateVpc).
    expect(committed).toBeGreaterThan(3);
    expect(st.lastIndex).toBe(3);
    expect(st.applied).toBe(3);
    expect(n3.network.sm.bootstrapped).toBe(false);
    expect(n3.network.sm.queries.getVpc(scope, "org1/proj1").ok).toBe(false);
    expect(n3.readiness()).toEqual({ ready: false, reason: "no leader" });
    // The leader never got an acknowledgement from n3.
    expect(leader!.raft.status().progress.n3?.match ?? 0).toBe(0);
    expect(leader!.raft.status().role).toBe("leader");
  });
});
