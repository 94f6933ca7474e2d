// NAT. External IPs come from config.external_ip_pool and are global: an external IP belongs to
// one VPC at a time (shared by that VPC's SNAT and DNAT rules, returned to the pool when its
// last rule goes), and an external (IP, port, protocol) is forwarded by one DNAT rule only.
// An omitted external IP is allocated next-fit from the pool.
//
// A DNAT with protocol ALL and both ports 0 is a 1:1 DNAT (a floating IP): every protocol and
// port of its external IP goes to internal_ip, and internal_ip's egress leaves from it. Its
// external IP is exclusive (no SNAT, no port forwarding, no other 1:1 DNAT on it), and an
// internal IP has at most one 1:1 DNAT, as AWS Elastic IPs and Neutron floating IPs require.

import { assert } from "../assert.js";
import type {
  CreateDnatCommand,
  CreateSnatCommand,
  DeleteDnatCommand,
  DeleteSnatCommand,
  Empty,
} from "../commands.js";
import { externalOffset } from "../config.js";
import { type Err, err, ok, type Result } from "../errors.js";
import { formatIpv4, parseIpv4 } from "../ip.js";
import { dnatsPerVpcMax } from "../limits.js";
import { externalKey, type VpcEntry, vpcIdOf } from "../state.js";
import { type DnatConfig, deepFreeze, type SnatConfig } from "../types.js";
import { canonicalUuid } from "../validate.js";
import { type Exec, findVpc, isErr } from "./common.js";

/** Check a requested external IP for a VPC (canonical text), or that the pool has one free. */
function externalIpFor(x: Exec, vpc: VpcEntry, given: string | undefined): string | null | Err {
  if (given === undefined) {
    const pool = x.state.externalPool;
    if (pool === null || pool.freeCount === 0) {
      return err("EXTERNAL_IP_POOL_EXHAUSTED", "no free external IP left in the pool");
    }
    return null;
  }
  const address = parseIpv4(given);
  if (address === null)
    return err("INVALID_ARGUMENT", `external_ip ${given} is not an IPv4 address`);
  if (externalOffset(x.config, address) < 0) {
    return err("EXTERNAL_IP_NOT_IN_POOL", `external_ip ${given} is not in the external pool`);
  }
  const ip = formatIpv4(address);
  const owner = x.state.externalOwners.get(ip);
  if (owner !== undefined && owner !== vpc.vpc.id) {
    return err("EXTERNAL_IP_IN_USE", `external_ip ${ip} belongs to another VPC`);
  }
  return ip;
}

/** The dnatByExternal / dnatInternal key of a 1:1 DNAT on an address. */
export function oneToOneKey(ip: string): string {
  return externalKey(ip, 0, "ALL");
}

/** Refuse an external IP that a 1:1 DNAT holds (it may carry nothing else). */
function notOneToOne(x: Exec, ip: string | null): Err | null {
  if (ip !== null && x.state.dnatByExternal.has(oneToOneKey(ip))) {
    return err("EXTERNAL_IP_IN_USE", `external_ip ${ip} is held by a 1:1 DNAT`);
  }
  return null;
}

export function createSnat(x: Exec, c: CreateSnatCommand): Result<SnatConfig> {
  const vpc = findVpc(x, c, c.vpc_id);
  if (isErr(vpc)) return vpc;
  if (vpc.snat !== null) return err("ALREADY_EXISTS", `VPC ${c.vpc_id} already has SNAT`);
  const given = externalIpFor(x, vpc, c.external_ip);
  if (isErr(given)) return given;
  const held = notOneToOne(x, given);
  if (held !== null) return held;
  const ip = x.state.acquireExternal(vpc, given);
  const snat: SnatConfig = deepFreeze({
    vpc_id: vpc.vpc.id,
    external_ip: ip,
    enabled: c.enabled ?? true,
    created_at: x.nowMs,
  });
  x.state.setSnat(vpc, snat);
  return ok(snat);
}

export function deleteSnat(x: Exec, c: DeleteSnatCommand): Result<Empty> {
  const vpc = findVpc(x, c, c.vpc_id);
  if (isErr(vpc)) return vpc;
  if (vpc.snat === null) return err("NOT_FOUND", `VPC ${c.vpc_id} has no SNAT`);
  x.state.removeSnat(vpc);
  return ok({});
}

function natPort(value: number, field: string): Err | null {
  if (value < 1 || value > 65_535) {
    return err(
      "INVALID_ARGUMENT",
      `${field} must lie in 1..65535 (0 only with protocol ALL, a 1:1 DNAT)`,
    );
  }
  return null;
}

/** Ports and protocol: TCP/UDP with ports 1..65535, or ALL with both ports 0 (1:1). */
function natPorts(c: CreateDnatCommand): Err | null {
  if (c.protocol === "ALL") {
    if (c.external_port !== 0 || c.internal_port !== 0) {
      return err(
        "INVALID_ARGUMENT",
        "protocol ALL is a 1:1 DNAT and needs external_port and internal_port 0",
      );
    }
    return null;
  }
  return natPort(c.external_port, "external_port") ?? natPort(c.internal_port, "internal_port");
}

export function createDnat(x: Exec, c: CreateDnatCommand): Result<DnatConfig> {
  const vpc = findVpc(x, c, c.vpc_id);
  if (isErr(vpc)) return vpc;
  const id = canonicalUuid(c.dnat_id);
  if (id === null) return err("INVALID_ARGUMENT", `dnat_id ${c.dnat_id} is not a UUID`);
  if (x.state.dnats.has(id)) return err("ALREADY_EXISTS", `DNAT ${id} already exists`);
  const portError = natPorts(c);
  if (portError !== null) return portError;
  const oneToOne = c.protocol === "ALL";
  const internal = parseIpv4(c.internal_ip);
  if (internal === null)
    return err("INVALID_ARGUMENT", `internal_ip ${c.internal_ip} is not an IPv4 address`);
  const internalIp = formatIpv4(internal);
  if (!vpc.ips.has(internalIp))
    return err("NOT_FOUND", `no port of the VPC has address ${internalIp}`);
  if (vpc.dnatIds.size >= dnatsPerVpcMax)
    return err("LIMIT_EXCEEDED", `a VPC holds at most ${dnatsPerVpcMax} DNAT rules`);
  if (vpc.dnatInternal.has(externalKey(internalIp, c.internal_port, c.protocol))) {
    return err(
      "ALREADY_EXISTS",
      oneToOne
        ? `${internalIp} already has a 1:1 DNAT`
        : `${internalIp}:${c.internal_port}/${c.protocol} is already forwarded`,
    );
  }
  const given = externalIpFor(x, vpc, c.external_ip);
  if (isErr(given)) return given;
  if (oneToOne && given !== null && x.state.externalOwners.has(given)) {
    // externalIpFor refused another VPC's IP; this VPC's SNAT or DNATs use it.
    return err(
      "EXTERNAL_IP_IN_USE",
      `external_ip ${given} is already used by this VPC's SNAT or DNAT; a 1:1 DNAT needs it alone`,
    );
  }
  const held = notOneToOne(x, given);
  if (held !== null) return held;
  if (
    given !== null &&
    x.state.dnatByExternal.has(externalKey(given, c.external_port, c.protocol))
  ) {
    return err("ALREADY_EXISTS", `${given}:${c.external_port}/${c.protocol} is already forwarded`);
  }
  const ip = x.state.acquireExternal(vpc, given);
  const dnat: DnatConfig = deepFreeze({
    id,
    vpc_id: vpc.vpc.id,
    external_ip: ip,
    external_port: c.external_port,
    internal_ip: internalIp,
    internal_port: c.internal_port,
    protocol: c.protocol,
    created_at: x.nowMs,
  });
  x.state.insertDnat(dnat);
  return ok(dnat);
}

export function deleteDnat(x: Exec, c: DeleteDnatCommand): Result<Empty> {
  const id = canonicalUuid(c.dnat_id);
  const dnat = id === null ? undefined : x.state.dnats.get(id);
  if (dnat === undefined || dnat.vpc_id !== vpcIdOf(c.org_id, c.project_id)) {
    return err("NOT_FOUND", `DNAT ${c.dnat_id} not found`);
  }
  x.state.removeDnat(dnat);
  assert(!x.state.dnats.has(dnat.id), "DNAT still present");
  return ok({});
}
