#!/usr/bin/env node
// novanetctl: the NovaNET command line, built on the client library.
//
//   npx tsx src/cli/novanetctl.ts [global flags] <resource> <verb> [args] [flags]
//
// Exit codes: 0 ok, 1 usage error, 2 API (or I/O) error. See docs/client.md for the reference.
import { readFileSync, realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  directionToJSON,
  protocolToJSON,
  sourceTypeToJSON,
} from "../api/gen/novanet/v1/network.js";
import {
  ClusterClient,
  type ClusterStatus,
  Consistency,
  Direction,
  type DnatConfig,
  type EndpointStatus,
  type ListMembersResponse,
  NetworkClient,
  NovanetError,
  type Port,
  type PortRange,
  Protocol,
  type SecurityGroup,
  type SecurityRule,
  type SnatConfig,
  SourceType,
  type Subnet,
  type TlsOptions,
  type Vpc,
} from "../client/index.js";
import { formatTable } from "./table.js";

export const defaultEndpoint = "127.0.0.1:8081";

export const usage = `usage: novanetctl [global flags] <resource> <verb> [args] [flags]

global flags:
  --endpoints a,b,c    replica addresses (env NOVANET_ENDPOINTS; default ${defaultEndpoint})
  --token T            bearer token (env NOVANET_TOKEN)
  --org O --project P  tenant (env NOVANET_ORG, NOVANET_PROJECT); needed by all but cluster
  -o, --output F       table (default) or json
  --timeout MS         deadline per call, retries included (default 10000)
  --stale              serve reads from the replica's local state (CONSISTENCY_STALE)
  --tls                use TLS with the system roots; --ca FILE --cert FILE --key FILE imply it
  -h, --help           this text

commands:
  vpc create --name N [--cidr C] [--ipv6-cidr C]
  vpc get [ID] | vpc list | vpc delete [ID] [--cascade]
  subnet create --name N --cidr C [--vpc ID] [--gateway IP] [--dns IP,IP] [--no-dhcp] [--mtu N]
                [--reserved START-END,...]
  subnet get ID | subnet list [--vpc ID] | subnet delete ID
  subnet update ID [--dns IP,IP] [--dhcp on|off] [--mtu N]
  port create --subnet ID [--vm VM] [--mac MAC] [--ip IP] [--sg SG,SG]
  port get ID | port list [--subnet ID] [--vm VM] | port delete ID
  port attach ID --vm VM | port detach ID [--vm VM] | port update ID --sg SG,SG
  sg create --name N [--description D] [--no-default-egress]
  sg get ID | sg list | sg delete ID
  sg rule add SG --direction ingress|egress --protocol tcp|udp|icmp|all [--ports N[-M]]
              [--cidr C | --source-group SG]
  sg rule remove SG RULE_ID
  snat create [--vpc ID] [--external-ip IP] | snat get [--vpc ID] | snat delete [--vpc ID]
  dnat create [--vpc ID] [--external-ip IP] --external-port N --internal-ip IP
              --internal-port N --protocol tcp|udp
  dnat create [--vpc ID] [--external-ip IP] --internal-ip IP --protocol all   (1:1, a floating IP)
  dnat list [--vpc ID] | dnat delete ID
  cluster status [--endpoint A] | cluster members
  cluster add-learner --id ID --peer-address A --api-address A
  cluster promote ID | cluster remove ID | cluster transfer-leader [ID]
  cluster snapshot [--endpoint A] | cluster backup FILE [--endpoint A]

A subnet ID without "/" is taken as a subnet name in --org/--project. List commands fetch every
page (--page-size sets the page size).
`;

export interface CliIO {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: Record<string, string | undefined>;
}

class UsageError extends Error {}

const globalFlags = [
  "endpoints",
  "token",
  "org",
  "project",
  "output",
  "timeout",
  "stale",
  "tls",
  "ca",
  "cert",
  "key",
  "help",
] as const;

const options = {
  endpoints: { type: "string" },
  token: { type: "string" },
  org: { type: "string" },
  project: { type: "string" },
  output: { type: "string", short: "o" },
  timeout: { type: "string" },
  stale: { type: "boolean" },
  tls: { type: "boolean" },
  ca: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  help: { type: "boolean", short: "h" },
  // command flags
  name: { type: "string" },
  cidr: { type: "string" },
  "ipv6-cidr": { type: "string" },
  cascade: { type: "boolean" },
  vpc: { type: "string" },
  gateway: { type: "string" },
  dns: { type: "string" },
  dhcp: { type: "string" },
  "no-dhcp": { type: "boolean" },
  mtu: { type: "string" },
  reserved: { type: "string" },
  subnet: { type: "string" },
  vm: { type: "string" },
  mac: { type: "string" },
  ip: { type: "string" },
  sg: { type: "string" },
  description: { type: "string" },
  "no-default-egress": { type: "boolean" },
  direction: { type: "string" },
  protocol: { type: "string" },
  ports: { type: "string" },
  "source-group": { type: "string" },
  "external-ip": { type: "string" },
  "external-port": { type: "string" },
  "internal-ip": { type: "string" },
  "internal-port": { type: "string" },
  "page-size": { type: "string" },
  id: { type: "string" },
  "peer-address": { type: "string" },
  "api-address": { type: "string" },
  endpoint: { type: "string" },
} as const;

type Flags = {
  [K in keyof typeof options]?: (typeof options)[K]["type"] extends "boolean" ? boolean : string;
};

/** What a command produced: the JSON form and the table form. */
interface Output {
  json: unknown;
  table: string;
}

interface Ctx {
  flags: Flags;
  args: string[];
  org: string;
  project: string;
  net(): NetworkClient;
  cluster(): ClusterClient;
}

interface Command {
  /** Positional argument names; a trailing "?" marks an optional one. */
  args: string[];
  flags: (keyof typeof options)[];
  /** Flags that must be given. */
  required?: (keyof typeof options)[];
  tenant: boolean;
  run(ctx: Ctx): Promise<Output>;
}

// -- value parsing ------------------------------------------------------------------------------

function int(name: string, v: string | undefined, max = 0xffff_ffff): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) > max)
    throw new UsageError(`--${name}: expected an integer 0..${max}, got "${v}"`);
  return Number(v);
}

function list(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

function protocol(v: string | undefined, allowed: string[]): Protocol {
  const map: Record<string, Protocol> = {
    tcp: Protocol.PROTOCOL_TCP,
    udp: Protocol.PROTOCOL_UDP,
    icmp: Protocol.PROTOCOL_ICMP,
    all: Protocol.PROTOCOL_ALL,
  };
  const p = v === undefined ? undefined : map[v.toLowerCase()];
  if (p === undefined || !allowed.includes(v!.toLowerCase())) {
    throw new UsageError(`--protocol: expected one of ${allowed.join(", ")}, got "${v ?? ""}"`);
  }
  return p;
}

function portRange(v: string | undefined): PortRange | undefined {
  if (v === undefined) return undefined;
  const m = /^(\d+)(?:-(\d+))?$/.exec(v);
  const min = Number(m?.[1]);
  const max = Number(m?.[2] ?? m?.[1]);
  if (m === null || min > 65535 || max > 65535 || min > max) {
    throw new UsageError(`--ports: expected N or N-M (0..65535), got "${v}"`);
  }
  return { min, max };
}

function onOff(name: string, v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (/^(on|true|yes|1)$/i.test(v)) return true;
  if (/^(off|false|no|0)$/i.test(v)) return false;
  throw new UsageError(`--${name}: expected on or off, got "${v}"`);
}

// -- presentation -------------------------------------------------------------------------------

const enumFields: Record<string, (v: number) => string> = {
  protocol: protocolToJSON,
  sourceType: sourceTypeToJSON,
  direction: directionToJSON,
};

/** A message as JSON: every field (defaults included), enums by name, bytes as base64. */
export function jsonOf(value: unknown, key = ""): unknown {
  if (Array.isArray(value)) return value.map((v) => jsonOf(v, key));
  if (Buffer.isBuffer(value) || value instanceof Uint8Array)
    return Buffer.from(value).toString("base64");
  if (typeof value === "number" && enumFields[key] !== undefined) return enumFields[key](value);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = jsonOf(v, k);
    return out;
  }
  return value;
}

const time = (ms: number) => (ms === 0 ? "" : new Date(ms).toISOString().replace(/\.\d+Z$/, "Z"));
const dash = (s: string) => (s === "" ? "-" : s);
const protoName = (p: Protocol) =>
  protocolToJSON(p)
    .replace(/^PROTOCOL_/, "")
    .toLowerCase();

function table(headers: string[], rows: string[][]): string {
  return formatTable(headers, rows);
}

const vpcTable = (vs: Vpc[]) =>
  table(
    ["ID", "NAME", "CIDR", "IPV6 CIDR", "CREATED"],
    vs.map((v) => [
      v.id,
      v.name,
      v.cidr + (v.cidrAutoAllocated ? " (auto)" : ""),
      dash(v.ipv6Cidr),
      time(v.createdAt),
    ]),
  );

const subnetTable = (xs: Subnet[]) =>
  table(
    ["ID", "VPC", "CIDR", "GATEWAY", "DHCP", "DNS", "MTU"],
    xs.map((s) => [
      s.id,
      s.vpcId,
      s.cidr,
      s.gatewayIp,
      s.dhcpEnabled ? "on" : "off",
      dash(s.dnsServers.join(",")),
      s.mtu === 0 ? "-" : String(s.mtu),
    ]),
  );

const portTable = (xs: Port[]) =>
  table(
    ["ID", "SUBNET", "VM", "IP", "MAC", "SECURITY GROUPS", "UP"],
    xs.map((p) => [
      p.id,
      p.subnetId,
      dash(p.vmId),
      dash(p.ipAddress),
      p.macAddress,
      dash(p.securityGroupIds.join(",")),
      p.up ? "yes" : "no",
    ]),
  );

const groupTable = (xs: SecurityGroup[]) =>
  table(
    ["ID", "NAME", "DESCRIPTION", "INGRESS", "EGRESS"],
    xs.map((g) => [
      g.id,
      g.name,
      dash(g.description),
      String(g.ingressRules.length),
      String(g.egressRules.length),
    ]),
  );

function ruleRows(direction: string, rules: SecurityRule[]): string[][] {
  return rules.map((r) => [
    dash(r.id),
    direction,
    protoName(r.protocol),
    r.portRange === undefined || (r.portRange.min === 0 && r.portRange.max === 0)
      ? "all"
      : r.portRange.min === r.portRange.max
        ? String(r.portRange.min)
        : `${r.portRange.min}-${r.portRange.max}`,
    `${r.sourceType === SourceType.SOURCE_TYPE_SECURITY_GROUP ? "group" : "cidr"}:${dash(r.source)}`,
  ]);
}

const groupDetail = (g: SecurityGroup) =>
  `${groupTable([g])}\n${table(
    ["RULE", "DIRECTION", "PROTOCOL", "PORTS", "SOURCE"],
    [...ruleRows("ingress", g.ingressRules), ...ruleRows("egress", g.egressRules)],
  )}`;

const snatTable = (xs: SnatConfig[]) =>
  table(
    ["VPC", "EXTERNAL IP", "ENABLED", "CREATED"],
    xs.map((s) => [s.vpcId, s.externalIp, s.enabled ? "yes" : "no", time(s.createdAt)]),
  );

const dnatTable = (xs: DnatConfig[]) =>
  table(
    ["ID", "VPC", "EXTERNAL", "INTERNAL", "PROTOCOL"],
    xs.map((d) => [
      d.id,
      d.vpcId,
      d.protocol === Protocol.PROTOCOL_ALL ? d.externalIp : `${d.externalIp}:${d.externalPort}`,
      d.protocol === Protocol.PROTOCOL_ALL ? d.internalIp : `${d.internalIp}:${d.internalPort}`,
      protoName(d.protocol),
    ]),
  );

const membersTable = (r: ListMembersResponse) =>
  table(
    ["ID", "ROLE", "PEER ADDRESS", "API ADDRESS", "LEADER"],
    r.members.map((m) => [
      m.id,
      m.isLearner ? "learner" : "voter",
      m.peerAddress,
      m.apiAddress,
      m.id === r.leaderId ? "*" : "",
    ]),
  );

/** The leader's view of each member's replication: how far behind it is (learners catching up). */
const progressTable = (s: ClusterStatus) =>
  table(
    ["MEMBER", "ROLE", "STATE", "MATCH", "LAG ENTRIES", "LAG BYTES", "ACTIVE"],
    s.progress
      .filter((p) => p.id !== s.id)
      .map((p) => [
        p.id,
        p.isLearner ? "learner" : "voter",
        p.state,
        String(p.match),
        String(p.lagEntries),
        String(p.lagBytes),
        p.recentActive ? "yes" : "no",
      ]),
  );

const statusRow = (endpoint: string, s: ClusterStatus) => [
  endpoint,
  s.id,
  s.role,
  String(s.term),
  dash(s.leaderId),
  String(s.commitIndex),
  String(s.appliedIndex),
  dash(s.ovnSyncState),
];
const statusHeaders = ["ENDPOINT", "ID", "ROLE", "TERM", "LEADER", "COMMIT", "APPLIED", "OVN SYNC"];

const one = <T>(v: T, render: (xs: T[]) => string): Output => ({
  json: jsonOf(v),
  table: render([v]),
});
const many = <T>(vs: T[], render: (xs: T[]) => string): Output => ({
  json: jsonOf(vs),
  table: render(vs),
});
const done = (text: string): Output => ({ json: {}, table: `${text}\n` });

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

// -- commands -----------------------------------------------------------------------------------

function subnetId(ctx: Ctx, id: string): string {
  return id.includes("/") ? id : `${ctx.org}/${ctx.project}/${id}`;
}
const vpcId = (ctx: Ctx) => ctx.flags.vpc ?? `${ctx.org}/${ctx.project}`;
const pageSize = (ctx: Ctx) => int("page-size", ctx.flags["page-size"]);

function reservedRanges(v: string | undefined): { start: string; end: string }[] | undefined {
  return list(v)?.map((r) => {
    const [start, end, extra] = r.split("-");
    if (start === undefined || start === "" || extra !== undefined) {
      throw new UsageError(`--reserved: expected START-END, got "${r}"`);
    }
    return { start, end: end === undefined || end === "" ? start : end };
  });
}

/** After the status rows: the progress of the members as one leader reports it (none: ""). */
function leaderProgress(rows: EndpointStatus[]): string {
  const leader = rows.find((r) => r.status?.role === "leader" && r.status.progress.length > 1);
  if (leader?.status === undefined) return "";
  return `\nreplication (leader ${leader.status.id}):\n${progressTable(leader.status)}`;
}

const commands: Record<string, Command> = {
  "vpc create": {
    args: [],
    flags: ["name", "cidr", "ipv6-cidr"],
    required: ["name"],
    tenant: true,
    run: async (c) =>
      one(
        await c
          .net()
          .createVpc({ name: c.flags.name, cidr: c.flags.cidr, ipv6Cidr: c.flags["ipv6-cidr"] }),
        vpcTable,
      ),
  },
  "vpc get": {
    args: ["id?"],
    flags: [],
    tenant: true,
    run: async (c) => one(await c.net().getVpc({ vpcId: c.args[0] }), vpcTable),
  },
  "vpc list": {
    args: [],
    flags: ["page-size"],
    tenant: true,
    run: async (c) => many(await collect(c.net().listAllVpcs({ pageSize: pageSize(c) })), vpcTable),
  },
  "vpc delete": {
    args: ["id?"],
    flags: ["cascade"],
    tenant: true,
    run: async (c) => {
      const id = c.args[0] ?? `${c.org}/${c.project}`;
      await c.net().deleteVpc({ vpcId: id, cascade: c.flags.cascade });
      return done(`deleted vpc ${id}`);
    },
  },
  "subnet create": {
    args: [],
    flags: ["name", "cidr", "vpc", "gateway", "dns", "no-dhcp", "mtu", "reserved"],
    required: ["name", "cidr"],
    tenant: true,
    run: async (c) =>
      one(
        await c.net().createSubnet({
          vpcId: vpcId(c),
          name: c.flags.name,
          cidr: c.flags.cidr,
          gatewayIp: c.flags.gateway,
          dnsServers: list(c.flags.dns),
          dhcpEnabled: !c.flags["no-dhcp"],
          mtu: int("mtu", c.flags.mtu),
          reservedRanges: reservedRanges(c.flags.reserved),
        }),
        subnetTable,
      ),
  },
  "subnet get": {
    args: ["id"],
    flags: [],
    tenant: true,
    run: async (c) =>
      one(await c.net().getSubnet({ subnetId: subnetId(c, c.args[0]!) }), subnetTable),
  },
  "subnet list": {
    args: [],
    flags: ["vpc", "page-size"],
    tenant: true,
    run: async (c) =>
      many(
        await collect(c.net().listAllSubnets({ vpcId: c.flags.vpc, pageSize: pageSize(c) })),
        subnetTable,
      ),
  },
  "subnet update": {
    args: ["id"],
    flags: ["dns", "dhcp", "mtu"],
    tenant: true,
    run: async (c) => {
      const dhcp = onOff("dhcp", c.flags.dhcp);
      const mtu = int("mtu", c.flags.mtu);
      if (c.flags.dns === undefined && dhcp === undefined && mtu === undefined) {
        throw new UsageError("subnet update: give at least one of --dns, --dhcp, --mtu");
      }
      return one(
        await c.net().updateSubnet({
          subnetId: subnetId(c, c.args[0]!),
          updateDnsServers: c.flags.dns !== undefined,
          dnsServers: list(c.flags.dns),
          updateDhcpEnabled: dhcp !== undefined,
          dhcpEnabled: dhcp,
          updateMtu: mtu !== undefined,
          mtu,
        }),
        subnetTable,
      );
    },
  },
  "subnet delete": {
    args: ["id"],
    flags: [],
    tenant: true,
    run: async (c) => {
      const id = subnetId(c, c.args[0]!);
      await c.net().deleteSubnet({ subnetId: id });
      return done(`deleted subnet ${id}`);
    },
  },
  "port create": {
    args: [],
    flags: ["subnet", "vm", "mac", "ip", "sg"],
    required: ["subnet"],
    tenant: true,
    run: async (c) =>
      one(
        await c.net().createPort({
          subnetId: subnetId(c, c.flags.subnet!),
          vmId: c.flags.vm,
          macAddress: c.flags.mac,
          ipAddress: c.flags.ip,
          securityGroupIds: list(c.flags.sg),
        }),
        portTable,
      ),
  },
  "port get": {
    args: ["id"],
    flags: [],
    tenant: true,
    run: async (c) => one(await c.net().getPort({ portId: c.args[0] }), portTable),
  },
  "port list": {
    args: [],
    flags: ["subnet", "vm", "page-size"],
    tenant: true,
    run: async (c) =>
      many(
        await collect(
          c.net().listAllPorts({
            subnetId: c.flags.subnet === undefined ? undefined : subnetId(c, c.flags.subnet),
            vmId: c.flags.vm,
            pageSize: pageSize(c),
          }),
        ),
        portTable,
      ),
  },
  "port delete": {
    args: ["id"],
    flags: [],
    tenant: true,
    run: async (c) => {
      await c.net().deletePort({ portId: c.args[0] });
      return done(`deleted port ${c.args[0]}`);
    },
  },
  "port attach": {
    args: ["id"],
    flags: ["vm"],
    required: ["vm"],
    tenant: true,
    run: async (c) =>
      one(await c.net().attachPort({ portId: c.args[0], vmId: c.flags.vm }), portTable),
  },
  "port detach": {
    args: ["id"],
    flags: ["vm"],
    tenant: true,
    run: async (c) => {
      await c.net().detachPort({ portId: c.args[0], vmId: c.flags.vm });
      return done(`detached port ${c.args[0]}`);
    },
  },
  "port update": {
    args: ["id"],
    flags: ["sg"],
    required: ["sg"],
    tenant: true,
    run: async (c) =>
      one(
        await c.net().updatePort({ portId: c.args[0], securityGroupIds: list(c.flags.sg) }),
        portTable,
      ),
  },
  "sg create": {
    args: [],
    flags: ["name", "description", "no-default-egress"],
    required: ["name"],
    tenant: true,
    run: async (c) => {
      const g = await c.net().createSecurityGroup({
        name: c.flags.name,
        description: c.flags.description,
        noDefaultEgress: c.flags["no-default-egress"],
      });
      return { json: jsonOf(g), table: groupDetail(g) };
    },
  },
  "sg get": {
    args: ["id"],
    flags: [],
    tenant: true,
    run: async (c) => {
      const g = await c.net().getSecurityGroup({ securityGroupId: c.args[0] });
      return { json: jsonOf(g), table: groupDetail(g) };
    },
  },
  "sg list": {
    args: [],
    flags: ["page-size"],
    tenant: true,
    run: async (c) =>
      many(await collect(c.net().listAllSecurityGroups({ pageSize: pageSize(c) })), groupTable),
  },
  "sg delete": {
    args: ["id"],
    flags: [],
    tenant: true,
    run: async (c) => {
      await c.net().deleteSecurityGroup({ securityGroupId: c.args[0] });
      return done(`deleted security group ${c.args[0]}`);
    },
  },
  "sg rule add": {
    args: ["sg"],
    flags: ["direction", "protocol", "ports", "cidr", "source-group"],
    required: ["direction", "protocol"],
    tenant: true,
    run: async (c) => {
      const direction =
        c.flags.direction === "ingress"
          ? Direction.DIRECTION_INGRESS
          : c.flags.direction === "egress"
            ? Direction.DIRECTION_EGRESS
            : undefined;
      if (direction === undefined) {
        throw new UsageError(`--direction: expected ingress or egress, got "${c.flags.direction}"`);
      }
      if (c.flags.cidr !== undefined && c.flags["source-group"] !== undefined) {
        throw new UsageError("give either --cidr or --source-group, not both");
      }
      const group = c.flags["source-group"];
      const g = await c.net().addSecurityGroupRule({
        securityGroupId: c.args[0],
        direction,
        rule: {
          protocol: protocol(c.flags.protocol, ["tcp", "udp", "icmp", "all"]),
          portRange: portRange(c.flags.ports),
          sourceType:
            group !== undefined
              ? SourceType.SOURCE_TYPE_SECURITY_GROUP
              : SourceType.SOURCE_TYPE_CIDR,
          source: group ?? c.flags.cidr ?? "0.0.0.0/0",
        },
      });
      return { json: jsonOf(g), table: groupDetail(g) };
    },
  },
  "sg rule remove": {
    args: ["sg", "rule"],
    flags: [],
    tenant: true,
    run: async (c) => {
      const g = await c
        .net()
        .removeSecurityGroupRule({ securityGroupId: c.args[0], ruleId: c.args[1] });
      return { json: jsonOf(g), table: groupDetail(g) };
    },
  },
  "snat create": {
    args: [],
    flags: ["vpc", "external-ip"],
    tenant: true,
    run: async (c) =>
      one(
        await c.net().createSnat({ vpcId: vpcId(c), externalIp: c.flags["external-ip"] }),
        snatTable,
      ),
  },
  "snat get": {
    args: [],
    flags: ["vpc"],
    tenant: true,
    run: async (c) => one(await c.net().getSnat({ vpcId: vpcId(c) }), snatTable),
  },
  "snat delete": {
    args: [],
    flags: ["vpc"],
    tenant: true,
    run: async (c) => {
      await c.net().deleteSnat({ vpcId: vpcId(c) });
      return done(`deleted snat of ${vpcId(c)}`);
    },
  },
  "dnat create": {
    args: [],
    flags: ["vpc", "external-ip", "external-port", "internal-ip", "internal-port", "protocol"],
    required: ["internal-ip", "protocol"],
    tenant: true,
    run: async (c) => {
      const proto = protocol(c.flags.protocol, ["tcp", "udp", "all"]);
      // --protocol all: a 1:1 DNAT, ports 0 (the server refuses any other port).
      const portFlag = (name: "external-port" | "internal-port") => {
        const v = int(name, c.flags[name], 65535);
        if (v === undefined && proto !== Protocol.PROTOCOL_ALL)
          throw new UsageError(`--${name} is required with --protocol tcp|udp`);
        return v ?? 0;
      };
      return one(
        await c.net().createDnat({
          vpcId: vpcId(c),
          externalIp: c.flags["external-ip"],
          externalPort: portFlag("external-port"),
          internalIp: c.flags["internal-ip"],
          internalPort: portFlag("internal-port"),
          protocol: proto,
        }),
        dnatTable,
      );
    },
  },
  "dnat list": {
    args: [],
    flags: ["vpc", "page-size"],
    tenant: true,
    run: async (c) =>
      many(
        await collect(c.net().listAllDnats({ vpcId: vpcId(c), pageSize: pageSize(c) })),
        dnatTable,
      ),
  },
  "dnat delete": {
    args: ["id"],
    flags: [],
    tenant: true,
    run: async (c) => {
      await c.net().deleteDnat({ dnatId: c.args[0] });
      return done(`deleted dnat ${c.args[0]}`);
    },
  },
  "cluster status": {
    args: [],
    flags: ["endpoint"],
    tenant: false,
    run: async (c) => {
      let rows: EndpointStatus[];
      if (c.flags.endpoint !== undefined) {
        const endpoint = c.flags.endpoint;
        rows = [{ endpoint, status: await c.cluster().status({ endpoint }) }];
      } else {
        rows = await c.cluster().statusAll();
        if (rows.every((r) => r.error !== undefined)) throw rows[0]!.error!;
      }
      return {
        json: jsonOf(
          rows.map((r) => (r.error ? { endpoint: r.endpoint, error: r.error.toJSON() } : r)),
        ),
        table:
          table(
            statusHeaders,
            rows.map((r) =>
              r.status !== undefined
                ? statusRow(r.endpoint, r.status)
                : [r.endpoint, "-", "unreachable", "-", "-", "-", "-", "-"],
            ),
          ) +
          rows
            .filter((r) => r.error !== undefined)
            .map((r) => `${r.endpoint}: ${r.error?.code}: ${r.error?.message}\n`)
            .join("") +
          leaderProgress(rows),
      };
    },
  },
  "cluster members": {
    args: [],
    flags: [],
    tenant: false,
    run: async (c) => {
      const r = await c.cluster().members();
      return { json: jsonOf(r), table: membersTable(r) };
    },
  },
  "cluster add-learner": {
    args: [],
    flags: ["id", "peer-address", "api-address"],
    required: ["id", "peer-address", "api-address"],
    tenant: false,
    run: async (c) => {
      const r = await c.cluster().addLearner({
        id: c.flags.id!,
        peerAddress: c.flags["peer-address"]!,
        apiAddress: c.flags["api-address"]!,
      });
      return { json: jsonOf(r), table: membersTable(r) };
    },
  },
  "cluster promote": {
    args: ["id"],
    flags: [],
    tenant: false,
    run: async (c) => {
      const r = await c.cluster().promote(c.args[0]!);
      return { json: jsonOf(r), table: membersTable(r) };
    },
  },
  "cluster remove": {
    args: ["id"],
    flags: [],
    tenant: false,
    run: async (c) => {
      const r = await c.cluster().remove(c.args[0]!);
      return { json: jsonOf(r), table: membersTable(r) };
    },
  },
  "cluster transfer-leader": {
    args: ["id?"],
    flags: [],
    tenant: false,
    run: async (c) => {
      const s = await c.cluster().transferLeadership(c.args[0] ?? "");
      return {
        json: jsonOf(s),
        table: table(statusHeaders, [statusRow(c.cluster().leader ?? "-", s)]),
      };
    },
  },
  "cluster snapshot": {
    args: [],
    flags: ["endpoint"],
    tenant: false,
    run: async (c) => {
      const r = await c.cluster().snapshot({ endpoint: c.flags.endpoint });
      return {
        json: jsonOf(r),
        table: table(
          ["INDEX", "TERM", "BYTES"],
          [[String(r.index), String(r.term), String(r.bytes)]],
        ),
      };
    },
  },
  "cluster backup": {
    args: ["file"],
    flags: ["endpoint"],
    tenant: false,
    run: async (c) => {
      const r = await c.cluster().saveBackup(c.args[0]!, { endpoint: c.flags.endpoint });
      return {
        json: jsonOf(r),
        table: table(
          ["FILE", "BYTES", "APPLIED INDEX", "CLUSTER", "SHA256"],
          [[r.path, String(r.bytes), String(r.appliedIndex), r.clusterId, r.sha256]],
        ),
      };
    },
  },
};

const resources = [...new Set(Object.keys(commands).map((k) => k.split(" ")[0]!))];

function readPem(flag: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError(`--${flag}: cannot read ${path}: ${(e as Error).message}`);
  }
}

/** Runs novanetctl with `argv` (without node and script). Resolves with the exit code. */
export async function main(argv: string[], io: Partial<CliIO> = {}): Promise<number> {
  const out = io.stdout ?? ((s: string) => void process.stdout.write(s));
  const err = io.stderr ?? ((s: string) => void process.stderr.write(s));
  const env = io.env ?? process.env;
  const usageError = (message: string) => {
    err(`novanetctl: ${message}\n\n${usage}`);
    return 1;
  };

  let flags: Flags;
  let positionals: string[];
  try {
    const parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    flags = parsed.values as Flags;
    positionals = parsed.positionals;
  } catch (e) {
    return usageError((e as Error).message);
  }
  if (flags.help) {
    out(usage);
    return 0;
  }
  if (positionals.length === 0) return usageError("missing <resource> <verb>");
  const [resource, ...rest] = positionals;
  if (!resources.includes(resource!)) {
    return usageError(`unknown resource "${resource}" (one of ${resources.join(", ")})`);
  }
  let key = `${resource} ${rest[0] ?? ""}`;
  let args = rest.slice(1);
  if (resource === "sg" && rest[0] === "rule") {
    key = `sg rule ${rest[1] ?? ""}`;
    args = rest.slice(2);
  }
  const command = commands[key];
  if (command === undefined) {
    const verbs = Object.keys(commands)
      .filter((k) => k.startsWith(`${resource} `))
      .map((k) => k.slice(resource!.length + 1));
    return usageError(
      rest[0] === undefined
        ? `${resource}: missing verb (one of ${verbs.join(", ")})`
        : `${resource}: unknown verb "${key.slice(resource!.length + 1).trim()}" (one of ${verbs.join(", ")})`,
    );
  }

  try {
    for (const name of Object.keys(flags) as (keyof Flags)[]) {
      if (!(globalFlags as readonly string[]).includes(name) && !command.flags.includes(name)) {
        throw new UsageError(`${key}: unknown flag --${name}`);
      }
    }
    for (const name of command.required ?? []) {
      if (flags[name] === undefined) throw new UsageError(`${key}: --${name} is required`);
    }
    const needed = command.args.filter((a) => !a.endsWith("?")).length;
    if (args.length < needed) {
      throw new UsageError(
        `${key}: missing ${command.args
          .slice(args.length)
          .filter((a) => !a.endsWith("?"))
          .map((a) => a.toUpperCase())
          .join(" ")}`,
      );
    }
    if (args.length > command.args.length) {
      throw new UsageError(`${key}: unexpected argument "${args[command.args.length]}"`);
    }
    const output = flags.output ?? "table";
    if (output !== "table" && output !== "json") {
      throw new UsageError(`-o: expected table or json, got "${output}"`);
    }
    const endpoints = (flags.endpoints ?? env.NOVANET_ENDPOINTS ?? defaultEndpoint)
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    if (endpoints.length === 0) throw new UsageError("--endpoints: no endpoint given");
    const org = flags.org ?? env.NOVANET_ORG ?? "";
    const project = flags.project ?? env.NOVANET_PROJECT ?? "";
    if (command.tenant && (org === "" || project === "")) {
      throw new UsageError(
        `${key}: --org and --project are required (or NOVANET_ORG, NOVANET_PROJECT)`,
      );
    }
    const deadlineMs = int("timeout", flags.timeout);
    if (deadlineMs === 0) throw new UsageError("--timeout must be positive");
    const token = flags.token ?? env.NOVANET_TOKEN;
    let tls: TlsOptions | undefined;
    if (
      flags.tls ||
      flags.ca !== undefined ||
      flags.cert !== undefined ||
      flags.key !== undefined
    ) {
      if ((flags.cert === undefined) !== (flags.key === undefined)) {
        throw new UsageError("--cert and --key go together");
      }
      tls = {
        ca: readPem("ca", flags.ca),
        cert: readPem("cert", flags.cert),
        key: readPem("key", flags.key),
      };
    }
    const common = {
      endpoints,
      token: token === "" ? undefined : token,
      tls,
      deadlineMs,
    };

    let net: NetworkClient | undefined;
    let cluster: ClusterClient | undefined;
    const ctx: Ctx = {
      flags,
      args,
      org,
      project,
      net: () => {
        net ??= NetworkClient.connect({
          ...common,
          orgId: org,
          projectId: project,
          consistency: flags.stale ? Consistency.CONSISTENCY_STALE : undefined,
        });
        return net;
      },
      cluster: () => {
        cluster ??= ClusterClient.connect(common);
        return cluster;
      },
    };
    try {
      const result = await command.run(ctx);
      out(output === "json" ? `${JSON.stringify(result.json, null, 2)}\n` : result.table);
      return 0;
    } finally {
      net?.close();
      cluster?.close();
    }
  } catch (e) {
    if (e instanceof UsageError) return usageError(e.message);
    if (e instanceof NovanetError) {
      err(`error: ${e.code}: ${e.message}\n`);
      return 2;
    }
    err(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
