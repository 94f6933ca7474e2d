// Three `novanet` replica OS processes on loopback with JWT auth (HS256), through the client
// library. Tenant A builds a small network; then
//  - the cross-tenant matrix: for every NetworkService RPC, another org and a sibling project of
//    A's org call it (i) naming A's org/project with their own token → PERMISSION_DENIED, and
//    (ii) in their own tenant naming A's resources → NOT_FOUND / SECURITY_GROUP_NOT_FOUND (or
//    an empty list); A's resources read back identical and the resource digest never moves;
//  - the bad-input table: each malformed or refused request (tokens missing, forged or expired
//    included) gets the gRPC status of src/rpc/status.ts and its domain code, and the resource
//    digest of every replica is unchanged afterwards. Two follower-routed cases are a known
//    production bug, kept as expected failures (see "known bug" below).
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalCluster } from "../../cluster/lib/replica-processes.js";
import { NetworkServiceService } from "../../src/api/gen/novanet/v1/network.js";
import {
  type CallOptions,
  ClusterClient,
  Direction,
  type DnatConfig,
  NetworkClient,
  NovanetError,
  type Port,
  Protocol,
  type SecurityGroup,
  type SnatConfig,
  SourceType,
  type Subnet,
  type Vpc,
} from "../../src/client/index.js";

const secret = "tenancy-and-input-e2e-secret-of-more-than-32-bytes";
const dir = mkdtempSync(join(tmpdir(), "novanet-tenancy-"));
const callMs = 5_000;

let cluster: LocalCluster;
let admin: ClusterClient;
/** A leader and a follower, as the cluster reported them before the tables ran. */
const endpoints = { leader: "", follower: "" };

async function token(
  org: string,
  project: string,
  opts: { roles?: string[]; key?: string; expiredSecondsAgo?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const ago = opts.expiredSecondsAgo;
  return new SignJWT({
    org_id: org,
    project_id: project,
    ...(opts.roles ? { roles: opts.roles } : {}),
  })
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(`${org}-${project}`)
    .setIssuedAt(ago === undefined ? now : now - ago - 60)
    .setExpirationTime(ago === undefined ? now + 1800 : now - ago)
    .sign(new TextEncoder().encode(opts.key ?? secret));
}

// --- Tenants -----------------------------------------------------------------------------------

type TenantKey = "A" | "B" | "S" | "C" | "anon" | "forged" | "expired";
interface Tenant {
  org: string;
  project: string;
  /** Retrying client for setup. */
  setup: NetworkClient;
  /** One attempt per call: a refusal is never retried (nor hidden by a retry). */
  probe: NetworkClient;
}
const tenantIds: Record<TenantKey, [string, string]> = {
  A: ["orga", "p1"], // the victim
  B: ["orgb", "p1"], // another organisation
  S: ["orga", "p2"], // a sibling project of A's organisation
  C: ["orgc", "p1"], // a tenant without a VPC
  // Callers naming A's tenant without a valid token.
  anon: ["orga", "p1"], // no token at all
  forged: ["orga", "p1"], // A's claims, signed with another secret
  expired: ["orga", "p1"], // A's claims, expired an hour ago (tolerance is 30 s)
};
function tokenOf(key: TenantKey, org: string, project: string): Promise<string> | undefined {
  switch (key) {
    case "anon":
      return undefined;
    case "forged":
      return token(org, project, { key: "another-secret-that-is-also-long-enough-for-hs256" });
    case "expired":
      return token(org, project, { expiredSecondsAgo: 3600 });
    default:
      return token(org, project);
  }
}
const tenants = {} as Record<TenantKey, Tenant>;

/** What tenant A (and the intruders) built before the matrix. */
interface World {
  /** "10.x": the /16 of A's VPC. */
  net: string;
  vpc: Vpc;
  subnet: Subnet;
  /** A /29 whose only allocatable address is taken. */
  tiny: Subnet;
  dbSg: SecurityGroup;
  webSg: SecurityGroup;
  spareSg: SecurityGroup;
  /** The ids of A's 17 security groups. */
  allGroups: string[];
  /** Attached to vm-a1, groups web-sg and default. */
  port1: Port;
  /** Detached, default group. */
  port2: Port;
  snat: SnatConfig;
  dnat: DnatConfig;
  /** The intruders' own ports (in their default subnets). */
  own: Record<"B" | "S", Port>;
}
let w: World;
let baselineDigest: string;
let baselineA: Awaited<ReturnType<typeof readA>>;

/** The resource digest, once every replica reports the same one (bounded wait). */
async function digest(): Promise<string> {
  const until = Date.now() + 5_000;
  let seen = "";
  for (;;) {
    const all = await admin.statusAll({ deadlineMs: 2_000 });
    const digests = all.map((s) => s.status?.resourceDigest ?? `error:${s.error?.code}`);
    if (all.every((s) => s.status !== undefined) && new Set(digests).size === 1) return digests[0]!;
    seen = digests.join(" ");
    if (Date.now() > until) throw new Error(`replicas disagree on the resource digest: ${seen}`);
    await sleep(25);
  }
}

async function readA() {
  const a = tenants.A.probe;
  return {
    vpc: await a.getVpc({}),
    subnets: (await a.listSubnets({})).subnets,
    ports: (await a.listPorts({})).ports,
    groups: (await a.listSecurityGroups({})).securityGroups,
    snat: await a.getSnat({}),
    dnats: (await a.listDnats({})).dnats,
  };
}

beforeAll(async () => {
  const secretFile = join(dir, "hs256.secret");
  writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
  cluster = await LocalCluster.create({
    kind: "novanet",
    dir,
    replicas: 3,
    tickMs: 50,
    hs256SecretFile: secretFile,
  });
  cluster.startAll();
  admin = ClusterClient.connect({
    endpoints: cluster.endpoints(),
    token: await token("ops", "ops", { roles: ["admin"] }),
    deadlineMs: 5_000,
  });
  // Up, one leader that every replica knows, and the config bootstrapped (commit index > 0).
  const until = Date.now() + 40_000;
  for (;;) {
    const all = await admin.statusAll({ deadlineMs: 1_000 });
    const lead = all.find((s) => s.status?.role === "leader")?.status;
    if (
      lead !== undefined &&
      lead.commitIndex > 0 &&
      all.every((s) => s.status?.leaderId === lead.id && s.status.appliedIndex > 0)
    )
      break;
    if (Date.now() > until) throw new Error(`no settled cluster: ${show(all)}`);
    await sleep(100);
  }
  for (const key of Object.keys(tenantIds) as TenantKey[]) {
    const [org, project] = tenantIds[key];
    const t = await tokenOf(key, org, project);
    const common = { endpoints: cluster.endpoints(), token: t, orgId: org, projectId: project };
    tenants[key] = {
      org,
      project,
      setup: NetworkClient.connect({ ...common, deadlineMs: 30_000 }),
      probe: NetworkClient.connect({
        ...common,
        deadlineMs: callMs,
        attemptTimeoutMs: callMs,
        retry: { attemptsMax: 1 },
      }),
    };
  }

  // Tenant A's network.
  const A = tenants.A.setup;
  const vpc = await A.createVpc({ name: "a-vpc", ipv6Cidr: "fd00:a::/48" });
  const m = /^(10\.\d+)\.0\.0\/16$/.exec(vpc.cidr);
  expect(m, vpc.cidr).not.toBeNull();
  const net = m![1]!;
  const subnet = await A.createSubnet({
    vpcId: vpc.id,
    name: "web",
    cidr: `${net}.1.0/24`,
    dhcpEnabled: true,
    dnsServers: ["8.8.8.8"],
    mtu: 1450,
  });
  const tcp = (id: string, min: number, max: number, source: string) => ({
    id,
    protocol: Protocol.PROTOCOL_TCP,
    portRange: { min, max },
    sourceType: SourceType.SOURCE_TYPE_CIDR,
    source,
  });
  const dbSg = await A.createSecurityGroup({
    name: "db-sg",
    description: "databases",
    ingressRules: [tcp("pg", 5432, 5432, `${net}.1.0/24`)],
  });
  const webSg = await A.createSecurityGroup({
    name: "web-sg",
    description: "web tier",
    ingressRules: [
      tcp("ssh", 22, 22, "0.0.0.0/0"),
      tcp("http", 80, 443, "10.0.0.0/8"),
      {
        id: "from-db",
        protocol: Protocol.PROTOCOL_TCP,
        portRange: { min: 8080, max: 8080 },
        sourceType: SourceType.SOURCE_TYPE_SECURITY_GROUP,
        source: "db-sg",
      },
      {
        id: "ping",
        protocol: Protocol.PROTOCOL_ICMP,
        portRange: { min: 8, max: 0 },
        sourceType: SourceType.SOURCE_TYPE_SECURITY_GROUP,
        source: "web-sg",
      },
    ],
    egressRules: [
      {
        id: "all-out",
        protocol: Protocol.PROTOCOL_ALL,
        sourceType: SourceType.SOURCE_TYPE_CIDR,
        source: "0.0.0.0/0",
      },
    ],
  });
  const spareSg = await A.createSecurityGroup({ name: "spare-sg", description: "unused" });
  // With default, db-sg, web-sg and spare-sg: 17 groups, one more than a port may have.
  const extraGroups: string[] = [];
  for (let i = 1; i <= 13; i++) {
    extraGroups.push((await A.createSecurityGroup({ name: `g${i}`, description: "filler" })).id);
  }
  // A /29 with one usable address left (network, gateway, broadcast and .2–.5 reserved), taken.
  const tiny = await A.createSubnet({
    vpcId: vpc.id,
    name: "tiny",
    cidr: `${net}.3.0/29`,
    reservedRanges: [{ start: `${net}.3.2`, end: `${net}.3.5` }],
  });
  const tinyPort = await A.createPort({ subnetId: tiny.id });
  expect(tinyPort.ipAddress).toBe(`${net}.3.6`);
  const created = await A.createPort({
    subnetId: subnet.id,
    securityGroupIds: ["web-sg", "default"],
  });
  const port1 = await A.attachPort({ portId: created.id, vmId: "vm-a1" });
  const port2 = await A.createPort({ subnetId: subnet.id });
  const snat = await A.createSnat({});
  const dnat = await A.createDnat({
    externalPort: 8080,
    internalIp: port1.ipAddress,
    internalPort: 80,
    protocol: Protocol.PROTOCOL_TCP,
  });
  expect(port1.vmId).toBe("vm-a1");
  expect(webSg.ingressRules.map((r) => r.id)).toEqual(["ssh", "http", "from-db", "ping"]);

  // The intruders have networks of their own, so that "not found" is not just "no VPC".
  const own = {} as Record<"B" | "S", Port>;
  for (const key of ["B", "S"] as const) {
    const t = tenants[key];
    await t.setup.createVpc({ name: `${key}-vpc` });
    own[key] = await t.setup.createPort({ subnetId: `${t.org}/${t.project}/default` });
  }
  w = {
    net,
    vpc,
    subnet,
    tiny,
    dbSg,
    webSg,
    spareSg,
    allGroups: [vpc.id + "/default", dbSg.id, webSg.id, spareSg.id, ...extraGroups],
    port1,
    port2,
    snat,
    dnat,
    own,
  };

  const st = await admin.statusAll();
  endpoints.leader = st.find((s) => s.status?.role === "leader")!.endpoint;
  endpoints.follower = st.find((s) => s.status?.role === "follower")!.endpoint;
  baselineDigest = await digest();
  baselineA = await readA();
}, 90_000);

afterAll(async () => {
  for (const t of Object.values(tenants)) {
    t.setup.close();
    t.probe.close();
  }
  admin?.close();
  await cluster?.stopAll();
  if (!process.env.KEEP_TEST_DIRS) rmSync(dir, { recursive: true, force: true });
});

// --- Calling any RPC by name -------------------------------------------------------------------

type Rpc = Exclude<keyof typeof NetworkServiceService, "registerClient">;
/** Every tenant RPC of NetworkService, from the generated service definition (the proto). */
const allRpcs = Object.keys(NetworkServiceService).filter((k): k is Rpc => k !== "registerClient");
type Req = Record<string, unknown>;

function invoke(c: NetworkClient, rpc: Rpc, req: Req, opts: CallOptions = {}): Promise<unknown> {
  const fn = c[rpc] as unknown as (this: NetworkClient, r: Req, o: CallOptions) => Promise<unknown>;
  return fn.call(c, req, { deadlineMs: callMs, ...opts });
}

function show(v: unknown): string {
  const text = JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? String(x) : x));
  return text === undefined ? String(v) : text.slice(0, 300);
}

/** Expects the call to fail with exactly this gRPC status and domain code. */
async function refused(p: Promise<unknown>, grpc: GrpcStatus, code: string): Promise<void> {
  const out = await p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if ("value" in out)
    throw new Error(`expected ${code}, but the call succeeded: ${show(out.value)}`);
  if (!(out.error instanceof NovanetError)) throw out.error;
  const e = out.error;
  expect({ status: e.grpcStatus, code: e.code }, e.message).toEqual({
    status: GrpcStatus[grpc],
    code,
  });
}

/** Runs `body` and checks that no replica's resource digest moved. */
async function unchanged(body: () => Promise<void>): Promise<void> {
  const before = await digest();
  expect(before).toBe(baselineDigest);
  try {
    await body();
  } finally {
    expect(await digest(), "the resource digest changed").toBe(before);
  }
}

// --- The cross-tenant matrix -------------------------------------------------------------------

type Intruder = "B" | "S";
type Outcome =
  | { grpc: GrpcStatus; code: string }
  /** A list call: it succeeds and shows nothing of A's. */
  | { list: (res: unknown, x: Tenant) => void };

interface CrossCase {
  rpc: Rpc;
  what: string;
  /** The request without org_id / project_id. */
  req: (w: World, x: Intruder) => Req;
  /** In the intruder's own tenant. */
  own: Outcome;
}

const NOT_FOUND = { grpc: GrpcStatus.NOT_FOUND, code: "NOT_FOUND" };
const SG_NOT_FOUND = { grpc: GrpcStatus.NOT_FOUND, code: "SECURITY_GROUP_NOT_FOUND" };
const empty = (field: string) => ({
  list: (res: unknown) => expect((res as Record<string, unknown[]>)[field]).toEqual([]),
});
const onlyOwn = (field: string) => ({
  list: (res: unknown, x: Tenant) => {
    const ids = (res as Record<string, { id: string }[]>)[field]!.map((r) => r.id);
    expect(ids.length).toBeGreaterThan(0);
    for (const id of ids) expect(id.startsWith(`${x.org}/${x.project}`), id).toBe(true);
  },
});
const rule = (source: string, sourceType = SourceType.SOURCE_TYPE_SECURITY_GROUP) => ({
  protocol: Protocol.PROTOCOL_TCP,
  portRange: { min: 2222, max: 2222 },
  sourceType,
  source,
});
const ownDefault = (x: Intruder) => `${tenants[x].org}/${tenants[x].project}/default`;

const crossCases: CrossCase[] = [
  // VPC. CreateVpc names no resource: the intruder (which has a VPC) gets its own ALREADY_EXISTS.
  {
    rpc: "createVpc",
    what: "a VPC with A's CIDR",
    req: (w) => ({ name: "x", cidr: w.vpc.cidr }),
    own: { grpc: GrpcStatus.ALREADY_EXISTS, code: "ALREADY_EXISTS" },
  },
  { rpc: "getVpc", what: "A's VPC", req: (w) => ({ vpcId: w.vpc.id }), own: NOT_FOUND },
  { rpc: "listVpcs", what: "all VPCs", req: () => ({}), own: onlyOwn("vpcs") },
  {
    rpc: "deleteVpc",
    what: "A's VPC with cascade",
    req: (w) => ({ vpcId: w.vpc.id, cascade: true }),
    own: NOT_FOUND,
  },
  // Subnet
  {
    rpc: "createSubnet",
    what: "a subnet in A's VPC",
    req: (w) => ({ vpcId: w.vpc.id, name: "intruder", cidr: `${w.net}.9.0/24` }),
    own: NOT_FOUND,
  },
  { rpc: "getSubnet", what: "A's subnet", req: (w) => ({ subnetId: w.subnet.id }), own: NOT_FOUND },
  {
    rpc: "listSubnets",
    what: "filtered by A's VPC",
    req: (w) => ({ vpcId: w.vpc.id }),
    // docs/api.md: a vpc_id filter naming another VPC is NOT_FOUND.
    own: NOT_FOUND,
  },
  {
    rpc: "deleteSubnet",
    what: "A's subnet",
    req: (w) => ({ subnetId: w.subnet.id }),
    own: NOT_FOUND,
  },
  {
    rpc: "updateSubnet",
    what: "A's subnet's MTU and DNS",
    req: (w) => ({
      subnetId: w.subnet.id,
      updateMtu: true,
      mtu: 1400,
      updateDnsServers: true,
      dnsServers: ["1.1.1.1"],
    }),
    own: NOT_FOUND,
  },
  // Port
  {
    rpc: "createPort",
    what: "a port in A's subnet",
    req: (w) => ({ subnetId: w.subnet.id }),
    own: NOT_FOUND,
  },
  {
    rpc: "createPort",
    what: "a port in A's subnet with A's port IP and MAC",
    req: (w) => ({
      subnetId: w.subnet.id,
      ipAddress: w.port1.ipAddress,
      macAddress: w.port1.macAddress,
    }),
    own: NOT_FOUND,
  },
  {
    rpc: "createPort",
    what: "an own port in A's security group",
    req: (w, x) => ({
      subnetId: ownDefault(x), // the default subnet (same id as the default group)
      securityGroupIds: [w.webSg.id],
    }),
    own: SG_NOT_FOUND,
  },
  {
    rpc: "createPort",
    what: "an own port in a group named like A's (bare name)",
    req: (w, x) => ({ subnetId: ownDefault(x), securityGroupIds: [w.webSg.name] }),
    own: SG_NOT_FOUND,
  },
  { rpc: "getPort", what: "A's port", req: (w) => ({ portId: w.port1.id }), own: NOT_FOUND },
  {
    rpc: "getPort",
    what: "A's port, id in upper case",
    req: (w) => ({ portId: w.port1.id.toUpperCase() }),
    own: NOT_FOUND,
  },
  {
    rpc: "listPorts",
    what: "filtered by A's subnet",
    req: (w) => ({ subnetId: w.subnet.id }),
    own: empty("ports"),
  },
  {
    rpc: "listPorts",
    what: "filtered by A's VM",
    req: (w) => ({ vmId: w.port1.vmId }),
    own: empty("ports"),
  },
  { rpc: "deletePort", what: "A's port", req: (w) => ({ portId: w.port1.id }), own: NOT_FOUND },
  {
    rpc: "attachPort",
    what: "A's detached port to the intruder's VM",
    req: (w) => ({ portId: w.port2.id, vmId: "vm-intruder" }),
    own: NOT_FOUND,
  },
  {
    rpc: "detachPort",
    what: "A's attached port",
    req: (w) => ({ portId: w.port1.id }),
    own: NOT_FOUND,
  },
  {
    rpc: "detachPort",
    what: "A's attached port from its VM",
    req: (w) => ({ portId: w.port1.id, vmId: w.port1.vmId }),
    own: NOT_FOUND,
  },
  {
    rpc: "updatePort",
    what: "A's port's groups",
    req: (w) => ({ portId: w.port1.id, securityGroupIds: [] }),
    own: NOT_FOUND,
  },
  {
    rpc: "updatePort",
    what: "the intruder's port into A's group",
    req: (w, x) => ({ portId: w.own[x].id, securityGroupIds: [w.webSg.id] }),
    own: SG_NOT_FOUND,
  },
  // Security groups
  {
    rpc: "createSecurityGroup",
    what: "a group whose rule names A's group",
    req: (w) => ({ name: "probe", ingressRules: [rule(w.webSg.id)] }),
    own: SG_NOT_FOUND,
  },
  {
    rpc: "getSecurityGroup",
    what: "A's group",
    req: (w) => ({ securityGroupId: w.webSg.id }),
    own: NOT_FOUND,
  },
  {
    rpc: "getSecurityGroup",
    what: "A's default group",
    req: () => ({ securityGroupId: "orga/p1/default" }),
    own: NOT_FOUND,
  },
  {
    rpc: "listSecurityGroups",
    what: "all groups",
    req: () => ({}),
    own: onlyOwn("securityGroups"),
  },
  {
    rpc: "updateSecurityGroup",
    what: "A's group's rules",
    req: (w) => ({
      securityGroupId: w.webSg.id,
      description: "pwned",
      ingressRules: [rule("0.0.0.0/0", SourceType.SOURCE_TYPE_CIDR)],
      egressRules: [],
    }),
    own: NOT_FOUND,
  },
  {
    rpc: "updateSecurityGroup",
    what: "the intruder's group with an egress rule naming A's group",
    req: (w, x) => ({
      securityGroupId: ownDefault(x),
      ingressRules: [],
      egressRules: [rule(w.dbSg.id)],
    }),
    own: SG_NOT_FOUND,
  },
  {
    rpc: "deleteSecurityGroup",
    what: "A's unused group",
    req: (w) => ({ securityGroupId: w.spareSg.id }),
    own: NOT_FOUND,
  },
  {
    rpc: "addSecurityGroupRule",
    what: "a rule in A's group",
    req: (w) => ({
      securityGroupId: w.webSg.id,
      direction: Direction.DIRECTION_INGRESS,
      rule: rule("0.0.0.0/0", SourceType.SOURCE_TYPE_CIDR),
    }),
    own: NOT_FOUND,
  },
  {
    rpc: "addSecurityGroupRule",
    what: "a rule of the intruder's group naming A's group",
    req: (w, x) => ({
      securityGroupId: ownDefault(x),
      direction: Direction.DIRECTION_INGRESS,
      rule: rule(w.webSg.id),
    }),
    own: SG_NOT_FOUND,
  },
  {
    rpc: "removeSecurityGroupRule",
    what: "a rule of A's group",
    req: (w) => ({ securityGroupId: w.webSg.id, ruleId: "ssh" }),
    own: NOT_FOUND,
  },
  // NAT
  { rpc: "createSnat", what: "SNAT on A's VPC", req: (w) => ({ vpcId: w.vpc.id }), own: NOT_FOUND },
  {
    // External IPs are global (docs/statemachine.md): the address is "in use", A is not named.
    rpc: "createSnat",
    what: "own SNAT on A's external IP",
    req: (w) => ({ externalIp: w.snat.externalIp }),
    own: { grpc: GrpcStatus.ALREADY_EXISTS, code: "EXTERNAL_IP_IN_USE" },
  },
  { rpc: "deleteSnat", what: "A's SNAT", req: (w) => ({ vpcId: w.vpc.id }), own: NOT_FOUND },
  { rpc: "getSnat", what: "A's SNAT", req: (w) => ({ vpcId: w.vpc.id }), own: NOT_FOUND },
  {
    rpc: "createDnat",
    what: "DNAT in A's VPC to A's port",
    req: (w) => ({
      vpcId: w.vpc.id,
      externalPort: 9001,
      internalIp: w.port1.ipAddress,
      internalPort: 22,
      protocol: Protocol.PROTOCOL_TCP,
    }),
    own: NOT_FOUND,
  },
  {
    rpc: "createDnat",
    what: "own DNAT to A's port IP",
    req: (w) => ({
      externalPort: 9002,
      internalIp: w.port1.ipAddress,
      internalPort: 22,
      protocol: Protocol.PROTOCOL_TCP,
    }),
    own: NOT_FOUND,
  },
  {
    rpc: "createDnat",
    what: "own DNAT on A's external IP",
    req: (w, x) => ({
      externalIp: w.dnat.externalIp,
      externalPort: 9003,
      internalIp: w.own[x].ipAddress,
      internalPort: 22,
      protocol: Protocol.PROTOCOL_TCP,
    }),
    own: { grpc: GrpcStatus.ALREADY_EXISTS, code: "EXTERNAL_IP_IN_USE" },
  },
  { rpc: "deleteDnat", what: "A's DNAT", req: (w) => ({ dnatId: w.dnat.id }), own: NOT_FOUND },
  {
    rpc: "listDnats",
    what: "filtered by A's VPC",
    req: (w) => ({ vpcId: w.vpc.id }),
    own: NOT_FOUND,
  },
  {
    rpc: "listDnats",
    what: "all DNATs",
    req: () => ({}),
    own: empty("dnats"),
  },
];

const intruders: { key: Intruder; label: string }[] = [
  { key: "B", label: "another org (orgb/p1)" },
  { key: "S", label: "a sibling project (orga/p2)" },
];
const matrix = intruders.flatMap((x) =>
  crossCases.map((c) => ({ ...c, x: x.key, name: `${x.label}: ${c.rpc} — ${c.what}` })),
);

describe("the cross-tenant matrix", () => {
  it("covers every NetworkService RPC of the proto", () => {
    expect(allRpcs).toHaveLength(29);
    expect(new Set(crossCases.map((c) => c.rpc))).toEqual(new Set(allRpcs));
  });

  it.each(matrix)("$name", async ({ rpc, req, own, x }) => {
    const t = tenants[x];
    await unchanged(async () => {
      // (i) The intruder's token, A's org/project in the request.
      await refused(
        invoke(t.probe, rpc, { ...req(w, x), orgId: "orga", projectId: "p1" }),
        GrpcStatus.PERMISSION_DENIED,
        "PERMISSION_DENIED",
      );
      // (ii) The intruder's own tenant, A's resource ids.
      const ownReq = { ...req(w, x), orgId: t.org, projectId: t.project };
      if ("list" in own) own.list(await invoke(t.probe, rpc, ownReq), t);
      else await refused(invoke(t.probe, rpc, ownReq), own.grpc, own.code);
    });
  });

  it("leaves A's resources identical and the resource digest unchanged", async () => {
    expect(await readA()).toEqual(baselineA);
    expect(await digest()).toBe(baselineDigest);
  });
});

// --- The bad-input table -----------------------------------------------------------------------

interface BadCase {
  name: string;
  rpc: Rpc;
  /** Who calls (default A); the request's org/project default to the caller's. */
  as?: TenantKey;
  /** Send to this replica only: a follower forwards the write to the leader. */
  via?: "leader" | "follower";
  req: (w: World) => Req;
  grpc: GrpcStatus;
  code: string;
}

const S = GrpcStatus;
const INVALID = S.INVALID_ARGUMENT;
const long = (n: number) => "n".repeat(n);
const tcpRule = (min: number, max: number) => ({
  protocol: Protocol.PROTOCOL_TCP,
  portRange: { min, max },
  sourceType: SourceType.SOURCE_TYPE_CIDR,
  source: "0.0.0.0/0",
});
const newSubnet = (w: World, fields: Req): Req => ({
  vpcId: w.vpc.id,
  name: "probe",
  cidr: `${w.net}.2.0/24`,
  ...fields,
});
const sgWith = (ingressRules: unknown[], extra: Req = {}): Req => ({
  name: "probe",
  ingressRules,
  ...extra,
});
const dnatTo = (w: World, fields: Req): Req => ({
  externalPort: 9000,
  internalIp: w.port1.ipAddress,
  internalPort: 22,
  protocol: Protocol.PROTOCOL_TCP,
  ...fields,
});

const badCases: BadCase[] = [
  // --- Tenant fields (checked by the auth layer) ---
  {
    name: "empty org_id",
    rpc: "getVpc",
    req: () => ({ orgId: "" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "empty project_id",
    rpc: "createPort",
    req: (w) => ({ projectId: "", subnetId: w.subnet.id }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "empty org_id and project_id",
    rpc: "deleteVpc",
    req: () => ({ orgId: "", projectId: "", cascade: true }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },

  // --- Tokens: A's tenant named without a valid token (through the retrying-free client) ---
  {
    name: "no token",
    as: "anon",
    rpc: "getVpc",
    req: () => ({}),
    grpc: S.UNAUTHENTICATED,
    code: "UNAUTHENTICATED",
  },
  {
    name: "no token, a write",
    as: "anon",
    rpc: "deletePort",
    req: (w) => ({ portId: w.port2.id }),
    grpc: S.UNAUTHENTICATED,
    code: "UNAUTHENTICATED",
  },
  {
    name: "token signed with another secret",
    as: "forged",
    rpc: "getPort",
    req: (w) => ({ portId: w.port1.id }),
    grpc: S.UNAUTHENTICATED,
    code: "UNAUTHENTICATED",
  },
  {
    name: "token signed with another secret, a write",
    as: "forged",
    rpc: "deleteVpc",
    req: () => ({ cascade: true }),
    grpc: S.UNAUTHENTICATED,
    code: "UNAUTHENTICATED",
  },
  {
    name: "expired token",
    as: "expired",
    rpc: "listPorts",
    req: () => ({}),
    grpc: S.UNAUTHENTICATED,
    code: "UNAUTHENTICATED",
  },
  {
    name: "expired token, a write",
    as: "expired",
    rpc: "deleteSecurityGroup",
    req: (w) => ({ securityGroupId: w.spareSg.id }),
    grpc: S.UNAUTHENTICATED,
    code: "UNAUTHENTICATED",
  },

  // --- VPC (tenant C has none) ---
  {
    name: "VPC CIDR /33",
    as: "C",
    rpc: "createVpc",
    req: () => ({ name: "c", cidr: "10.0.0.0/33" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "VPC CIDR octet 300",
    as: "C",
    rpc: "createVpc",
    req: () => ({ name: "c", cidr: "300.1.0.0/16" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "VPC CIDR with host bits",
    as: "C",
    rpc: "createVpc",
    req: () => ({ name: "c", cidr: "10.0.0.1/16" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "VPC CIDR garbage",
    as: "C",
    rpc: "createVpc",
    req: () => ({ name: "c", cidr: "ten-dot-zero" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "VPC CIDR without prefix",
    as: "C",
    rpc: "createVpc",
    req: () => ({ name: "c", cidr: "10.0.0.0" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "VPC CIDR /7 (too large)",
    as: "C",
    rpc: "createVpc",
    req: () => ({ name: "c", cidr: "10.0.0.0/7" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "VPC CIDR /25 (longer than the default subnet)",
    as: "C",
    rpc: "createVpc",
    req: () => ({ name: "c", cidr: "10.0.0.0/25" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "VPC CIDR loopback",
    as: "C",
    rpc: "createVpc",
    req: () => ({ name: "c", cidr: "127.0.0.0/16" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "VPC CIDR multicast",
    as: "C",
    rpc: "createVpc",
    req: () => ({ name: "c", cidr: "224.0.0.0/16" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "VPC CIDR IPv6 in the IPv4 field",
    as: "C",
    rpc: "createVpc",
    req: () => ({ name: "c", cidr: "2001:db8::/48" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "VPC ipv6_cidr IPv4",
    as: "C",
    rpc: "createVpc",
    req: () => ({ name: "c", ipv6Cidr: "10.0.0.0/16" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "VPC ipv6_cidr /80",
    as: "C",
    rpc: "createVpc",
    req: () => ({ name: "c", ipv6Cidr: "2001:db8::/80" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "VPC name of 256 characters",
    as: "C",
    rpc: "createVpc",
    req: () => ({ name: long(256) }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "VPC name with a newline",
    as: "C",
    rpc: "createVpc",
    req: () => ({ name: "a\nb" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  // Longer than a command string may be (limits.ts commandStringLengthMax): the entry is refused
  // as a malformed command.
  {
    name: "VPC name of 10,000 characters",
    as: "C",
    via: "leader",
    rpc: "createVpc",
    req: () => ({ name: long(10_000) }),
    grpc: INVALID,
    code: "INVALID_COMMAND",
  },
  {
    name: "second VPC of a project",
    rpc: "createVpc",
    req: () => ({ name: "again" }),
    grpc: S.ALREADY_EXISTS,
    code: "ALREADY_EXISTS",
  },
  {
    name: "delete a VPC that holds ports, no cascade",
    rpc: "deleteVpc",
    req: (w) => ({ vpcId: w.vpc.id }),
    grpc: S.FAILED_PRECONDITION,
    code: "FAILED_PRECONDITION",
  },
  {
    name: "delete a VPC by a malformed id",
    rpc: "deleteVpc",
    req: () => ({ vpcId: "orga/p1/x" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "delete a missing VPC",
    as: "C",
    rpc: "deleteVpc",
    req: () => ({ cascade: true }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "get a missing VPC",
    as: "C",
    rpc: "getVpc",
    req: () => ({}),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "list VPCs, page_size 1001",
    rpc: "listVpcs",
    req: () => ({ pageSize: 1001 }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },

  // --- Subnet ---
  {
    name: "subnet CIDR /33",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { cidr: "10.0.0.0/33" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "subnet CIDR 300.1.1.0/24",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { cidr: "300.1.1.0/24" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "subnet CIDR with host bits",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { cidr: `${w.net}.2.1/24` }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "subnet CIDR 10.0.0.1/24",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { cidr: "10.0.0.1/24" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "subnet CIDR empty",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { cidr: "" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "subnet CIDR garbage",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { cidr: "garbage/24" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "subnet CIDR prefix with a leading zero",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { cidr: `${w.net}.2.0/024` }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "subnet CIDR /30 (too small)",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { cidr: `${w.net}.2.0/30` }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "subnet outside the VPC",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { cidr: "192.168.0.0/24" }),
    grpc: INVALID,
    code: "SUBNET_OUTSIDE_VPC",
  },
  {
    name: "subnet larger than the VPC",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { cidr: "10.0.0.0/8" }),
    grpc: INVALID,
    code: "SUBNET_OUTSIDE_VPC",
  },
  {
    name: "IPv6 subnet outside the VPC's ipv6_cidr",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { cidr: "fd00:b::/64" }),
    grpc: INVALID,
    code: "SUBNET_OUTSIDE_VPC",
  },
  {
    name: "IPv6 subnet in a VPC without ipv6_cidr",
    as: "B",
    rpc: "createSubnet",
    req: () => ({ vpcId: "orgb/p1", name: "v6", cidr: "fd00:a::/64" }),
    grpc: INVALID,
    code: "SUBNET_OUTSIDE_VPC",
  },
  {
    name: "IPv6 subnet /63 (too large)",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { cidr: "fd00:a:0:2::/63" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "IPv6 subnet /127 (too small)",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { cidr: "fd00:a:0:2::/127" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "IPv6 subnet with host bits",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { cidr: "fd00:a:0:2::1/64" }),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "IPv6 subnet, MTU 1279",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { cidr: "fd00:a:0:2::/64", mtu: 1279 }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "subnet equal to the default subnet",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { cidr: `${w.net}.0.0/24` }),
    grpc: S.ALREADY_EXISTS,
    code: "CIDR_OVERLAP",
  },
  {
    name: "subnet inside another subnet",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { cidr: `${w.net}.1.128/25` }),
    grpc: S.ALREADY_EXISTS,
    code: "CIDR_OVERLAP",
  },
  {
    name: "subnet covering two subnets",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { cidr: `${w.net}.0.0/23` }),
    grpc: S.ALREADY_EXISTS,
    code: "CIDR_OVERLAP",
  },
  {
    name: "subnet overlap, via a follower",
    rpc: "createSubnet",
    via: "follower",
    req: (w) => newSubnet(w, { cidr: `${w.net}.1.0/24` }),
    grpc: S.ALREADY_EXISTS,
    code: "CIDR_OVERLAP",
  },
  {
    name: "subnet name taken",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { name: "web" }),
    grpc: S.ALREADY_EXISTS,
    code: "ALREADY_EXISTS",
  },
  {
    name: "subnet name empty",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { name: "" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "subnet name with a slash",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { name: "a/b" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "subnet name of 64 characters",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { name: long(64) }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "subnet name of 10,000 characters",
    via: "leader",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { name: long(10_000) }),
    grpc: INVALID,
    code: "INVALID_COMMAND",
  },
  {
    name: "subnet in a missing VPC",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { vpcId: "orga/p1/nope" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "gateway outside the subnet",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { gatewayIp: "8.8.8.8" }),
    grpc: INVALID,
    code: "IP_OUTSIDE_SUBNET",
  },
  {
    name: "gateway = network address",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { gatewayIp: `${w.net}.2.0` }),
    grpc: INVALID,
    code: "IP_RESERVED",
  },
  {
    name: "gateway = broadcast address",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { gatewayIp: `${w.net}.2.255` }),
    grpc: INVALID,
    code: "IP_RESERVED",
  },
  {
    name: "gateway not an IP",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { gatewayIp: "gw" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "DNS server not an IP",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { dnsServers: ["8.8.8"] }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "DNS server listed twice",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { dnsServers: ["8.8.8.8", "8.8.8.8"] }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "six DNS servers",
    rpc: "createSubnet",
    req: (w) =>
      newSubnet(w, {
        dnsServers: ["1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4", "9.9.9.9", "149.112.112.112"],
      }),
    grpc: S.RESOURCE_EXHAUSTED,
    code: "LIMIT_EXCEEDED",
  },
  {
    name: "MTU 67",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { mtu: 67 }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "MTU 9217",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { mtu: 9217 }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "reserved range outside the subnet",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { reservedRanges: [{ start: `${w.net}.3.1`, end: `${w.net}.3.9` }] }),
    grpc: INVALID,
    code: "IP_OUTSIDE_SUBNET",
  },
  {
    name: "reserved range start after end",
    rpc: "createSubnet",
    req: (w) =>
      newSubnet(w, { reservedRanges: [{ start: `${w.net}.2.20`, end: `${w.net}.2.10` }] }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "reserved range not IPs",
    rpc: "createSubnet",
    req: (w) => newSubnet(w, { reservedRanges: [{ start: "a", end: "b" }] }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "17 reserved ranges",
    rpc: "createSubnet",
    req: (w) =>
      newSubnet(w, {
        reservedRanges: Array.from({ length: 17 }, (_, i) => ({
          start: `${w.net}.2.${10 + i}`,
          end: `${w.net}.2.${10 + i}`,
        })),
      }),
    grpc: S.RESOURCE_EXHAUSTED,
    code: "LIMIT_EXCEEDED",
  },
  {
    name: "subnet with no usable address",
    rpc: "createSubnet",
    req: (w) =>
      newSubnet(w, {
        cidr: `${w.net}.2.0/29`,
        reservedRanges: [{ start: `${w.net}.2.0`, end: `${w.net}.2.7` }],
      }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "update subnet: MTU 50",
    rpc: "updateSubnet",
    req: (w) => ({ subnetId: w.subnet.id, updateMtu: true, mtu: 50 }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "update subnet: MTU 10000",
    rpc: "updateSubnet",
    req: (w) => ({ subnetId: w.subnet.id, updateMtu: true, mtu: 10_000 }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "update subnet: bad DNS server",
    rpc: "updateSubnet",
    req: (w) => ({
      subnetId: w.subnet.id,
      updateDnsServers: true,
      dnsServers: ["1.1.1.1", "dns.example"],
    }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "update subnet: malformed id",
    rpc: "updateSubnet",
    req: () => ({ subnetId: "x/y/z/w", updateMtu: true, mtu: 1400 }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "delete subnet that holds ports",
    rpc: "deleteSubnet",
    req: (w) => ({ subnetId: w.subnet.id }),
    grpc: S.FAILED_PRECONDITION,
    code: "FAILED_PRECONDITION",
  },
  {
    name: "delete subnet: empty id",
    rpc: "deleteSubnet",
    req: () => ({ subnetId: "" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "delete subnet: malformed id x/y/z/w",
    rpc: "deleteSubnet",
    req: () => ({ subnetId: "x/y/z/w" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "get subnet: malformed id x/y/z/w",
    rpc: "getSubnet",
    req: () => ({ subnetId: "x/y/z/w" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "list subnets: bad page token",
    rpc: "listSubnets",
    req: () => ({ pageToken: "%%%" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },

  // --- Port ---
  {
    name: "port: empty subnet_id",
    rpc: "createPort",
    req: () => ({ subnetId: "" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "port: subnet id x/y/z/w",
    rpc: "createPort",
    req: () => ({ subnetId: "x/y/z/w" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "port: IP outside the subnet",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, ipAddress: "192.168.1.5" }),
    grpc: INVALID,
    code: "IP_OUTSIDE_SUBNET",
  },
  {
    name: "port: IP of another subnet of the VPC",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, ipAddress: `${w.net}.0.5` }),
    grpc: INVALID,
    code: "IP_OUTSIDE_SUBNET",
  },
  {
    name: "port: IPv6 address in an IPv4 subnet",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, ipAddress: "2001:db8::5" }),
    grpc: INVALID,
    code: "IP_OUTSIDE_SUBNET",
  },
  {
    name: "port: IP taken",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, ipAddress: w.port1.ipAddress }),
    grpc: S.ALREADY_EXISTS,
    code: "IP_ALREADY_ALLOCATED",
  },
  {
    name: "port: IP taken, via a follower",
    rpc: "createPort",
    via: "follower",
    req: (w) => ({ subnetId: w.subnet.id, ipAddress: w.port2.ipAddress }),
    grpc: S.ALREADY_EXISTS,
    code: "IP_ALREADY_ALLOCATED",
  },
  {
    name: "port: no free address left",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.tiny.id }),
    grpc: S.RESOURCE_EXHAUSTED,
    code: "SUBNET_EXHAUSTED",
  },
  {
    name: "port: address in a configured reserved range",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.tiny.id, ipAddress: `${w.net}.3.3` }),
    grpc: INVALID,
    code: "IP_RESERVED",
  },
  {
    name: "port: 17 security groups",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, securityGroupIds: w.allGroups }),
    grpc: S.RESOURCE_EXHAUSTED,
    code: "LIMIT_EXCEEDED",
  },
  {
    name: "port: network address",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, ipAddress: `${w.net}.1.0` }),
    grpc: INVALID,
    code: "IP_RESERVED",
  },
  {
    name: "port: gateway address",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, ipAddress: `${w.net}.1.1` }),
    grpc: INVALID,
    code: "IP_RESERVED",
  },
  {
    name: "port: broadcast address",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, ipAddress: `${w.net}.1.255` }),
    grpc: INVALID,
    code: "IP_RESERVED",
  },
  {
    name: "port: IP octet 300",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, ipAddress: `${w.net}.1.300` }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "port: IP with a leading zero",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, ipAddress: `${w.net}.1.07` }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "port: MAC not hex",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, macAddress: "zz:zz:zz:zz:zz:zz" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "port: MAC too short",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, macAddress: "fa:16:3e:00:01" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "port: MAC with mixed separators",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, macAddress: "fa:16:3e-00-00-01" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "port: multicast MAC",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, macAddress: "01:00:5e:00:00:01" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "port: all-zero MAC",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, macAddress: "00:00:00:00:00:00" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "port: MAC in use in the VPC",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, macAddress: w.port1.macAddress.toUpperCase() }),
    grpc: S.ALREADY_EXISTS,
    code: "MAC_ADDRESS_IN_USE",
  },
  {
    name: "port: vm_id with a space",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, vmId: "vm 1" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "port: vm_id of 129 characters",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, vmId: long(129) }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "port: missing security group",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, securityGroupIds: ["default", "nope"] }),
    grpc: S.NOT_FOUND,
    code: "SECURITY_GROUP_NOT_FOUND",
  },
  {
    name: "port: group of a sibling project",
    rpc: "createPort",
    req: (w) => ({ subnetId: w.subnet.id, securityGroupIds: ["orga/p2/default"] }),
    grpc: S.NOT_FOUND,
    code: "SECURITY_GROUP_NOT_FOUND",
  },
  {
    name: "get port: id not-a-uuid",
    rpc: "getPort",
    req: () => ({ portId: "not-a-uuid" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "get port: empty port_id",
    rpc: "getPort",
    req: () => ({ portId: "" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "delete port: empty port_id",
    rpc: "deletePort",
    req: () => ({ portId: "" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "delete port: id not-a-uuid",
    rpc: "deletePort",
    req: () => ({ portId: "not-a-uuid" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "delete port: unknown UUID",
    rpc: "deletePort",
    req: () => ({ portId: randomUUID() }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "attach: port attached to another VM",
    rpc: "attachPort",
    req: (w) => ({ portId: w.port1.id, vmId: "vm-other" }),
    grpc: S.FAILED_PRECONDITION,
    code: "PORT_ALREADY_ATTACHED",
  },
  {
    name: "attach: empty vm_id",
    rpc: "attachPort",
    req: (w) => ({ portId: w.port2.id, vmId: "" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "attach: vm_id with a control character",
    rpc: "attachPort",
    req: (w) => ({ portId: w.port2.id, vmId: "vm\u0001" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "attach: empty port_id",
    rpc: "attachPort",
    req: () => ({ portId: "", vmId: "vm-1" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "attach: id not-a-uuid",
    rpc: "attachPort",
    req: () => ({ portId: "not-a-uuid", vmId: "vm-1" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "detach: from a VM it is not attached to",
    rpc: "detachPort",
    req: (w) => ({ portId: w.port1.id, vmId: "vm-other" }),
    grpc: S.FAILED_PRECONDITION,
    code: "FAILED_PRECONDITION",
  },
  {
    name: "detach: vm_id with a space",
    rpc: "detachPort",
    req: (w) => ({ portId: w.port1.id, vmId: "vm a1" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "update port: 17 security groups",
    rpc: "updatePort",
    req: (w) => ({ portId: w.port2.id, securityGroupIds: w.allGroups }),
    grpc: S.RESOURCE_EXHAUSTED,
    code: "LIMIT_EXCEEDED",
  },
  {
    name: "detach: id not-a-uuid",
    rpc: "detachPort",
    req: () => ({ portId: "not-a-uuid" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "update port: missing group",
    rpc: "updatePort",
    req: (w) => ({ portId: w.port1.id, securityGroupIds: ["nope"] }),
    grpc: S.NOT_FOUND,
    code: "SECURITY_GROUP_NOT_FOUND",
  },
  {
    name: "update port: id not-a-uuid",
    rpc: "updatePort",
    req: () => ({ portId: "not-a-uuid", securityGroupIds: [] }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "list ports: page_size 1001",
    rpc: "listPorts",
    req: () => ({ pageSize: 1001 }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "list ports: bad page token",
    rpc: "listPorts",
    req: () => ({ pageToken: "%%%" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },

  // --- Security groups ---
  {
    name: "group: empty name",
    rpc: "createSecurityGroup",
    req: () => sgWith([], { name: "" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "group: name with a slash",
    rpc: "createSecurityGroup",
    req: () => sgWith([], { name: "a/b" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "group: name taken",
    rpc: "createSecurityGroup",
    req: () => sgWith([], { name: "web-sg" }),
    grpc: S.ALREADY_EXISTS,
    code: "ALREADY_EXISTS",
  },
  {
    name: "group: name of 10,000 characters",
    via: "leader",
    rpc: "createSecurityGroup",
    req: () => sgWith([], { name: long(10_000) }),
    grpc: INVALID,
    code: "INVALID_COMMAND",
  },
  // A command over 1 MiB (Raft's proposal bound, limits.ts commandBytesMax): refused before proposing.
  {
    name: "group: description of 1.5 MB",
    via: "leader",
    rpc: "createSecurityGroup",
    req: () => sgWith([], { description: long(1_500_000) }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "group: description of 256 characters",
    rpc: "createSecurityGroup",
    req: () => sgWith([], { description: long(256) }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "group: description with a control character",
    rpc: "createSecurityGroup",
    req: () => sgWith([], { description: "bell\u0007" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "rule: protocol 99",
    rpc: "createSecurityGroup",
    req: () => sgWith([{ ...tcpRule(22, 22), protocol: 99 }]),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "rule: protocol unspecified",
    rpc: "createSecurityGroup",
    req: () => sgWith([{ ...tcpRule(22, 22), protocol: 0 }]),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "rule: source_type 0",
    rpc: "createSecurityGroup",
    req: () => sgWith([{ ...tcpRule(22, 22), sourceType: 0 }]),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "rule: source_type 99",
    rpc: "createSecurityGroup",
    req: () => sgWith([{ ...tcpRule(22, 22), sourceType: 99 }]),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "rule: TCP port range {0,0}",
    rpc: "createSecurityGroup",
    req: () => sgWith([tcpRule(0, 0)]),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "rule: TCP port range {1,65536}",
    rpc: "createSecurityGroup",
    req: () => sgWith([tcpRule(1, 65_536)]),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "rule: TCP port range {100,50}",
    rpc: "createSecurityGroup",
    req: () => sgWith([tcpRule(100, 50)]),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "rule: UDP port range {0,53}",
    rpc: "createSecurityGroup",
    req: () => sgWith([{ ...tcpRule(0, 53), protocol: Protocol.PROTOCOL_UDP }]),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "rule: ICMP code 256",
    rpc: "createSecurityGroup",
    req: () => sgWith([{ ...tcpRule(8, 256), protocol: Protocol.PROTOCOL_ICMP }]),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "rule: protocol ALL with a port range",
    rpc: "createSecurityGroup",
    req: () => sgWith([{ ...tcpRule(1, 2), protocol: Protocol.PROTOCOL_ALL }]),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "rule: source CIDR with host bits",
    rpc: "createSecurityGroup",
    req: () => sgWith([{ ...tcpRule(22, 22), source: "10.0.0.1/8" }]),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "rule: empty source CIDR",
    rpc: "createSecurityGroup",
    req: () => sgWith([{ ...tcpRule(22, 22), source: "" }]),
    grpc: INVALID,
    code: "INVALID_CIDR",
  },
  {
    name: "rule: source names a missing group",
    rpc: "createSecurityGroup",
    req: () =>
      sgWith([
        { ...tcpRule(22, 22), sourceType: SourceType.SOURCE_TYPE_SECURITY_GROUP, source: "nope" },
      ]),
    grpc: S.NOT_FOUND,
    code: "SECURITY_GROUP_NOT_FOUND",
  },
  {
    name: "rule: malformed rule id",
    rpc: "createSecurityGroup",
    req: () => sgWith([{ ...tcpRule(22, 22), id: "bad id" }]),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "rule: one id twice",
    rpc: "createSecurityGroup",
    req: () =>
      sgWith([
        { ...tcpRule(22, 22), id: "r" },
        { ...tcpRule(23, 23), id: "r" },
      ]),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "rule: one rule twice",
    rpc: "createSecurityGroup",
    req: () => sgWith([tcpRule(22, 22), tcpRule(22, 22)]),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "rule: 129 rules",
    rpc: "createSecurityGroup",
    req: () =>
      sgWith(
        Array.from({ length: 129 }, (_, i) => ({ ...tcpRule(22, 22), source: `10.${i}.0.0/16` })),
      ),
    grpc: S.RESOURCE_EXHAUSTED,
    code: "LIMIT_EXCEEDED",
  },
  {
    name: "add rule: direction unspecified",
    rpc: "addSecurityGroupRule",
    req: (w) => ({ securityGroupId: w.webSg.id, direction: 0, rule: tcpRule(23, 23) }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "add rule: direction 9",
    rpc: "addSecurityGroupRule",
    req: (w) => ({ securityGroupId: w.webSg.id, direction: 9, rule: tcpRule(23, 23) }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "add rule: no rule",
    rpc: "addSecurityGroupRule",
    req: (w) => ({ securityGroupId: w.webSg.id, direction: Direction.DIRECTION_INGRESS }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "add rule: TCP port range {0,0}",
    rpc: "addSecurityGroupRule",
    req: (w) => ({
      securityGroupId: w.webSg.id,
      direction: Direction.DIRECTION_INGRESS,
      rule: tcpRule(0, 0),
    }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "add rule: protocol 99",
    rpc: "addSecurityGroupRule",
    req: (w) => ({
      securityGroupId: w.webSg.id,
      direction: Direction.DIRECTION_EGRESS,
      rule: { ...tcpRule(23, 23), protocol: 99 },
    }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "add rule: existing rule id",
    rpc: "addSecurityGroupRule",
    req: (w) => ({
      securityGroupId: w.webSg.id,
      direction: Direction.DIRECTION_INGRESS,
      rule: { ...tcpRule(23, 23), id: "ssh" },
    }),
    grpc: S.ALREADY_EXISTS,
    code: "ALREADY_EXISTS",
  },
  {
    name: "add rule: identical to an existing rule",
    rpc: "addSecurityGroupRule",
    req: (w) => ({
      securityGroupId: w.webSg.id,
      direction: Direction.DIRECTION_INGRESS,
      rule: tcpRule(22, 22),
    }),
    grpc: S.ALREADY_EXISTS,
    code: "ALREADY_EXISTS",
  },
  {
    name: "add rule: source names a missing group",
    rpc: "addSecurityGroupRule",
    req: (w) => ({
      securityGroupId: w.webSg.id,
      direction: Direction.DIRECTION_INGRESS,
      rule: {
        ...tcpRule(23, 23),
        sourceType: SourceType.SOURCE_TYPE_SECURITY_GROUP,
        source: "nope",
      },
    }),
    grpc: S.NOT_FOUND,
    code: "SECURITY_GROUP_NOT_FOUND",
  },
  {
    name: "add rule: missing group",
    rpc: "addSecurityGroupRule",
    req: () => ({
      securityGroupId: "nope",
      direction: Direction.DIRECTION_INGRESS,
      rule: tcpRule(23, 23),
    }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "remove rule: unknown rule id",
    rpc: "removeSecurityGroupRule",
    req: (w) => ({ securityGroupId: w.webSg.id, ruleId: "nope" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "remove rule: empty rule id",
    rpc: "removeSecurityGroupRule",
    req: (w) => ({ securityGroupId: w.webSg.id, ruleId: "" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "remove rule: missing group",
    rpc: "removeSecurityGroupRule",
    req: () => ({ securityGroupId: "nope", ruleId: "ssh" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "update group: missing group",
    rpc: "updateSecurityGroup",
    req: () => ({ securityGroupId: "nope", ingressRules: [], egressRules: [] }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "update group: protocol 99",
    rpc: "updateSecurityGroup",
    req: (w) => ({
      securityGroupId: w.webSg.id,
      ingressRules: [{ ...tcpRule(22, 22), protocol: 99 }],
      egressRules: [],
    }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "update group: port range {1,65536}",
    rpc: "updateSecurityGroup",
    req: (w) => ({
      securityGroupId: w.webSg.id,
      ingressRules: [],
      egressRules: [tcpRule(1, 65_536)],
    }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "update group: source names a missing group",
    rpc: "updateSecurityGroup",
    req: (w) => ({
      securityGroupId: w.webSg.id,
      ingressRules: [
        { ...tcpRule(22, 22), sourceType: SourceType.SOURCE_TYPE_SECURITY_GROUP, source: "nope" },
      ],
      egressRules: [],
    }),
    grpc: S.NOT_FOUND,
    code: "SECURITY_GROUP_NOT_FOUND",
  },
  {
    name: "update group: description of 256 characters",
    rpc: "updateSecurityGroup",
    req: (w) => ({
      securityGroupId: w.webSg.id,
      description: long(256),
      ingressRules: [],
      egressRules: [],
    }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "delete the default group",
    rpc: "deleteSecurityGroup",
    req: () => ({ securityGroupId: "default" }),
    grpc: S.FAILED_PRECONDITION,
    code: "FAILED_PRECONDITION",
  },
  {
    name: "delete a group a port uses",
    rpc: "deleteSecurityGroup",
    req: (w) => ({ securityGroupId: w.webSg.id }),
    grpc: S.FAILED_PRECONDITION,
    code: "SECURITY_GROUP_IN_USE",
  },
  {
    name: "delete a group another group's rule names",
    rpc: "deleteSecurityGroup",
    req: (w) => ({ securityGroupId: w.dbSg.id }),
    grpc: S.FAILED_PRECONDITION,
    code: "SECURITY_GROUP_IN_USE",
  },
  {
    name: "delete a missing group",
    rpc: "deleteSecurityGroup",
    req: () => ({ securityGroupId: "nope" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "delete group: empty id",
    rpc: "deleteSecurityGroup",
    req: () => ({ securityGroupId: "" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "get a missing group",
    rpc: "getSecurityGroup",
    req: () => ({ securityGroupId: "nope" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "list groups: bad page token",
    rpc: "listSecurityGroups",
    req: () => ({ pageToken: "%%%" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },

  // --- NAT ---
  {
    name: "second SNAT of a VPC",
    rpc: "createSnat",
    req: () => ({}),
    grpc: S.ALREADY_EXISTS,
    code: "ALREADY_EXISTS",
  },
  {
    name: "SNAT: external IP outside the pool",
    as: "B",
    rpc: "createSnat",
    req: () => ({ externalIp: "198.51.100.7" }),
    grpc: INVALID,
    code: "EXTERNAL_IP_NOT_IN_POOL",
  },
  {
    name: "SNAT: a VPC address as external IP",
    as: "B",
    rpc: "createSnat",
    req: () => ({ externalIp: "10.0.0.1" }),
    grpc: INVALID,
    code: "EXTERNAL_IP_NOT_IN_POOL",
  },
  {
    name: "SNAT: external IP not an IP",
    as: "B",
    rpc: "createSnat",
    req: () => ({ externalIp: "203.0.113.256" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "SNAT: IPv6 external IP",
    as: "B",
    rpc: "createSnat",
    req: () => ({ externalIp: "2001:db8::1" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "SNAT: external IP of another VPC",
    as: "B",
    rpc: "createSnat",
    req: (w) => ({ externalIp: w.snat.externalIp }),
    grpc: S.ALREADY_EXISTS,
    code: "EXTERNAL_IP_IN_USE",
  },
  {
    name: "SNAT without a VPC",
    as: "C",
    rpc: "createSnat",
    req: () => ({}),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "delete a missing SNAT",
    as: "B",
    rpc: "deleteSnat",
    req: () => ({}),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "get a missing SNAT",
    as: "B",
    rpc: "getSnat",
    req: () => ({}),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "DNAT to an IP that is no port (the gateway)",
    rpc: "createDnat",
    req: (w) => dnatTo(w, { internalIp: `${w.net}.1.1` }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "DNAT to an IP outside the VPC",
    rpc: "createDnat",
    req: (w) => dnatTo(w, { internalIp: "192.0.2.1" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "DNAT: internal IP not an IP",
    rpc: "createDnat",
    req: (w) => dnatTo(w, { internalIp: "port-1" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "DNAT: empty internal IP",
    rpc: "createDnat",
    req: (w) => dnatTo(w, { internalIp: "" }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "DNAT: external port 0",
    rpc: "createDnat",
    req: (w) => dnatTo(w, { externalPort: 0 }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "DNAT: external port 70000",
    rpc: "createDnat",
    req: (w) => dnatTo(w, { externalPort: 70_000 }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "DNAT: internal port 0",
    rpc: "createDnat",
    req: (w) => dnatTo(w, { internalPort: 0 }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "DNAT: internal port 65536",
    rpc: "createDnat",
    req: (w) => dnatTo(w, { internalPort: 65_536 }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "DNAT: protocol ICMP",
    rpc: "createDnat",
    req: (w) => dnatTo(w, { protocol: Protocol.PROTOCOL_ICMP }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "DNAT: protocol ALL (1:1) with ports",
    rpc: "createDnat",
    req: (w) => dnatTo(w, { protocol: Protocol.PROTOCOL_ALL }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "DNAT: protocol ALL (1:1) with only the external port 0",
    rpc: "createDnat",
    req: (w) => dnatTo(w, { protocol: Protocol.PROTOCOL_ALL, externalPort: 0 }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "DNAT: TCP with both ports 0 (1:1 needs ALL)",
    rpc: "createDnat",
    req: (w) => dnatTo(w, { externalPort: 0, internalPort: 0 }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "DNAT: 1:1 on an external IP that port forwarding uses",
    rpc: "createDnat",
    req: (w) =>
      dnatTo(w, {
        externalIp: w.dnat.externalIp,
        externalPort: 0,
        internalPort: 0,
        protocol: Protocol.PROTOCOL_ALL,
      }),
    grpc: S.ALREADY_EXISTS,
    code: "EXTERNAL_IP_IN_USE",
  },
  {
    name: "DNAT: protocol unspecified",
    rpc: "createDnat",
    req: (w) => dnatTo(w, { protocol: 0 }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "DNAT: protocol 99",
    rpc: "createDnat",
    req: (w) => dnatTo(w, { protocol: 99 }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
  {
    name: "DNAT: external IP outside the pool",
    rpc: "createDnat",
    req: (w) => dnatTo(w, { externalIp: "198.51.100.7" }),
    grpc: INVALID,
    code: "EXTERNAL_IP_NOT_IN_POOL",
  },
  {
    name: "DNAT: internal ip:port already forwarded",
    rpc: "createDnat",
    req: (w) => dnatTo(w, { internalPort: w.dnat.internalPort }),
    grpc: S.ALREADY_EXISTS,
    code: "ALREADY_EXISTS",
  },
  {
    name: "DNAT: external ip:port already forwarded",
    rpc: "createDnat",
    req: (w) =>
      dnatTo(w, {
        externalIp: w.dnat.externalIp,
        externalPort: w.dnat.externalPort,
        internalPort: 81,
      }),
    grpc: S.ALREADY_EXISTS,
    code: "ALREADY_EXISTS",
  },
  {
    name: "DNAT in the VPC of a sibling project, named by id",
    rpc: "createDnat",
    req: (w) => dnatTo(w, { vpcId: "orga/p2" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "DNAT without a VPC",
    as: "C",
    rpc: "createDnat",
    req: (w) => dnatTo(w, {}),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "delete DNAT: id not-a-uuid",
    rpc: "deleteDnat",
    req: () => ({ dnatId: "not-a-uuid" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "delete DNAT: empty id",
    rpc: "deleteDnat",
    req: () => ({ dnatId: "" }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "delete DNAT: unknown UUID",
    rpc: "deleteDnat",
    req: () => ({ dnatId: randomUUID() }),
    grpc: S.NOT_FOUND,
    code: "NOT_FOUND",
  },
  {
    name: "list DNATs: page_size 5000",
    rpc: "listDnats",
    req: () => ({ pageSize: 5000 }),
    grpc: INVALID,
    code: "INVALID_ARGUMENT",
  },
];

describe("the bad-input table", () => {
  it.each(badCases)("$rpc: $name → $code", async (c) => {
    const caller = tenants[c.as ?? "A"];
    await unchanged(() =>
      refused(
        invoke(caller.probe, c.rpc, c.req(w), c.via ? { endpoint: endpoints[c.via] } : {}),
        c.grpc,
        c.code,
      ),
    );
  });

  // Found by this suite and fixed: a follower used to turn the leader's refusal of a forwarded
  // write into a retryable NO_LEADER (UNAVAILABLE after 3 s) instead of relaying it.
  const viaFollower: BadCase[] = [
    {
      name: "subnet name of 10,000 characters, via a follower",
      rpc: "createSubnet",
      req: (w) => newSubnet(w, { name: long(10_000) }),
      grpc: INVALID,
      code: "INVALID_COMMAND",
    },
    {
      name: "group description of 1.5 MB, via a follower",
      rpc: "createSecurityGroup",
      req: () => sgWith([], { description: long(1_500_000) }),
      grpc: INVALID,
      code: "INVALID_ARGUMENT",
    },
  ];
  it.each(viaFollower)("$rpc: $name → $code", async (c) => {
    await unchanged(() =>
      refused(
        invoke(tenants.A.probe, c.rpc, c.req(w), { endpoint: endpoints.follower }),
        c.grpc,
        c.code,
      ),
    );
  });

  it("leaves A's resources identical and the resource digest unchanged", async () => {
    expect(await readA()).toEqual(baselineA);
    expect(await digest()).toBe(baselineDigest);
  });
});
