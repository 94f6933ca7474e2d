// A small fake NovaNET cluster for the client library's tests: N gRPC servers on loopback sharing
// one in-memory store. The leader applies writes (deduplicated by (client_id, request_id) like
// the real session table); followers serve reads and answer writes with UNAVAILABLE plus the
// leader's address (or, with `forward`, apply them and name the leader in response metadata).
// Faults are injected per replica and method. This tests the client's logic, not the server's.
import { createHash, randomUUID } from "node:crypto";
import {
  type handleUnaryCall,
  Metadata,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";
import {
  type ClusterServiceServer,
  ClusterServiceService,
  type Member,
} from "../../src/api/gen/novanet/v1/cluster.js";
import {
  Direction,
  type DnatConfig,
  type NetworkServiceServer,
  NetworkServiceService,
  type Port,
  type SecurityGroup,
  type SnatConfig,
  type Subnet,
  type Vpc,
} from "../../src/api/gen/novanet/v1/network.js";
import { NovanetError } from "../../src/client/errors.js";

export class FakeError extends Error {
  constructor(
    readonly grpcCode: status,
    readonly domain: string,
    text: string,
  ) {
    super(text);
  }
}

const notFound = (what: string) =>
  new FakeError(status.NOT_FOUND, "NOT_FOUND", `${what} not found`);

export interface CallRecord {
  replica: number;
  method: string;
  request: Record<string, unknown>;
  authorization: string | undefined;
  /** When the call arrived (ms since the epoch). */
  at: number;
}

export type Fault =
  | { kind: "fail"; code: status; details: string; metadata?: Record<string, string> }
  /** Apply the write (leader) but never answer: the client's attempt deadline passes. */
  | { kind: "hang" }
  /** Answer after a delay. */
  | { kind: "delay"; ms: number };

type Result = { ok: true; value: unknown } | { ok: false; error: FakeError };

export class FakeStore {
  readonly vpcs = new Map<string, Vpc>();
  readonly subnets = new Map<string, Subnet>();
  readonly ports = new Map<string, Port>();
  readonly groups = new Map<string, SecurityGroup>();
  readonly snats = new Map<string, SnatConfig>();
  readonly dnats = new Map<string, DnatConfig>();
  readonly sessions = new Map<string, Map<number, Result>>();
  /** Writes actually applied (not answered from the session table). */
  readonly applied: { method: string; clientId: string; requestId: number }[] = [];
  readonly registrations: string[] = [];
  appliedIndex = 0;
  private vpcCount = 0;
  private ipCount = new Map<string, number>();
  members: Member[] = [];
  backupData = Buffer.from("novanet-backup:".repeat(5000));
  backupSha = "";

  now(): number {
    return 1_700_000_000_000 + this.appliedIndex;
  }

  nextIp(subnet: Subnet): string {
    const n = (this.ipCount.get(subnet.id) ?? 1) + 1;
    this.ipCount.set(subnet.id, n);
    const base = subnet.cidr.split("/")[0]!.split(".");
    return `${base[0]}.${base[1]}.${base[2]}.${n}`;
  }

  nextVpcCidr(): string {
    this.vpcCount++;
    return `10.${this.vpcCount}.0.0/16`;
  }
}

function page<T extends { id: string }>(
  items: T[],
  pageSize: number,
  pageToken: string,
): { items: T[]; next: string } {
  const sorted = [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const start = pageToken === "" ? 0 : Number(pageToken);
  const size = pageSize === 0 ? 100 : pageSize;
  const slice = sorted.slice(start, start + size);
  const next = start + size < sorted.length ? String(start + size) : "";
  return { items: slice, next };
}

type Kind = "read" | "write";

export class FakeReplica {
  address = "";
  port = 0;
  readonly faults = new Map<string, Fault[]>();
  private server: Server | undefined;

  constructor(
    readonly index: number,
    readonly cluster: FakeCluster,
  ) {}

  /** Queues a one-shot fault for a method ("createPort", "*" for any). */
  inject(method: string, ...faults: Fault[]): void {
    const q = this.faults.get(method) ?? [];
    q.push(...faults);
    this.faults.set(method, q);
  }

  private takeFault(method: string): Fault | undefined {
    for (const key of [method, "*"]) {
      const q = this.faults.get(key);
      if (q !== undefined && q.length > 0) return q.shift();
    }
    return undefined;
  }

  get isLeader(): boolean {
    return this.cluster.leaderIndex === this.index;
  }

  async start(port = 0): Promise<void> {
    const server = new Server();
    server.addService(NetworkServiceService, this.networkImpl());
    server.addService(ClusterServiceService, this.clusterImpl());
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    this.address = `127.0.0.1:${this.port}`;
    this.server = server;
  }

  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
  }

  private errorOut<Res>(callback: sendUnaryData<Res>, e: FakeError, extra?: Metadata): void {
    const md = extra ?? new Metadata();
    md.set("x-novanet-error-code", e.domain);
    callback({ code: e.grpcCode, details: `${e.domain}: ${e.message}`, metadata: md });
  }

  private wrap<Req extends object, Res>(
    method: string,
    kind: Kind | "register",
    handler: (req: Req) => Res,
  ): handleUnaryCall<Req, Res> {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      const store = this.cluster.store;
      const auth = call.metadata.get("authorization")[0];
      this.cluster.calls.push({
        replica: this.index,
        method,
        request: { ...(call.request as Record<string, unknown>) },
        authorization: auth === undefined ? undefined : String(auth),
        at: Date.now(),
      });
      const fault = this.takeFault(method);
      if (fault?.kind === "fail") {
        const md = new Metadata();
        for (const [k, v] of Object.entries(fault.metadata ?? {})) md.set(k, v);
        callback({ code: fault.code, details: fault.details, metadata: md });
        return;
      }
      if (this.cluster.token !== undefined && auth !== `Bearer ${this.cluster.token}`) {
        this.errorOut(
          callback,
          new FakeError(status.UNAUTHENTICATED, "UNAUTHENTICATED", "bad token"),
        );
        return;
      }
      const leader = this.cluster.leader;
      const respond = (r: Result, trailer?: Metadata) => {
        const send = () => {
          if (r.ok) callback(null, r.value as Res, trailer);
          else this.errorOut(callback, r.error, trailer);
        };
        if (fault?.kind === "hang") return; // applied, never answered
        if (fault?.kind === "delay") setTimeout(send, fault.ms);
        else send();
      };
      const run = (): Result => {
        try {
          return { ok: true, value: handler(call.request) };
        } catch (e) {
          if (e instanceof FakeError) return { ok: false, error: e };
          throw e;
        }
      };

      if (kind === "read") {
        const md = new Metadata();
        md.set("x-novanet-applied-index", String(store.appliedIndex));
        call.sendMetadata(md);
        respond(run());
        return;
      }
      // Writes and registration.
      let trailer: Metadata | undefined;
      if (!this.isLeader) {
        if (!this.cluster.forward || leader === undefined) {
          const md = new Metadata();
          if (leader !== undefined) md.set("x-novanet-leader", leader.address);
          this.errorOut(
            callback,
            new FakeError(status.UNAVAILABLE, "NO_LEADER", leader ? "not the leader" : "no leader"),
            md,
          );
          return;
        }
        trailer = new Metadata();
        trailer.set("x-novanet-leader", leader.address);
      }
      if (kind === "register") {
        const id = (call.request as { clientId: string }).clientId;
        store.sessions.set(id, new Map());
        store.registrations.push(id);
        store.appliedIndex++;
        respond(run(), trailer);
        return;
      }
      const { clientId, requestId } = call.request as { clientId?: string; requestId?: number };
      let result: Result;
      if (clientId !== undefined && clientId !== "") {
        const session = store.sessions.get(clientId);
        if (session === undefined) {
          result = {
            ok: false,
            error: new FakeError(
              status.FAILED_PRECONDITION,
              "SESSION_EXPIRED",
              "unknown client session",
            ),
          };
        } else {
          const remembered = session.get(requestId ?? 0);
          if (remembered !== undefined) {
            result = remembered;
          } else {
            store.appliedIndex++;
            store.applied.push({ method, clientId, requestId: requestId ?? 0 });
            result = run();
            session.set(requestId ?? 0, result);
          }
        }
      } else {
        store.appliedIndex++;
        store.applied.push({ method, clientId: "", requestId: 0 });
        result = run();
      }
      respond(result, trailer);
    };
  }

  private networkImpl(): NetworkServiceServer {
    const s = this.cluster.store;
    const w = <Req extends object, Res>(m: string, h: (r: Req) => Res) => this.wrap(m, "write", h);
    const r = <Req extends object, Res>(m: string, h: (r: Req) => Res) => this.wrap(m, "read", h);
    const vpcOf = (org: string, project: string, id: string) => {
      const v = s.vpcs.get(id === "" ? `${org}/${project}` : id);
      if (v === undefined || v.orgId !== org || v.projectId !== project) throw notFound("vpc");
      return v;
    };
    const subnetOf = (org: string, project: string, id: string) => {
      const x = s.subnets.get(id);
      if (x === undefined || x.orgId !== org || x.projectId !== project) throw notFound("subnet");
      return x;
    };
    const portOf = (org: string, project: string, id: string) => {
      const x = s.ports.get(id);
      if (x === undefined || x.orgId !== org || x.projectId !== project) throw notFound("port");
      return x;
    };
    const groupOf = (org: string, project: string, id: string) => {
      const x = s.groups.get(id) ?? s.groups.get(`${org}/${project}/${id}`);
      if (x === undefined || x.orgId !== org || x.projectId !== project) {
        throw new FakeError(
          status.NOT_FOUND,
          "SECURITY_GROUP_NOT_FOUND",
          `security group ${id} not found`,
        );
      }
      return x;
    };
    const mine = <T extends { orgId: string; projectId: string }>(
      m: Map<string, T>,
      o: string,
      p: string,
    ) => [...m.values()].filter((x) => x.orgId === o && x.projectId === p);

    return {
      registerClient: this.wrap("registerClient", "register", (req: { clientId: string }) => ({
        clientId: req.clientId,
      })),
      createVpc: w("createVpc", (req) => {
        const id = `${req.orgId}/${req.projectId}`;
        if (s.vpcs.has(id))
          throw new FakeError(status.ALREADY_EXISTS, "ALREADY_EXISTS", `vpc ${id} exists`);
        if (req.cidr !== "" && !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(req.cidr)) {
          throw new FakeError(status.INVALID_ARGUMENT, "INVALID_CIDR", `invalid CIDR ${req.cidr}`);
        }
        const vpc: Vpc = {
          id,
          orgId: req.orgId,
          projectId: req.projectId,
          name: req.name,
          cidr: req.cidr === "" ? s.nextVpcCidr() : req.cidr,
          createdAt: s.now(),
          updatedAt: s.now(),
          ipv6Cidr: req.ipv6Cidr,
          cidrAutoAllocated: req.cidr === "",
        };
        s.vpcs.set(id, vpc);
        return vpc;
      }),
      getVpc: r("getVpc", (req) => vpcOf(req.orgId, req.projectId, req.vpcId)),
      listVpcs: r("listVpcs", (req) => {
        const p = page(mine(s.vpcs, req.orgId, req.projectId), req.pageSize, req.pageToken);
        return { vpcs: p.items, nextPageToken: p.next };
      }),
      deleteVpc: w("deleteVpc", (req) => {
        const v = vpcOf(req.orgId, req.projectId, req.vpcId);
        const subnets = [...s.subnets.values()].filter((x) => x.vpcId === v.id);
        if (subnets.length > 0 && !req.cascade) {
          throw new FakeError(status.FAILED_PRECONDITION, "FAILED_PRECONDITION", "vpc has subnets");
        }
        for (const x of subnets) s.subnets.delete(x.id);
        s.vpcs.delete(v.id);
        return {};
      }),
      createSubnet: w("createSubnet", (req) => {
        const v = vpcOf(req.orgId, req.projectId, req.vpcId);
        const id = `${req.orgId}/${req.projectId}/${req.name}`;
        if (s.subnets.has(id))
          throw new FakeError(status.ALREADY_EXISTS, "ALREADY_EXISTS", `subnet ${id} exists`);
        const base = req.cidr.split("/")[0]!.split(".");
        const subnet: Subnet = {
          id,
          orgId: req.orgId,
          projectId: req.projectId,
          vpcId: v.id,
          name: req.name,
          cidr: req.cidr,
          gatewayIp: req.gatewayIp || `${base[0]}.${base[1]}.${base[2]}.1`,
          dnsServers: req.dnsServers,
          dhcpEnabled: req.dhcpEnabled,
          createdAt: s.now(),
          updatedAt: s.now(),
          mtu: req.mtu,
          reservedRanges: req.reservedRanges,
          ipVersion: 4,
        };
        s.subnets.set(id, subnet);
        return subnet;
      }),
      getSubnet: r("getSubnet", (req) => subnetOf(req.orgId, req.projectId, req.subnetId)),
      listSubnets: r("listSubnets", (req) => {
        const all = mine(s.subnets, req.orgId, req.projectId).filter(
          (x) => req.vpcId === "" || x.vpcId === req.vpcId,
        );
        const p = page(all, req.pageSize, req.pageToken);
        return { subnets: p.items, nextPageToken: p.next };
      }),
      deleteSubnet: w("deleteSubnet", (req) => {
        const x = subnetOf(req.orgId, req.projectId, req.subnetId);
        if ([...s.ports.values()].some((p) => p.subnetId === x.id)) {
          throw new FakeError(
            status.FAILED_PRECONDITION,
            "FAILED_PRECONDITION",
            "subnet has ports",
          );
        }
        s.subnets.delete(x.id);
        return {};
      }),
      updateSubnet: w("updateSubnet", (req) => {
        const x = subnetOf(req.orgId, req.projectId, req.subnetId);
        if (req.updateDnsServers) x.dnsServers = req.dnsServers;
        if (req.updateDhcpEnabled) x.dhcpEnabled = req.dhcpEnabled;
        if (req.updateMtu) x.mtu = req.mtu;
        x.updatedAt = s.now();
        return x;
      }),
      createPort: w("createPort", (req) => {
        const subnet = subnetOf(req.orgId, req.projectId, req.subnetId);
        const ip = req.ipAddress || s.nextIp(subnet);
        if ([...s.ports.values()].some((p) => p.subnetId === subnet.id && p.ipAddress === ip)) {
          throw new FakeError(status.ALREADY_EXISTS, "IP_ALREADY_ALLOCATED", `${ip} is in use`);
        }
        const port: Port = {
          id: randomUUID(),
          orgId: req.orgId,
          projectId: req.projectId,
          subnetId: subnet.id,
          vmId: req.vmId,
          macAddress:
            req.macAddress || `fa:16:3e:00:00:${(s.ports.size + 1).toString(16).padStart(2, "0")}`,
          ipAddress: ip,
          securityGroupIds:
            req.securityGroupIds.length > 0
              ? req.securityGroupIds
              : [`${req.orgId}/${req.projectId}/default`],
          ovnPortUuid: "",
          createdAt: s.now(),
          vpcId: subnet.vpcId,
          updatedAt: s.now(),
          up: false,
        };
        s.ports.set(port.id, port);
        return port;
      }),
      getPort: r("getPort", (req) => portOf(req.orgId, req.projectId, req.portId)),
      listPorts: r("listPorts", (req) => {
        const all = mine(s.ports, req.orgId, req.projectId).filter(
          (x) =>
            (req.subnetId === "" || x.subnetId === req.subnetId) &&
            (req.vmId === "" || x.vmId === req.vmId),
        );
        const p = page(all, req.pageSize, req.pageToken);
        return { ports: p.items, nextPageToken: p.next };
      }),
      deletePort: w("deletePort", (req) => {
        const x = portOf(req.orgId, req.projectId, req.portId);
        s.ports.delete(x.id);
        return {};
      }),
      attachPort: w("attachPort", (req) => {
        const x = portOf(req.orgId, req.projectId, req.portId);
        if (x.vmId !== "" && x.vmId !== req.vmId) {
          throw new FakeError(
            status.FAILED_PRECONDITION,
            "PORT_ALREADY_ATTACHED",
            `port attached to ${x.vmId}`,
          );
        }
        x.vmId = req.vmId;
        x.updatedAt = s.now();
        return x;
      }),
      detachPort: w("detachPort", (req) => {
        const x = portOf(req.orgId, req.projectId, req.portId);
        if (req.vmId !== "" && x.vmId !== req.vmId) {
          throw new FakeError(
            status.FAILED_PRECONDITION,
            "FAILED_PRECONDITION",
            "attached elsewhere",
          );
        }
        x.vmId = "";
        return {};
      }),
      updatePort: w("updatePort", (req) => {
        const x = portOf(req.orgId, req.projectId, req.portId);
        x.securityGroupIds = req.securityGroupIds;
        return x;
      }),
      createSecurityGroup: w("createSecurityGroup", (req) => {
        const id = `${req.orgId}/${req.projectId}/${req.name}`;
        if (s.groups.has(id))
          throw new FakeError(status.ALREADY_EXISTS, "ALREADY_EXISTS", `${id} exists`);
        let n = 0;
        const withIds = (rules: SecurityGroup["ingressRules"]) =>
          rules.map((x) => ({ ...x, id: x.id || `r${++n}` }));
        const g: SecurityGroup = {
          id,
          orgId: req.orgId,
          projectId: req.projectId,
          name: req.name,
          description: req.description,
          ingressRules: withIds(req.ingressRules),
          egressRules: withIds(req.egressRules),
          createdAt: s.now(),
          updatedAt: s.now(),
        };
        s.groups.set(id, g);
        return g;
      }),
      getSecurityGroup: r("getSecurityGroup", (req) =>
        groupOf(req.orgId, req.projectId, req.securityGroupId),
      ),
      listSecurityGroups: r("listSecurityGroups", (req) => {
        const p = page(mine(s.groups, req.orgId, req.projectId), req.pageSize, req.pageToken);
        return { securityGroups: p.items, nextPageToken: p.next };
      }),
      updateSecurityGroup: w("updateSecurityGroup", (req) => {
        const g = groupOf(req.orgId, req.projectId, req.securityGroupId);
        if (req.description !== "") g.description = req.description;
        g.ingressRules = req.ingressRules;
        g.egressRules = req.egressRules;
        return g;
      }),
      deleteSecurityGroup: w("deleteSecurityGroup", (req) => {
        const g = groupOf(req.orgId, req.projectId, req.securityGroupId);
        s.groups.delete(g.id);
        return {};
      }),
      addSecurityGroupRule: w("addSecurityGroupRule", (req) => {
        const g = groupOf(req.orgId, req.projectId, req.securityGroupId);
        if (req.rule === undefined)
          throw new FakeError(status.INVALID_ARGUMENT, "INVALID_ARGUMENT", "rule missing");
        const rule = {
          ...req.rule,
          id: req.rule.id || `r${g.ingressRules.length + g.egressRules.length + 1}`,
        };
        if (req.direction === Direction.DIRECTION_EGRESS) g.egressRules.push(rule);
        else g.ingressRules.push(rule);
        return g;
      }),
      removeSecurityGroupRule: w("removeSecurityGroupRule", (req) => {
        const g = groupOf(req.orgId, req.projectId, req.securityGroupId);
        const before = g.ingressRules.length + g.egressRules.length;
        g.ingressRules = g.ingressRules.filter((x) => x.id !== req.ruleId);
        g.egressRules = g.egressRules.filter((x) => x.id !== req.ruleId);
        if (g.ingressRules.length + g.egressRules.length === before)
          throw notFound(`rule ${req.ruleId}`);
        return g;
      }),
      createSnat: w("createSnat", (req) => {
        const v = vpcOf(req.orgId, req.projectId, req.vpcId);
        const x: SnatConfig = {
          vpcId: v.id,
          externalIp: req.externalIp || "203.0.113.10",
          enabled: true,
          createdAt: s.now(),
        };
        s.snats.set(v.id, x);
        return x;
      }),
      getSnat: r("getSnat", (req) => {
        const v = vpcOf(req.orgId, req.projectId, req.vpcId);
        const x = s.snats.get(v.id);
        if (x === undefined) throw notFound("snat");
        return x;
      }),
      deleteSnat: w("deleteSnat", (req) => {
        const v = vpcOf(req.orgId, req.projectId, req.vpcId);
        if (!s.snats.delete(v.id)) throw notFound("snat");
        return {};
      }),
      createDnat: w("createDnat", (req) => {
        const v = vpcOf(req.orgId, req.projectId, req.vpcId);
        const x: DnatConfig = {
          vpcId: v.id,
          externalIp: req.externalIp || "203.0.113.20",
          externalPort: req.externalPort,
          internalIp: req.internalIp,
          internalPort: req.internalPort,
          protocol: req.protocol,
          id: `dnat-${s.dnats.size + 1}`,
          createdAt: s.now(),
        };
        s.dnats.set(x.id, x);
        return x;
      }),
      listDnats: r("listDnats", (req) => {
        const vpc = req.vpcId === "" ? `${req.orgId}/${req.projectId}` : req.vpcId;
        const p = page(
          [...s.dnats.values()].filter((x) => x.vpcId === vpc),
          req.pageSize,
          req.pageToken,
        );
        return { dnats: p.items, nextPageToken: p.next };
      }),
      deleteDnat: w("deleteDnat", (req) => {
        const x = s.dnats.get(req.dnatId);
        if (x === undefined || x.vpcId !== `${req.orgId}/${req.projectId}`) throw notFound("dnat");
        s.dnats.delete(x.id);
        return {};
      }),
    };
  }

  private clusterImpl(): ClusterServiceServer {
    const s = this.cluster.store;
    const members = () => ({
      members: s.members,
      leaderId: this.cluster.leader ? `n${this.cluster.leaderIndex + 1}` : "",
    });
    const status_ = () => ({
      clusterId: "fake",
      id: `n${this.index + 1}`,
      role: this.isLeader ? "leader" : "follower",
      term: 3,
      leaderId: `n${this.cluster.leaderIndex + 1}`,
      leaderApiAddress: this.cluster.leader?.address ?? "",
      commitIndex: s.appliedIndex,
      appliedIndex: s.appliedIndex,
      snapshotIndex: 0,
      firstIndex: 1,
      lastIndex: s.appliedIndex,
      voters: s.members.filter((m) => !m.isLearner).map((m) => m.id),
      learners: s.members.filter((m) => m.isLearner).map((m) => m.id),
      progress: [],
      stateDigest: "abc123",
      ovnSyncState: "synced",
      ovnSyncedIndex: s.appliedIndex,
      resourceDigest: "",
    });
    const member = (id: string) => {
      const m = s.members.find((x) => x.id === id);
      if (m === undefined) throw notFound(`member ${id}`);
      return m;
    };
    return {
      getStatus: this.wrap("getStatus", "read", () => status_()),
      listMembers: this.wrap("listMembers", "read", () => members()),
      addLearner: this.wrap(
        "addLearner",
        "write",
        (req: { id: string; peerAddress: string; apiAddress: string }) => {
          if (s.members.some((m) => m.id === req.id))
            throw new FakeError(status.ALREADY_EXISTS, "ALREADY_EXISTS", "member exists");
          s.members.push({
            id: req.id,
            peerAddress: req.peerAddress,
            apiAddress: req.apiAddress,
            isLearner: true,
          });
          return members();
        },
      ),
      promoteMember: this.wrap("promoteMember", "write", (req: { id: string }) => {
        member(req.id).isLearner = false;
        return members();
      }),
      removeMember: this.wrap("removeMember", "write", (req: { id: string }) => {
        member(req.id);
        s.members = s.members.filter((m) => m.id !== req.id);
        return members();
      }),
      transferLeadership: this.wrap("transferLeadership", "write", (req: { targetId: string }) => {
        const target =
          req.targetId === ""
            ? (this.cluster.leaderIndex + 1) % this.cluster.replicas.length
            : Number(req.targetId.slice(1)) - 1;
        this.cluster.leaderIndex = target;
        return status_();
      }),
      snapshot: this.wrap("snapshot", "read", () => ({
        index: s.appliedIndex,
        term: 3,
        bytes: 1234,
      })),
      saveBackup: (call) => {
        this.cluster.calls.push({
          replica: this.index,
          method: "saveBackup",
          request: {},
          authorization: undefined,
          at: Date.now(),
        });
        const fault = this.takeFault("saveBackup");
        if (fault?.kind === "fail") {
          call.emit("error", {
            code: fault.code,
            details: fault.details,
            metadata: new Metadata(),
          });
          return;
        }
        const data = s.backupData;
        const sha = s.backupSha || createHash("sha256").update(data).digest("hex");
        const size = 16_384;
        for (let off = 0; off < data.length; off += size) {
          const first = off === 0;
          const last = off + size >= data.length;
          call.write({
            appliedIndex: first ? s.appliedIndex : 0,
            term: first ? 3 : 0,
            clusterId: first ? "fake" : "",
            stateDigest: first ? "abc123" : "",
            totalBytes: first ? data.length : 0,
            data: data.subarray(off, off + size),
            sha256: last ? sha : "",
          });
        }
        call.end();
      },
    };
  }
}

export class FakeCluster {
  readonly store = new FakeStore();
  readonly calls: CallRecord[] = [];
  readonly replicas: FakeReplica[] = [];
  leaderIndex = 0;
  /** Followers apply writes themselves and name the leader in trailers (as forwarding would). */
  forward = false;
  /** When set, every call must carry `authorization: Bearer <token>`. */
  token: string | undefined;

  get leader(): FakeReplica | undefined {
    return this.leaderIndex < 0 ? undefined : this.replicas[this.leaderIndex];
  }

  get addresses(): string[] {
    return this.replicas.map((r) => r.address);
  }

  callsOf(method: string): CallRecord[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Forgets every client session (as if they had expired). */
  expireSessions(): void {
    this.store.sessions.clear();
  }

  stop(): void {
    for (const r of this.replicas) r.stop();
  }
}

export async function startFakeCluster(
  opts: { replicas?: number; leader?: number; forward?: boolean; token?: string } = {},
): Promise<FakeCluster> {
  const c = new FakeCluster();
  c.leaderIndex = opts.leader ?? 0;
  c.forward = opts.forward ?? false;
  c.token = opts.token;
  for (let i = 0; i < (opts.replicas ?? 1); i++) {
    const r = new FakeReplica(i, c);
    await r.start();
    c.replicas.push(r);
  }
  c.store.members = c.replicas.map((r, i) => ({
    id: `n${i + 1}`,
    peerAddress: `127.0.0.1:${7000 + i}`,
    apiAddress: r.address,
    isLearner: false,
  }));
  return c;
}

/** A loopback address nobody listens on. */
export async function deadAddress(): Promise<string> {
  const r = new FakeReplica(0, new FakeCluster());
  await r.start();
  const a = r.address;
  r.stop();
  return a;
}

/** The NovanetError a call failed with (fails the test if it succeeded or threw something else). */
export async function failure(p: Promise<unknown>): Promise<NovanetError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof NovanetError) return e;
    throw e;
  }
  throw new Error("expected the call to fail");
}
