// The state machine's own encoding (it must not depend on src/raft/codec.ts): msgpack with fixed
// options, so the bytes never depend on what the encoder saw before, inside a versioned envelope
// [magic, version, payload]. decodeCommand is total: any bytes decode to a Command or to an
// INVALID_COMMAND result, never to an exception, because a malformed entry that reached the log
// must be rejected identically by every replica.

import { Packr } from "msgpackr";
import {
  type Command,
  type CommandType,
  commandFormatVersion,
  commandTypes,
  type SecurityRuleSpec,
} from "./commands.js";
import type { NetworkConfig } from "./config.js";
import { err, ok, type Result } from "./errors.js";
import { commandBytesMax, commandListLengthMax, commandStringLengthMax } from "./limits.js";
import type { Direction, IpRange, NatProtocol, PortRange, Protocol, SourceType } from "./types.js";

/** Explicit options at the call site (TigerStyle): no records, no shared structures. */
export const packr = new Packr({
  useRecords: false,
  structuredClone: false,
  moreTypes: false,
  mapsAsObjects: true,
  bundleStrings: false,
  variableMapSize: true,
  useFloat32: 0,
  int64AsType: "bigint",
});

export const commandMagic = "novanet.command";

export function encodeCommand(command: Command): Uint8Array {
  return packr.pack([commandMagic, commandFormatVersion, command]);
}

export function decodeCommand(bytes: Uint8Array): Result<Command> {
  if (bytes.byteLength > commandBytesMax) {
    return err("INVALID_COMMAND", `command larger than ${commandBytesMax} bytes`);
  }
  let envelope: unknown;
  try {
    envelope = packr.unpack(bytes);
  } catch (e) {
    return err("INVALID_COMMAND", `undecodable command: ${(e as Error).message}`);
  }
  if (!Array.isArray(envelope) || envelope.length !== 3 || envelope[0] !== commandMagic) {
    return err("INVALID_COMMAND", "not a command envelope");
  }
  if (envelope[1] !== commandFormatVersion) {
    return err("INVALID_COMMAND", `unsupported command version ${String(envelope[1])}`);
  }
  return parseCommand(envelope[2]);
}

class DecodeError extends Error {
  override name = "DecodeError";
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Reads the fields of one object, by type, and rejects fields it was not asked for. */
class Fields {
  readonly #object: Record<string, unknown>;
  readonly #where: string;
  readonly #read = new Set<string>();

  constructor(value: unknown, where: string) {
    if (!isPlainObject(value)) throw new DecodeError(`${where}: expected an object`);
    this.#object = value;
    this.#where = where;
  }

  #get(key: string): unknown {
    this.#read.add(key);
    return Object.hasOwn(this.#object, key) ? this.#object[key] : undefined;
  }

  #fail(key: string, expected: string): never {
    throw new DecodeError(`${this.#where}.${key}: expected ${expected}`);
  }

  optString(key: string): string | undefined {
    const value = this.#get(key);
    if (value === undefined) return undefined;
    if (typeof value !== "string" || value.length > commandStringLengthMax)
      this.#fail(key, "a string");
    return value;
  }

  string(key: string): string {
    const value = this.optString(key);
    if (value === undefined) this.#fail(key, "a string");
    return value;
  }

  optInteger(key: string): number | undefined {
    const value = this.#get(key);
    if (value === undefined) return undefined;
    if (typeof value !== "number" || !Number.isSafeInteger(value))
      this.#fail(key, "a safe integer");
    return value;
  }

  integer(key: string): number {
    const value = this.optInteger(key);
    if (value === undefined) this.#fail(key, "a safe integer");
    return value;
  }

  optNullableInteger(key: string): number | null | undefined {
    const value = this.#get(key);
    if (value === null) return null;
    this.#read.delete(key);
    return this.optInteger(key);
  }

  optBoolean(key: string): boolean | undefined {
    const value = this.#get(key);
    if (value === undefined) return undefined;
    if (typeof value !== "boolean") this.#fail(key, "a boolean");
    return value;
  }

  optList<T>(key: string, item: (value: unknown, where: string) => T): T[] | undefined {
    const value = this.#get(key);
    if (value === undefined) return undefined;
    if (!Array.isArray(value) || value.length > commandListLengthMax) this.#fail(key, "a list");
    return value.map((v, i) => item(v, `${this.#where}.${key}[${i}]`));
  }

  list<T>(key: string, item: (value: unknown, where: string) => T): T[] {
    const value = this.optList(key, item);
    if (value === undefined) this.#fail(key, "a list");
    return value;
  }

  optObject<T>(key: string, read: (fields: Fields) => T): T | undefined {
    const value = this.#get(key);
    if (value === undefined) return undefined;
    const fields = new Fields(value, `${this.#where}.${key}`);
    const result = read(fields);
    fields.finish();
    return result;
  }

  object<T>(key: string, read: (fields: Fields) => T): T {
    const value = this.optObject(key, read);
    if (value === undefined) this.#fail(key, "an object");
    return value;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T {
    const value = this.string(key);
    if (!(allowed as readonly string[]).includes(value))
      this.#fail(key, `one of ${allowed.join(", ")}`);
    return value as T;
  }

  finish(): void {
    for (const key of Object.keys(this.#object)) {
      if (!this.#read.has(key)) throw new DecodeError(`${this.#where}: unknown field ${key}`);
    }
  }
}

function stringItem(value: unknown, where: string): string {
  if (typeof value !== "string" || value.length > commandStringLengthMax) {
    throw new DecodeError(`${where}: expected a string`);
  }
  return value;
}

function readIpRange(value: unknown, where: string): IpRange {
  const f = new Fields(value, where);
  const range = { start: f.string("start"), end: f.string("end") };
  f.finish();
  return range;
}

function readPortRange(f: Fields): PortRange {
  return { min: f.integer("min"), max: f.integer("max") };
}

const protocolNames: readonly Protocol[] = ["TCP", "UDP", "ICMP", "ALL"];
const sourceTypeNames: readonly SourceType[] = ["CIDR", "SECURITY_GROUP"];
const directionNames: readonly Direction[] = ["INGRESS", "EGRESS"];
const natProtocolNames: readonly NatProtocol[] = ["TCP", "UDP", "ALL"];

function readRuleFields(f: Fields): SecurityRuleSpec {
  const portRange = f.optObject("port_range", readPortRange);
  return {
    id: f.string("id"),
    protocol: f.oneOf("protocol", protocolNames),
    ...(portRange === undefined ? {} : { port_range: portRange }),
    source_type: f.oneOf("source_type", sourceTypeNames),
    source: f.string("source"),
  };
}

function readRule(value: unknown, where: string): SecurityRuleSpec {
  const f = new Fields(value, where);
  const rule = readRuleFields(f);
  f.finish();
  return rule;
}

function readConfig(f: Fields): NetworkConfig {
  return {
    cidr_pool: f.string("cidr_pool"),
    vpc_prefix_length: f.integer("vpc_prefix_length"),
    default_subnet_size: f.integer("default_subnet_size"),
    external_ip_pool: f.list("external_ip_pool", stringItem),
    subnet_reserved_leading: f.integer("subnet_reserved_leading"),
    subnet_reserved_trailing: f.integer("subnet_reserved_trailing"),
    session_max: f.integer("session_max"),
    session_responses_max: f.integer("session_responses_max"),
    session_timeout_ms: f.integer("session_timeout_ms"),
  };
}

/** Adds `key: value` only when value is defined (exactOptionalPropertyTypes). */
function opt<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function tenant(f: Fields) {
  return {
    client_id: f.string("client_id"),
    request_id: f.integer("request_id"),
    org_id: f.string("org_id"),
    project_id: f.string("project_id"),
  };
}

function readTenantCommand(type: CommandType, f: Fields): Command {
  switch (type) {
    case "Bootstrap":
    case "RegisterClient":
    case "CloseSession":
      throw new DecodeError("not a tenant command");
    case "CreateVpc":
      return {
        type,
        ...tenant(f),
        name: f.string("name"),
        ...opt("cidr", f.optString("cidr")),
        ...opt("ipv6_cidr", f.optString("ipv6_cidr")),
      };
    case "DeleteVpc":
      return {
        type,
        ...tenant(f),
        vpc_id: f.string("vpc_id"),
        ...opt("cascade", f.optBoolean("cascade")),
      };
    case "CreateSubnet":
      return {
        type,
        ...tenant(f),
        vpc_id: f.string("vpc_id"),
        name: f.string("name"),
        cidr: f.string("cidr"),
        ...opt("gateway_ip", f.optString("gateway_ip")),
        ...opt("dns_servers", f.optList("dns_servers", stringItem)),
        ...opt("dhcp_enabled", f.optBoolean("dhcp_enabled")),
        ...opt("mtu", f.optInteger("mtu")),
        ...opt("reserved_ranges", f.optList("reserved_ranges", readIpRange)),
      };
    case "UpdateSubnet":
      return {
        type,
        ...tenant(f),
        subnet_id: f.string("subnet_id"),
        ...opt("dns_servers", f.optList("dns_servers", stringItem)),
        ...opt("dhcp_enabled", f.optBoolean("dhcp_enabled")),
        ...opt("mtu", f.optNullableInteger("mtu")),
      };
    case "DeleteSubnet":
      return { type, ...tenant(f), subnet_id: f.string("subnet_id") };
    case "CreatePort":
      return {
        type,
        ...tenant(f),
        port_id: f.string("port_id"),
        subnet_id: f.string("subnet_id"),
        mac_address: f.string("mac_address"),
        ...opt("ip_address", f.optString("ip_address")),
        ...opt("security_group_ids", f.optList("security_group_ids", stringItem)),
        ...opt("vm_id", f.optString("vm_id")),
      };
    case "UpdatePort":
      return {
        type,
        ...tenant(f),
        port_id: f.string("port_id"),
        security_group_ids: f.list("security_group_ids", stringItem),
      };
    case "DeletePort":
      return { type, ...tenant(f), port_id: f.string("port_id") };
    case "AttachPort":
      return { type, ...tenant(f), port_id: f.string("port_id"), vm_id: f.string("vm_id") };
    case "DetachPort":
      return {
        type,
        ...tenant(f),
        port_id: f.string("port_id"),
        ...opt("vm_id", f.optString("vm_id")),
      };
    case "CreateSecurityGroup":
      return {
        type,
        ...tenant(f),
        name: f.string("name"),
        ...opt("description", f.optString("description")),
        ...opt("ingress_rules", f.optList("ingress_rules", readRule)),
        ...opt("egress_rules", f.optList("egress_rules", readRule)),
      };
    case "UpdateSecurityGroup":
      return {
        type,
        ...tenant(f),
        security_group_id: f.string("security_group_id"),
        ...opt("description", f.optString("description")),
        ingress_rules: f.list("ingress_rules", readRule),
        egress_rules: f.list("egress_rules", readRule),
      };
    case "AddSecurityRule":
      return {
        type,
        ...tenant(f),
        security_group_id: f.string("security_group_id"),
        direction: f.oneOf("direction", directionNames),
        rule: f.object("rule", readRuleFields),
      };
    case "RemoveSecurityRule":
      return {
        type,
        ...tenant(f),
        security_group_id: f.string("security_group_id"),
        rule_id: f.string("rule_id"),
      };
    case "DeleteSecurityGroup":
      return { type, ...tenant(f), security_group_id: f.string("security_group_id") };
    case "CreateSnat":
      return {
        type,
        ...tenant(f),
        vpc_id: f.string("vpc_id"),
        ...opt("external_ip", f.optString("external_ip")),
        ...opt("enabled", f.optBoolean("enabled")),
      };
    case "DeleteSnat":
      return { type, ...tenant(f), vpc_id: f.string("vpc_id") };
    case "CreateDnat":
      return {
        type,
        ...tenant(f),
        dnat_id: f.string("dnat_id"),
        vpc_id: f.string("vpc_id"),
        ...opt("external_ip", f.optString("external_ip")),
        external_port: f.integer("external_port"),
        protocol: f.oneOf("protocol", natProtocolNames),
        internal_ip: f.string("internal_ip"),
        internal_port: f.integer("internal_port"),
      };
    case "DeleteDnat":
      return { type, ...tenant(f), dnat_id: f.string("dnat_id") };
  }
}

function readCommand(value: unknown): Command {
  const f = new Fields(value, "command");
  const type = f.oneOf("type", commandTypes);
  let command: Command;
  if (type === "Bootstrap") command = { type, config: f.object("config", readConfig) };
  else if (type === "RegisterClient" || type === "CloseSession")
    command = { type, client_id: f.string("client_id") };
  else command = readTenantCommand(type, f);
  f.finish();
  return command;
}

/**
 * Structural validation of a command value (from bytes or from a caller): the right types, no
 * unknown fields. The result is a fresh object holding only known fields. Semantic checks
 * (names, CIDRs, ranges …) belong to apply.
 */
export function parseCommand(value: unknown): Result<Command> {
  try {
    return ok(readCommand(value));
  } catch (e) {
    if (e instanceof DecodeError) return err("INVALID_COMMAND", e.message);
    throw e;
  }
}
