// The NetworkService client PlasmaVMC imports: typed methods for every RPC, exactly-once writes
// through a client session (client_id + request_id reused across retries), leader following,
// deadlines and retries. See docs/client.md.
import { randomUUID } from "node:crypto";
import { status as GrpcStatus } from "@grpc/grpc-js";
import {
  AddSecurityGroupRuleRequest,
  AttachPortRequest,
  type Consistency,
  CreateDnatRequest,
  CreatePortRequest,
  CreateSecurityGroupRequest,
  CreateSnatRequest,
  CreateSubnetRequest,
  CreateVpcRequest,
  type DeepPartial,
  DeleteDnatRequest,
  DeletePortRequest,
  DeleteSecurityGroupRequest,
  DeleteSnatRequest,
  DeleteSubnetRequest,
  DeleteVpcRequest,
  DetachPortRequest,
  type DnatConfig,
  GetPortRequest,
  GetSecurityGroupRequest,
  GetSnatRequest,
  GetSubnetRequest,
  GetVpcRequest,
  ListDnatsRequest,
  type ListDnatsResponse,
  ListPortsRequest,
  type ListPortsResponse,
  ListSecurityGroupsRequest,
  type ListSecurityGroupsResponse,
  ListSubnetsRequest,
  type ListSubnetsResponse,
  ListVpcsRequest,
  type ListVpcsResponse,
  NetworkServiceService as M,
  type Port,
  RemoveSecurityGroupRuleRequest,
  type SecurityGroup,
  type SnatConfig,
  type Subnet,
  UpdatePortRequest,
  UpdateSecurityGroupRequest,
  UpdateSubnetRequest,
  type Vpc,
} from "../api/gen/novanet/v1/network.js";
import { NovanetError, OutcomeUnknownError, toNovanetError } from "./errors.js";
import {
  type CallOptions,
  RunError,
  Transport,
  type TransportOptions,
  type UnaryMethod,
} from "./transport.js";

type Builtin = string | number | boolean | Uint8Array | undefined;

/** A generated message with every field optional (defaults: "", 0, false, []), nested too. */
export type Input<T> = T extends Builtin
  ? T
  : T extends readonly (infer U)[]
    ? Input<U>[]
    : { [K in keyof T]?: Input<T[K]> | undefined };

/** What a method takes: the generated request minus client_id/request_id, which the client fills in. */
export type RequestInput<T> = Input<Omit<T, "clientId" | "requestId">>;

export interface NetworkClientOptions extends TransportOptions {
  /**
   * The client session id (a UUID; default: a random one). Used for the first session only: when
   * the cluster reports SESSION_EXPIRED the client registers a new random id, because
   * re-registering an old id would forget its remembered results.
   */
  clientId?: string | undefined;
  /** Defaults for org_id / project_id when a request leaves them empty. */
  orgId?: string | undefined;
  projectId?: string | undefined;
  /** Default read consistency when a request does not set one (server default: linearizable). */
  consistency?: Consistency | undefined;
  /**
   * Most writes in flight per session (default 64). Must stay below the cluster's
   * session_responses_max (default 128) for exactly-once retries; further writes wait.
   */
  writesInFlightMax?: number | undefined;
}

interface MessageFns<T> {
  fromPartial(object: DeepPartial<T>): T;
}

/**
 * A client session: its id, request numbering, and the window of writes in flight. The cluster
 * remembers a bounded number of responses per session (session_responses_max, default 128), so a
 * request is sent only while its id is less than `window` above the oldest unfinished one; the
 * oldest's remembered response then cannot have been evicted while it is still being retried.
 */
class Session {
  private next = 1;
  /** The oldest unfinished request id (== next when none is unfinished). */
  private low = 1;
  /** Finished ids above `low`. */
  private readonly finished = new Set<number>();
  private readonly waiting = new Map<number, () => void>();
  registered: Promise<void> | undefined;

  constructor(
    readonly clientId: string,
    private readonly window: number,
  ) {}

  nextRequestId(): number {
    return this.next++;
  }

  /** Waits until request `id` may be sent; throws (nothing sent) when the deadline passes first. */
  async enter(id: number, deadlineAt: number): Promise<void> {
    if (id < this.low + this.window) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.waiting.delete(id);
          this.leave(id);
          reject(
            new NovanetError({
              code: "DEADLINE_EXCEEDED",
              grpcCode: GrpcStatus.DEADLINE_EXCEEDED,
              message: `not sent: ${this.window} earlier writes of this client were still in flight at the deadline`,
            }),
          );
        },
        Math.max(0, deadlineAt - Date.now()),
      );
      this.waiting.set(id, () => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve();
      });
    });
  }

  /** Marks request `id` finished; admits the writes the window now covers. */
  leave(id: number): void {
    if (id < this.low) return;
    this.finished.add(id);
    const before = this.low;
    while (this.finished.delete(this.low)) this.low++;
    for (let i = before + this.window; i < this.low + this.window; i++) this.waiting.get(i)?.();
  }
}

function defined(o: object | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (o === undefined) return out;
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
}

/** The full request message from a partial one; a malformed input is INVALID_ARGUMENT. */
function build<T>(fns: MessageFns<T>, input: Record<string, unknown>): T {
  try {
    return fns.fromPartial(input as DeepPartial<T>);
  } catch (e) {
    throw new NovanetError({
      code: "INVALID_ARGUMENT",
      grpcCode: GrpcStatus.INVALID_ARGUMENT,
      message: `malformed request: ${e instanceof Error ? e.message : String(e)}`,
      cause: e,
    });
  }
}

export class NetworkClient {
  readonly transport: Transport;
  private current: Session;
  private readonly orgId: string | undefined;
  private readonly projectId: string | undefined;
  private readonly consistency: Consistency | undefined;
  private readonly window: number;

  private constructor(opts: NetworkClientOptions) {
    this.transport = new Transport(opts);
    this.window = opts.writesInFlightMax ?? 64;
    if (!Number.isInteger(this.window) || this.window < 1) {
      throw new NovanetError({
        code: "INVALID_ARGUMENT",
        grpcCode: GrpcStatus.INVALID_ARGUMENT,
        message: "writesInFlightMax must be an integer >= 1",
      });
    }
    this.current = new Session(opts.clientId ?? randomUUID(), this.window);
    this.orgId = opts.orgId;
    this.projectId = opts.projectId;
    this.consistency = opts.consistency;
  }

  /**
   * Creates a client. Connections are opened lazily, so this does not contact the cluster (and
   * succeeds while it is down); the session is registered before the first write.
   */
  static connect(opts: NetworkClientOptions): NetworkClient {
    return new NetworkClient(opts);
  }

  /** The current session's client_id. */
  get clientId(): string {
    return this.current.clientId;
  }

  /** The last known leader's client API address. */
  get leader(): string | undefined {
    return this.transport.leader;
  }

  close(): void {
    this.transport.close();
  }

  /** Registers the session now (otherwise done lazily before the first write). */
  async register(opts?: CallOptions): Promise<string> {
    const s = await this.session(opts);
    return s.clientId;
  }

  // -- plumbing ---------------------------------------------------------------------------------

  private tenant(): Record<string, unknown> {
    return defined({ orgId: this.orgId, projectId: this.projectId });
  }

  private async session(opts: CallOptions | undefined): Promise<Session> {
    const s = this.current;
    s.registered ??= this.registerSession(s, opts).catch((e: unknown) => {
      s.registered = undefined;
      throw e;
    });
    await s.registered;
    return s;
  }

  private async registerSession(s: Session, opts: CallOptions | undefined): Promise<void> {
    const request = { clientId: s.clientId };
    try {
      await this.transport.run({
        route: "leader",
        retryUnknownOutcome: true, // registering the same id again is harmless before its first request
        options: { ...opts, onResponse: undefined },
        attempt: (ep, deadline, md) =>
          this.transport.unary(M.registerClient, request, ep, deadline, md),
      });
    } catch (e) {
      throw e instanceof RunError ? e.failure.error : toNovanetError(e);
    }
  }

  private expire(s: Session): void {
    if (this.current === s) this.current = new Session(randomUUID(), this.window);
  }

  private async write<Req extends { clientId: string; requestId: number }, Res>(
    method: UnaryMethod<Req, Res>,
    fns: MessageFns<Req>,
    input: object,
    opts: CallOptions | undefined,
  ): Promise<Res> {
    const deadlineAt = Date.now() + (opts?.deadlineMs ?? this.transport.deadlineMs);
    const remaining = () => Math.max(1, deadlineAt - Date.now());
    let renewed = false;
    let renumbered = false;
    const base = build(fns, { ...this.tenant(), ...defined(input) });
    let next = await this.session({ ...opts, deadlineMs: remaining() });
    for (;;) {
      const session = next;
      const requestId = session.nextRequestId();
      const request: Req = { ...base, clientId: session.clientId, requestId };
      await session.enter(requestId, deadlineAt);
      try {
        return await this.transport.run({
          route: "leader",
          retryUnknownOutcome: true, // the same (client_id, request_id) is never applied twice
          options: { ...opts, deadlineMs: remaining() },
          attempt: (ep, deadline, md) => this.transport.unary(method, request, ep, deadline, md),
        });
      } catch (e) {
        if (!(e instanceof RunError)) throw toNovanetError(e);
        const { error, attemptsSent, exhausted } = e.failure;
        const unknown = (why: string) =>
          new OutcomeUnknownError(error, session.clientId, requestId, why);
        if (error.code === "SESSION_EXPIRED") {
          // The cluster no longer knows this session, so it cannot tell whether an earlier
          // attempt was applied; a first attempt was rejected and may run once more.
          this.expire(session);
          if (attemptsSent > 1) throw unknown("the session expired after the request was sent");
          if (renewed) throw error;
          renewed = true;
          next = await this.session({ ...opts, deadlineMs: remaining() });
          continue;
        }
        if (error.code === "STALE_REQUEST") {
          // The cluster forgot this request id's result (too many newer writes): an earlier
          // attempt may have been applied; a first attempt was not and may run with a new id.
          if (attemptsSent > 1) throw unknown("the cluster no longer remembers its result");
          if (renumbered) throw error;
          renumbered = true;
          continue;
        }
        if (exhausted && attemptsSent > 0) {
          throw unknown(
            `gave up after ${attemptsSent} attempt(s) that may have reached the cluster`,
          );
        }
        throw error;
      } finally {
        session.leave(requestId);
      }
    }
  }

  private async read<Req, Res>(
    method: UnaryMethod<Req, Res>,
    fns: MessageFns<Req>,
    input: object,
    opts: CallOptions | undefined,
  ): Promise<Res> {
    const request = build(fns, {
      ...this.tenant(),
      ...defined({ consistency: this.consistency }),
      ...defined(input),
    });
    try {
      return await this.transport.run({
        route: opts?.readFrom ?? this.transport.defaultReadFrom,
        retryUnknownOutcome: true, // reads have no effect
        options: opts,
        attempt: (ep, deadline, md) => this.transport.unary(method, request, ep, deadline, md),
      });
    } catch (e) {
      throw e instanceof RunError ? e.failure.error : toNovanetError(e);
    }
  }

  private async *all<Req extends { pageToken?: string | undefined }, Res, Item>(
    list: (req: Req, opts?: CallOptions) => Promise<Res>,
    input: Req,
    page: (r: Res) => { items: Item[]; next: string },
    opts: CallOptions | undefined,
  ): AsyncGenerator<Item, void, undefined> {
    let token = input.pageToken ?? "";
    const seen = new Set<string>();
    for (;;) {
      const res = await list({ ...input, pageToken: token }, opts);
      const { items, next } = page(res);
      yield* items;
      if (next === "") return;
      if (seen.has(next)) {
        throw new NovanetError({
          code: "INTERNAL",
          grpcCode: 13,
          message: `pagination loop: page token ${JSON.stringify(next)} returned twice`,
        });
      }
      seen.add(next);
      token = next;
    }
  }

  // -- VPC --------------------------------------------------------------------------------------

  /** Creates the project's VPC; the CIDR is allocated from the pool when `cidr` is empty. */
  createVpc(req: RequestInput<CreateVpcRequest>, opts?: CallOptions): Promise<Vpc> {
    return this.write(M.createVpc, CreateVpcRequest, req, opts);
  }
  getVpc(req: RequestInput<GetVpcRequest> = {}, opts?: CallOptions): Promise<Vpc> {
    return this.read(M.getVpc, GetVpcRequest, req, opts);
  }
  listVpcs(req: RequestInput<ListVpcsRequest> = {}, opts?: CallOptions): Promise<ListVpcsResponse> {
    return this.read(M.listVpcs, ListVpcsRequest, req, opts);
  }
  /** Every VPC, page by page (each page is a call with its own retries). */
  listAllVpcs(req: RequestInput<ListVpcsRequest> = {}, opts?: CallOptions): AsyncGenerator<Vpc> {
    return this.all(
      (r, o) => this.listVpcs(r, o),
      req,
      (r) => ({ items: r.vpcs, next: r.nextPageToken }),
      opts,
    );
  }
  async deleteVpc(req: RequestInput<DeleteVpcRequest> = {}, opts?: CallOptions): Promise<void> {
    await this.write(M.deleteVpc, DeleteVpcRequest, req, opts);
  }

  // -- Subnet -----------------------------------------------------------------------------------

  createSubnet(req: RequestInput<CreateSubnetRequest>, opts?: CallOptions): Promise<Subnet> {
    return this.write(M.createSubnet, CreateSubnetRequest, req, opts);
  }
  getSubnet(req: RequestInput<GetSubnetRequest>, opts?: CallOptions): Promise<Subnet> {
    return this.read(M.getSubnet, GetSubnetRequest, req, opts);
  }
  listSubnets(
    req: RequestInput<ListSubnetsRequest> = {},
    opts?: CallOptions,
  ): Promise<ListSubnetsResponse> {
    return this.read(M.listSubnets, ListSubnetsRequest, req, opts);
  }
  listAllSubnets(
    req: RequestInput<ListSubnetsRequest> = {},
    opts?: CallOptions,
  ): AsyncGenerator<Subnet> {
    return this.all(
      (r, o) => this.listSubnets(r, o),
      req,
      (r) => ({ items: r.subnets, next: r.nextPageToken }),
      opts,
    );
  }
  updateSubnet(req: RequestInput<UpdateSubnetRequest>, opts?: CallOptions): Promise<Subnet> {
    return this.write(M.updateSubnet, UpdateSubnetRequest, req, opts);
  }
  async deleteSubnet(req: RequestInput<DeleteSubnetRequest>, opts?: CallOptions): Promise<void> {
    await this.write(M.deleteSubnet, DeleteSubnetRequest, req, opts);
  }

  // -- Port -------------------------------------------------------------------------------------

  /** Creates a port (MAC generated and IP allocated when empty). A retry never creates a second port. */
  createPort(req: RequestInput<CreatePortRequest>, opts?: CallOptions): Promise<Port> {
    return this.write(M.createPort, CreatePortRequest, req, opts);
  }
  getPort(req: RequestInput<GetPortRequest>, opts?: CallOptions): Promise<Port> {
    return this.read(M.getPort, GetPortRequest, req, opts);
  }
  listPorts(
    req: RequestInput<ListPortsRequest> = {},
    opts?: CallOptions,
  ): Promise<ListPortsResponse> {
    return this.read(M.listPorts, ListPortsRequest, req, opts);
  }
  listAllPorts(req: RequestInput<ListPortsRequest> = {}, opts?: CallOptions): AsyncGenerator<Port> {
    return this.all(
      (r, o) => this.listPorts(r, o),
      req,
      (r) => ({ items: r.ports, next: r.nextPageToken }),
      opts,
    );
  }
  async deletePort(req: RequestInput<DeletePortRequest>, opts?: CallOptions): Promise<void> {
    await this.write(M.deletePort, DeletePortRequest, req, opts);
  }
  attachPort(req: RequestInput<AttachPortRequest>, opts?: CallOptions): Promise<Port> {
    return this.write(M.attachPort, AttachPortRequest, req, opts);
  }
  async detachPort(req: RequestInput<DetachPortRequest>, opts?: CallOptions): Promise<void> {
    await this.write(M.detachPort, DetachPortRequest, req, opts);
  }
  /** Replaces the port's security groups. */
  updatePort(req: RequestInput<UpdatePortRequest>, opts?: CallOptions): Promise<Port> {
    return this.write(M.updatePort, UpdatePortRequest, req, opts);
  }

  // -- Security group ---------------------------------------------------------------------------

  createSecurityGroup(
    req: RequestInput<CreateSecurityGroupRequest>,
    opts?: CallOptions,
  ): Promise<SecurityGroup> {
    return this.write(M.createSecurityGroup, CreateSecurityGroupRequest, req, opts);
  }
  getSecurityGroup(
    req: RequestInput<GetSecurityGroupRequest>,
    opts?: CallOptions,
  ): Promise<SecurityGroup> {
    return this.read(M.getSecurityGroup, GetSecurityGroupRequest, req, opts);
  }
  listSecurityGroups(
    req: RequestInput<ListSecurityGroupsRequest> = {},
    opts?: CallOptions,
  ): Promise<ListSecurityGroupsResponse> {
    return this.read(M.listSecurityGroups, ListSecurityGroupsRequest, req, opts);
  }
  listAllSecurityGroups(
    req: RequestInput<ListSecurityGroupsRequest> = {},
    opts?: CallOptions,
  ): AsyncGenerator<SecurityGroup> {
    return this.all(
      (r, o) => this.listSecurityGroups(r, o),
      req,
      (r) => ({ items: r.securityGroups, next: r.nextPageToken }),
      opts,
    );
  }
  /** Replaces the description (when non-empty) and all ingress and egress rules. */
  updateSecurityGroup(
    req: RequestInput<UpdateSecurityGroupRequest>,
    opts?: CallOptions,
  ): Promise<SecurityGroup> {
    return this.write(M.updateSecurityGroup, UpdateSecurityGroupRequest, req, opts);
  }
  async deleteSecurityGroup(
    req: RequestInput<DeleteSecurityGroupRequest>,
    opts?: CallOptions,
  ): Promise<void> {
    await this.write(M.deleteSecurityGroup, DeleteSecurityGroupRequest, req, opts);
  }
  addSecurityGroupRule(
    req: RequestInput<AddSecurityGroupRuleRequest>,
    opts?: CallOptions,
  ): Promise<SecurityGroup> {
    return this.write(M.addSecurityGroupRule, AddSecurityGroupRuleRequest, req, opts);
  }
  removeSecurityGroupRule(
    req: RequestInput<RemoveSecurityGroupRuleRequest>,
    opts?: CallOptions,
  ): Promise<SecurityGroup> {
    return this.write(M.removeSecurityGroupRule, RemoveSecurityGroupRuleRequest, req, opts);
  }

  // -- NAT --------------------------------------------------------------------------------------

  createSnat(req: RequestInput<CreateSnatRequest>, opts?: CallOptions): Promise<SnatConfig> {
    return this.write(M.createSnat, CreateSnatRequest, req, opts);
  }
  getSnat(req: RequestInput<GetSnatRequest>, opts?: CallOptions): Promise<SnatConfig> {
    return this.read(M.getSnat, GetSnatRequest, req, opts);
  }
  async deleteSnat(req: RequestInput<DeleteSnatRequest>, opts?: CallOptions): Promise<void> {
    await this.write(M.deleteSnat, DeleteSnatRequest, req, opts);
  }
  createDnat(req: RequestInput<CreateDnatRequest>, opts?: CallOptions): Promise<DnatConfig> {
    return this.write(M.createDnat, CreateDnatRequest, req, opts);
  }
  listDnats(
    req: RequestInput<ListDnatsRequest> = {},
    opts?: CallOptions,
  ): Promise<ListDnatsResponse> {
    return this.read(M.listDnats, ListDnatsRequest, req, opts);
  }
  listAllDnats(
    req: RequestInput<ListDnatsRequest> = {},
    opts?: CallOptions,
  ): AsyncGenerator<DnatConfig> {
    return this.all(
      (r, o) => this.listDnats(r, o),
      req,
      (r) => ({ items: r.dnats, next: r.nextPageToken }),
      opts,
    );
  }
  async deleteDnat(req: RequestInput<DeleteDnatRequest>, opts?: CallOptions): Promise<void> {
    await this.write(M.deleteDnat, DeleteDnatRequest, req, opts);
  }
}
