// Read-only queries for the gRPC reads (tenant-scoped, paginated) and for the OVN reconciler
// (everything, all tenants). Pages are in ascending id order; page_token is the opaque
// (base64url) id of the last item returned, so a page survives deletions between calls.
// Sorted id lists are cached per scope until the next applied entry (the cache is not
// replicated state: it never influences apply).

import { err, ok, type Result } from "./errors.js";
import { pageSizeDefault, pageSizeMax } from "./limits.js";
import { childIdOf, type State, vpcIdOf } from "./state.js";
import type {
  DnatConfig,
  Port,
  SecurityGroup,
  SnatConfig,
  Subnet,
  SubnetUsage,
  Vpc,
} from "./types.js";
import { canonicalUuid, isTenantId } from "./validate.js";

export interface Scope {
  readonly org_id: string;
  readonly project_id: string;
}

export interface PageRequest {
  /** Omitted or 0: pageSizeDefault; at most pageSizeMax. */
  readonly page_size?: number;
  readonly page_token?: string;
}

export interface Page<T> {
  readonly items: readonly T[];
  /** "" when this is the last page. */
  readonly next_page_token: string;
}

export interface PortFilter {
  readonly subnet_id?: string;
  readonly vm_id?: string;
}

const listCacheEntriesMax = 64;

function encodeToken(id: string): string {
  return Buffer.from(id, "utf8").toString("base64url");
}

function decodeToken(token: string): string | null {
  const id = Buffer.from(token, "base64url").toString("utf8");
  return encodeToken(id) === token ? id : null;
}

/** First index in sorted ids whose id is > after. */
function upperBound(ids: readonly string[], after: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class Queries {
  readonly #state: () => State;
  readonly #sorted = new Map<string, { appliedIndex: number; ids: string[] }>();

  constructor(state: () => State) {
    this.#state = state;
  }

  #sortedIds(key: string, ids: () => Iterable<string>): string[] {
    const state = this.#state();
    const cached = this.#sorted.get(key);
    if (cached !== undefined && cached.appliedIndex === state.appliedIndex) return cached.ids;
    if (this.#sorted.size >= listCacheEntriesMax) this.#sorted.clear();
    const sorted = [...ids()].sort();
    this.#sorted.set(key, { appliedIndex: state.appliedIndex, ids: sorted });
    return sorted;
  }

  #page<T>(
    sorted: readonly string[],
    request: PageRequest,
    item: (id: string) => T | null,
  ): Result<Page<T>> {
    const size = request.page_size ?? 0;
    if (!Number.isSafeInteger(size) || size < 0 || size > pageSizeMax) {
      return err("INVALID_ARGUMENT", `page_size must lie in 0..${pageSizeMax}`);
    }
    const limit = size === 0 ? pageSizeDefault : size;
    let start = 0;
    if (request.page_token !== undefined && request.page_token !== "") {
      const after = decodeToken(request.page_token);
      if (after === null) return err("INVALID_ARGUMENT", "page_token is invalid");
      start = upperBound(sorted, after);
    }
    const items: T[] = [];
    let last = "";
    let i = start;
    for (; i < sorted.length && items.length < limit; i++) {
      const value = item(sorted[i]!);
      if (value !== null) {
        items.push(value);
        last = sorted[i]!;
      }
    }
    return ok({
      items,
      next_page_token: i < sorted.length && last !== "" ? encodeToken(last) : "",
    });
  }

  #scopeError(scope: Scope): Result<never> | null {
    if (!isTenantId(scope.org_id) || !isTenantId(scope.project_id)) {
      return err("INVALID_ARGUMENT", "org_id and project_id must be valid tenant ids");
    }
    return null;
  }

  getVpc(scope: Scope, vpcId: string): Result<Vpc> {
    const vpc =
      vpcId === vpcIdOf(scope.org_id, scope.project_id) ? this.#state().vpcs.get(vpcId) : undefined;
    return vpc === undefined ? err("NOT_FOUND", `VPC ${vpcId} not found`) : ok(vpc.vpc);
  }

  listVpcs(scope: Scope, request: PageRequest = {}): Result<Page<Vpc>> {
    const scopeError = this.#scopeError(scope);
    if (scopeError !== null) return scopeError;
    const id = vpcIdOf(scope.org_id, scope.project_id);
    const ids = this.#state().vpcs.has(id) ? [id] : [];
    return this.#page(ids, request, (vpcId) => this.#state().vpcs.get(vpcId)?.vpc ?? null);
  }

  getSubnet(scope: Scope, subnetId: string): Result<Subnet> {
    const entry = this.#state().subnets.get(subnetId);
    if (entry === undefined || entry.subnet.vpc_id !== vpcIdOf(scope.org_id, scope.project_id)) {
      return err("NOT_FOUND", `subnet ${subnetId} not found`);
    }
    return ok(entry.subnet);
  }

  listSubnets(scope: Scope, request: PageRequest = {}): Result<Page<Subnet>> {
    const scopeError = this.#scopeError(scope);
    if (scopeError !== null) return scopeError;
    const vpc = this.#state().vpcs.get(vpcIdOf(scope.org_id, scope.project_id));
    const key = `subnets:${vpcIdOf(scope.org_id, scope.project_id)}`;
    const sorted = vpc === undefined ? [] : this.#sortedIds(key, () => vpc.subnetIds);
    return this.#page(sorted, request, (id) => this.#state().subnets.get(id)?.subnet ?? null);
  }

  /** Neutron-style IP availability of one subnet. */
  getSubnetUsage(scope: Scope, subnetId: string): Result<SubnetUsage> {
    const subnet = this.getSubnet(scope, subnetId);
    if (!subnet.ok) return subnet;
    const { ipam } = this.#state().subnets.get(subnetId)!;
    return ok({
      subnet_id: subnetId,
      total_ips: ipam.usableCount.toString(),
      used_ips: String(ipam.allocatedCount),
    });
  }

  getPort(scope: Scope, portId: string): Result<Port> {
    const id = canonicalUuid(portId);
    const entry = id === null ? undefined : this.#state().ports.get(id);
    if (entry === undefined || entry.port.vpc_id !== vpcIdOf(scope.org_id, scope.project_id)) {
      return err("NOT_FOUND", `port ${portId} not found`);
    }
    return ok(entry.port);
  }

  listPorts(scope: Scope, filter: PortFilter = {}, request: PageRequest = {}): Result<Page<Port>> {
    const scopeError = this.#scopeError(scope);
    if (scopeError !== null) return scopeError;
    const vpcId = vpcIdOf(scope.org_id, scope.project_id);
    const state = this.#state();
    let sorted: string[] = [];
    if (filter.subnet_id !== undefined) {
      const subnet = state.subnets.get(filter.subnet_id);
      if (subnet !== undefined && subnet.subnet.vpc_id === vpcId) {
        sorted = this.#sortedIds(`ports:${filter.subnet_id}`, () => subnet.portIds);
      }
    } else {
      const vpc = state.vpcs.get(vpcId);
      if (vpc !== undefined) sorted = this.#sortedIds(`ports:${vpcId}`, () => vpc.portIds);
    }
    return this.#page(sorted, request, (id) => {
      const port = state.ports.get(id)?.port;
      if (port === undefined) return null;
      return filter.vm_id === undefined || port.vm_id === filter.vm_id ? port : null;
    });
  }

  getSecurityGroup(scope: Scope, reference: string): Result<SecurityGroup> {
    const id = reference.includes("/")
      ? reference
      : childIdOf(scope.org_id, scope.project_id, reference);
    const entry = this.#state().securityGroups.get(id);
    if (entry === undefined || entry.vpcId !== vpcIdOf(scope.org_id, scope.project_id)) {
      return err("NOT_FOUND", `security group ${reference} not found`);
    }
    return ok(entry.group);
  }

  listSecurityGroups(scope: Scope, request: PageRequest = {}): Result<Page<SecurityGroup>> {
    const scopeError = this.#scopeError(scope);
    if (scopeError !== null) return scopeError;
    const vpcId = vpcIdOf(scope.org_id, scope.project_id);
    const vpc = this.#state().vpcs.get(vpcId);
    const sorted =
      vpc === undefined ? [] : this.#sortedIds(`groups:${vpcId}`, () => vpc.securityGroupIds);
    return this.#page(sorted, request, (id) => this.#state().securityGroups.get(id)?.group ?? null);
  }

  getSnat(scope: Scope, vpcId: string): Result<SnatConfig> {
    const vpc = this.getVpc(scope, vpcId);
    if (!vpc.ok) return vpc;
    const snat = this.#state().vpcs.get(vpcId)!.snat;
    return snat === null ? err("NOT_FOUND", `VPC ${vpcId} has no SNAT`) : ok(snat);
  }

  getDnat(scope: Scope, dnatId: string): Result<DnatConfig> {
    const id = canonicalUuid(dnatId);
    const dnat = id === null ? undefined : this.#state().dnats.get(id);
    if (dnat === undefined || dnat.vpc_id !== vpcIdOf(scope.org_id, scope.project_id)) {
      return err("NOT_FOUND", `DNAT ${dnatId} not found`);
    }
    return ok(dnat);
  }

  listDnats(scope: Scope, request: PageRequest = {}): Result<Page<DnatConfig>> {
    const scopeError = this.#scopeError(scope);
    if (scopeError !== null) return scopeError;
    const vpcId = vpcIdOf(scope.org_id, scope.project_id);
    const vpc = this.#state().vpcs.get(vpcId);
    const sorted = vpc === undefined ? [] : this.#sortedIds(`dnats:${vpcId}`, () => vpc.dnatIds);
    return this.#page(sorted, request, (id) => this.#state().dnats.get(id) ?? null);
  }
}
