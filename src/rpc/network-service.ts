// NetworkService: each call is authenticated and checked against the caller's tenant, turned
// into a command (identifiers and MACs chosen here, before proposing) or a query, and answered
// with the generated message types. Errors go through status.ts only.
import { randomBytes, randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type * as pb from "../api/gen/novanet/v1/network.js";
import {
  appliedIndexMetadata,
  leaderAddressMetadata,
  leaderIdMetadata,
  requestIdMetadata,
} from "../api/protocol.js";
import {
  type Command,
  type CommandValues,
  generateMacAddress,
  type Port,
  type Queries,
  type Result,
  type Scope,
} from "../statemachine/index.js";
import {
  directionOf,
  dnatToProto,
  natProtocolOf,
  type PortOvnStatus,
  portToProto,
  ruleSpecOf,
  securityGroupToProto,
  snatToProto,
  subnetToProto,
  vpcToProto,
} from "./convert.js";
import type { Proposer } from "./proposer.js";
import type { Reader } from "./reader.js";
import { RpcError, toServiceError } from "./status.js";

/** Authentication and tenant/admin authorization of a call (src/rpc/auth). */
export interface CallAuth {
  /** Any authenticated caller. */
  caller(md: grpc.Metadata): Promise<void>;
  /** A caller whose token's tenant is exactly (orgId, projectId). */
  tenant(md: grpc.Metadata, orgId: string, projectId: string): Promise<void>;
  admin(md: grpc.Metadata): Promise<void>;
}

export interface NetworkServiceDeps {
  proposer: Proposer;
  reader: Reader;
  auth: CallAuth;
  logger: Logger;
  /** OVN status of a port, from the OVN sync (undefined when not known). */
  portStatus?: (portId: string) => PortOvnStatus | undefined;
  /** Whether this replica's state has the MAC in the VPC (to avoid proposing a taken one). */
  macInUse?: (vpcId: string, mac: string) => boolean;
  /** Upper bound of a call's deadline. */
  callTimeoutMsMax: number;
  /** Observes every call: method, result code ("OK" or the domain code), seconds. */
  onCall?: (rpc: string, code: string, seconds: number) => void;
}

type Reply<T> = { value: T; md: grpc.Metadata };

const macAttemptsMax = 64;

interface TenantRequest {
  orgId: string;
  projectId: string;
}
interface WriteRequest extends TenantRequest {
  clientId: string;
  requestId: number;
}

function deadlineOf(call: grpc.ServerUnaryCall<unknown, unknown>, capMs: number): number {
  const d = call.getDeadline();
  const cap = Date.now() + capMs;
  if (d instanceof Date) return Math.min(d.getTime(), cap);
  if (typeof d === "number" && Number.isFinite(d)) return Math.min(d, cap);
  return cap;
}

export function createNetworkService(deps: NetworkServiceDeps): pb.NetworkServiceServer {
  const { proposer, reader, auth, logger } = deps;

  function unary<Req, Res>(
    name: string,
    fn: (req: Req, call: grpc.ServerUnaryCall<Req, Res>, deadline: number) => Promise<Reply<Res>>,
  ): grpc.handleUnaryCall<Req, Res> {
    return (call, cb) => {
      const deadline = deadlineOf(
        call as grpc.ServerUnaryCall<unknown, unknown>,
        deps.callTimeoutMsMax,
      );
      const started = performance.now();
      const given = call.metadata.get(requestIdMetadata)[0];
      const reqId = typeof given === "string" && given.length <= 128 ? given : randomUUID();
      const done = (code: string, err?: unknown) => {
        const seconds = (performance.now() - started) / 1000;
        deps.onCall?.(name, code, seconds);
        const fields = { reqId, rpc: name, code, ms: Math.round(seconds * 1000) };
        if (code === "OK") logger.debug(fields, "rpc");
        else if (code === "INTERNAL") logger.error({ ...fields, err }, "rpc failed");
        else logger.info(fields, "rpc refused");
      };
      fn(call.request, call, deadline).then(
        (r) => {
          done("OK");
          r.md.set(requestIdMetadata, reqId);
          cb(null, r.value, r.md);
        },
        (err: unknown) => {
          done(err instanceof RpcError ? err.code : "INTERNAL", err);
          const e = toServiceError(err);
          e.metadata?.set(requestIdMetadata, reqId);
          cb(e);
        },
      );
    };
  }

  async function write<T extends Command["type"]>(
    call: grpc.ServerUnaryCall<unknown, unknown>,
    req: WriteRequest,
    deadline: number,
    command: (session: {
      client_id: string;
      request_id: number;
      org_id: string;
      project_id: string;
    }) => Extract<Command, { type: T }>,
  ): Promise<Reply<CommandValues[T]>> {
    await auth.tenant(call.metadata, req.orgId, req.projectId);
    const built = command({
      client_id: req.clientId,
      request_id: req.requestId,
      org_id: req.orgId,
      project_id: req.projectId,
    });
    if (req.clientId !== "" && req.requestId < 1) {
      throw new RpcError("INVALID_ARGUMENT", "request_id must be >= 1 when client_id is set");
    }
    const cmd = await proposer.withSession(built, deadline);
    const p = await proposer.submit(cmd, deadline);
    const md = new grpc.Metadata();
    md.set(leaderIdMetadata, p.leaderId);
    if (p.leaderApiAddress) md.set(leaderAddressMetadata, p.leaderApiAddress);
    if (!p.result.ok) {
      throw new RpcError(p.result.code, p.result.message, {
        leaderId: p.leaderId,
        leaderAddress: p.leaderApiAddress,
      });
    }
    return { value: p.result.value as CommandValues[T], md };
  }

  async function read<T>(
    call: grpc.ServerUnaryCall<unknown, unknown>,
    req: TenantRequest & { consistency: pb.Consistency },
    deadline: number,
    query: (q: Queries, scope: Scope) => Result<T>,
  ): Promise<Reply<T>> {
    await auth.tenant(call.metadata, req.orgId, req.projectId);
    const scope: Scope = { org_id: req.orgId, project_id: req.projectId };
    const out = await reader.read(req.consistency, deadline, (q) => query(q, scope));
    const md = new grpc.Metadata();
    md.set(appliedIndexMetadata, String(out.appliedIndex));
    return { value: out.value, md };
  }

  const portOut = (p: Port): pb.Port => portToProto(p, deps.portStatus?.(p.id));
  // 24 random bits collide often in a big VPC (birthday bound: ~10% at 1,800 ports), and apply
  // refuses a taken MAC; so skip the ones this replica already sees taken. Only a MAC taken by
  // a concurrent, not yet applied proposal can still collide.
  const freshMac = (vpcId: string): string => {
    let mac = generateMacAddress(randomBytes(3));
    for (let i = 0; i < macAttemptsMax && deps.macInUse?.(vpcId, mac) === true; i++) {
      mac = generateMacAddress(randomBytes(3));
    }
    return mac;
  };
  const page = (req: { pageSize: number; pageToken: string }) => ({
    ...(req.pageSize > 0 ? { page_size: req.pageSize } : {}),
    ...(req.pageToken !== "" ? { page_token: req.pageToken } : {}),
  });
  const empty = <T>(r: Reply<T>): Reply<pb.Empty> => ({ value: {}, md: r.md });
  /** A vpc_id filter naming another VPC than the project's own (which is "{org}/{project}"). */
  const otherVpc = (req: { orgId: string; projectId: string; vpcId: string }) =>
    req.vpcId !== "" && req.vpcId !== `${req.orgId}/${req.projectId}`;
  /** Another tenant's VPC is reported exactly as a missing one. */
  const vpcNotFound = (vpcId: string) =>
    ({ ok: false, code: "NOT_FOUND", message: `VPC ${vpcId} not found` }) as const;
  const newId = () => randomUUID();

  return {
    // --- VPC -------------------------------------------------------------------------------
    createVpc: unary("CreateVpc", async (req: pb.CreateVpcRequest, call, deadline) => {
      const r = await write<"CreateVpc">(call, req, deadline, (s) => ({
        type: "CreateVpc",
        ...s,
        name: req.name,
        ...(req.cidr !== "" ? { cidr: req.cidr } : {}),
        ...(req.ipv6Cidr !== "" ? { ipv6_cidr: req.ipv6Cidr } : {}),
      }));
      return { value: vpcToProto(r.value.vpc), md: r.md };
    }),
    getVpc: unary("GetVpc", async (req: pb.GetVpcRequest, call, deadline) => {
      const vpcId = req.vpcId !== "" ? req.vpcId : `${req.orgId}/${req.projectId}`;
      const r = await read(call, req, deadline, (q, scope) => q.getVpc(scope, vpcId));
      return { value: vpcToProto(r.value), md: r.md };
    }),
    listVpcs: unary("ListVpcs", async (req: pb.ListVpcsRequest, call, deadline) => {
      const r = await read(call, req, deadline, (q, scope) => q.listVpcs(scope, page(req)));
      return {
        value: { vpcs: r.value.items.map(vpcToProto), nextPageToken: r.value.next_page_token },
        md: r.md,
      };
    }),
    deleteVpc: unary("DeleteVpc", async (req: pb.DeleteVpcRequest, call, deadline) => {
      const vpcId = req.vpcId !== "" ? req.vpcId : `${req.orgId}/${req.projectId}`;
      return empty(
        await write<"DeleteVpc">(call, req, deadline, (s) => ({
          type: "DeleteVpc",
          ...s,
          vpc_id: vpcId,
          ...(req.cascade ? { cascade: true } : {}),
        })),
      );
    }),

    // --- Subnet ----------------------------------------------------------------------------
    createSubnet: unary("CreateSubnet", async (req: pb.CreateSubnetRequest, call, deadline) => {
      const vpcId = req.vpcId !== "" ? req.vpcId : `${req.orgId}/${req.projectId}`;
      const r = await write<"CreateSubnet">(call, req, deadline, (s) => ({
        type: "CreateSubnet",
        ...s,
        vpc_id: vpcId,
        name: req.name,
        cidr: req.cidr,
        dhcp_enabled: req.dhcpEnabled,
        dns_servers: req.dnsServers,
        ...(req.gatewayIp !== "" ? { gateway_ip: req.gatewayIp } : {}),
        ...(req.mtu !== 0 ? { mtu: req.mtu } : {}),
        ...(req.reservedRanges.length > 0
          ? { reserved_ranges: req.reservedRanges.map((x) => ({ start: x.start, end: x.end })) }
          : {}),
      }));
      return { value: subnetToProto(r.value), md: r.md };
    }),
    getSubnet: unary("GetSubnet", async (req: pb.GetSubnetRequest, call, deadline) => {
      const r = await read(call, req, deadline, (q, scope) => q.getSubnet(scope, req.subnetId));
      return { value: subnetToProto(r.value), md: r.md };
    }),
    listSubnets: unary("ListSubnets", async (req: pb.ListSubnetsRequest, call, deadline) => {
      // A project has exactly one VPC: a vpc_id filter keeps everything or nothing.
      const r = await read(call, req, deadline, (q, scope) =>
        otherVpc(req) ? vpcNotFound(req.vpcId) : q.listSubnets(scope, page(req)),
      );
      return {
        value: {
          subnets: r.value.items.map(subnetToProto),
          nextPageToken: r.value.next_page_token,
        },
        md: r.md,
      };
    }),
    deleteSubnet: unary("DeleteSubnet", async (req: pb.DeleteSubnetRequest, call, deadline) =>
      empty(
        await write<"DeleteSubnet">(call, req, deadline, (s) => ({
          type: "DeleteSubnet",
          ...s,
          subnet_id: req.subnetId,
        })),
      ),
    ),
    updateSubnet: unary("UpdateSubnet", async (req: pb.UpdateSubnetRequest, call, deadline) => {
      const r = await write<"UpdateSubnet">(call, req, deadline, (s) => ({
        type: "UpdateSubnet",
        ...s,
        subnet_id: req.subnetId,
        ...(req.updateDnsServers ? { dns_servers: req.dnsServers } : {}),
        ...(req.updateDhcpEnabled ? { dhcp_enabled: req.dhcpEnabled } : {}),
        ...(req.updateMtu ? { mtu: req.mtu === 0 ? null : req.mtu } : {}),
      }));
      return { value: subnetToProto(r.value), md: r.md };
    }),

    // --- Port ------------------------------------------------------------------------------
    createPort: unary("CreatePort", async (req: pb.CreatePortRequest, call, deadline) => {
      const r = await write<"CreatePort">(call, req, deadline, (s) => ({
        type: "CreatePort",
        ...s,
        port_id: newId(),
        subnet_id: req.subnetId,
        mac_address:
          req.macAddress !== "" ? req.macAddress : freshMac(`${s.org_id}/${s.project_id}`),
        ...(req.ipAddress !== "" ? { ip_address: req.ipAddress } : {}),
        ...(req.securityGroupIds.length > 0 ? { security_group_ids: req.securityGroupIds } : {}),
        ...(req.vmId !== "" ? { vm_id: req.vmId } : {}),
      }));
      return { value: portOut(r.value), md: r.md };
    }),
    getPort: unary("GetPort", async (req: pb.GetPortRequest, call, deadline) => {
      const r = await read(call, req, deadline, (q, scope) => q.getPort(scope, req.portId));
      return { value: portOut(r.value), md: r.md };
    }),
    listPorts: unary("ListPorts", async (req: pb.ListPortsRequest, call, deadline) => {
      const r = await read(call, req, deadline, (q, scope) =>
        q.listPorts(
          scope,
          {
            ...(req.subnetId !== "" ? { subnet_id: req.subnetId } : {}),
            ...(req.vmId !== "" ? { vm_id: req.vmId } : {}),
          },
          page(req),
        ),
      );
      return {
        value: { ports: r.value.items.map(portOut), nextPageToken: r.value.next_page_token },
        md: r.md,
      };
    }),
    deletePort: unary("DeletePort", async (req: pb.DeletePortRequest, call, deadline) =>
      empty(
        await write<"DeletePort">(call, req, deadline, (s) => ({
          type: "DeletePort",
          ...s,
          port_id: req.portId,
        })),
      ),
    ),
    attachPort: unary("AttachPort", async (req: pb.AttachPortRequest, call, deadline) => {
      const r = await write<"AttachPort">(call, req, deadline, (s) => ({
        type: "AttachPort",
        ...s,
        port_id: req.portId,
        vm_id: req.vmId,
      }));
      return { value: portOut(r.value), md: r.md };
    }),
    detachPort: unary("DetachPort", async (req: pb.DetachPortRequest, call, deadline) =>
      empty(
        await write<"DetachPort">(call, req, deadline, (s) => ({
          type: "DetachPort",
          ...s,
          port_id: req.portId,
          ...(req.vmId !== "" ? { vm_id: req.vmId } : {}),
        })),
      ),
    ),
    updatePort: unary("UpdatePort", async (req: pb.UpdatePortRequest, call, deadline) => {
      const r = await write<"UpdatePort">(call, req, deadline, (s) => ({
        type: "UpdatePort",
        ...s,
        port_id: req.portId,
        security_group_ids: req.securityGroupIds,
      }));
      return { value: portOut(r.value), md: r.md };
    }),

    // --- Security groups -------------------------------------------------------------------
    createSecurityGroup: unary(
      "CreateSecurityGroup",
      async (req: pb.CreateSecurityGroupRequest, call, deadline) => {
        const r = await write<"CreateSecurityGroup">(call, req, deadline, (s) => ({
          type: "CreateSecurityGroup",
          ...s,
          name: req.name,
          description: req.description,
          ingress_rules: req.ingressRules.map((x, i) =>
            ruleSpecOf(x, `ingress_rules[${i}]`, newId),
          ),
          ...(req.egressRules.length > 0 || req.noDefaultEgress
            ? {
                egress_rules: req.egressRules.map((x, i) =>
                  ruleSpecOf(x, `egress_rules[${i}]`, newId),
                ),
              }
            : {}),
        }));
        return { value: securityGroupToProto(r.value), md: r.md };
      },
    ),
    getSecurityGroup: unary(
      "GetSecurityGroup",
      async (req: pb.GetSecurityGroupRequest, call, deadline) => {
        const r = await read(call, req, deadline, (q, scope) =>
          q.getSecurityGroup(scope, req.securityGroupId),
        );
        return { value: securityGroupToProto(r.value), md: r.md };
      },
    ),
    listSecurityGroups: unary(
      "ListSecurityGroups",
      async (req: pb.ListSecurityGroupsRequest, call, deadline) => {
        const r = await read(call, req, deadline, (q, scope) =>
          q.listSecurityGroups(scope, page(req)),
        );
        return {
          value: {
            securityGroups: r.value.items.map(securityGroupToProto),
            nextPageToken: r.value.next_page_token,
          },
          md: r.md,
        };
      },
    ),
    updateSecurityGroup: unary(
      "UpdateSecurityGroup",
      async (req: pb.UpdateSecurityGroupRequest, call, deadline) => {
        const r = await write<"UpdateSecurityGroup">(call, req, deadline, (s) => ({
          type: "UpdateSecurityGroup",
          ...s,
          security_group_id: req.securityGroupId,
          ...(req.description !== "" ? { description: req.description } : {}),
          ingress_rules: req.ingressRules.map((x, i) =>
            ruleSpecOf(x, `ingress_rules[${i}]`, newId),
          ),
          egress_rules: req.egressRules.map((x, i) => ruleSpecOf(x, `egress_rules[${i}]`, newId)),
        }));
        return { value: securityGroupToProto(r.value), md: r.md };
      },
    ),
    deleteSecurityGroup: unary(
      "DeleteSecurityGroup",
      async (req: pb.DeleteSecurityGroupRequest, call, deadline) =>
        empty(
          await write<"DeleteSecurityGroup">(call, req, deadline, (s) => ({
            type: "DeleteSecurityGroup",
            ...s,
            security_group_id: req.securityGroupId,
          })),
        ),
    ),
    addSecurityGroupRule: unary(
      "AddSecurityGroupRule",
      async (req: pb.AddSecurityGroupRuleRequest, call, deadline) => {
        // Built after the caller is authorized: a bad request from another tenant is refused
        // as PERMISSION_DENIED before anything about it is validated.
        const r = await write<"AddSecurityRule">(call, req, deadline, (s) => {
          if (req.rule === undefined) throw new RpcError("INVALID_ARGUMENT", "rule is required");
          return {
            type: "AddSecurityRule",
            ...s,
            security_group_id: req.securityGroupId,
            direction: directionOf(req.direction),
            rule: ruleSpecOf(req.rule, "rule", newId),
          };
        });
        return { value: securityGroupToProto(r.value), md: r.md };
      },
    ),
    removeSecurityGroupRule: unary(
      "RemoveSecurityGroupRule",
      async (req: pb.RemoveSecurityGroupRuleRequest, call, deadline) => {
        const r = await write<"RemoveSecurityRule">(call, req, deadline, (s) => ({
          type: "RemoveSecurityRule",
          ...s,
          security_group_id: req.securityGroupId,
          rule_id: req.ruleId,
        }));
        return { value: securityGroupToProto(r.value), md: r.md };
      },
    ),

    // --- NAT -------------------------------------------------------------------------------
    createSnat: unary("CreateSnat", async (req: pb.CreateSnatRequest, call, deadline) => {
      const vpcId = req.vpcId !== "" ? req.vpcId : `${req.orgId}/${req.projectId}`;
      const r = await write<"CreateSnat">(call, req, deadline, (s) => ({
        type: "CreateSnat",
        ...s,
        vpc_id: vpcId,
        ...(req.externalIp !== "" ? { external_ip: req.externalIp } : {}),
      }));
      return { value: snatToProto(r.value), md: r.md };
    }),
    deleteSnat: unary("DeleteSnat", async (req: pb.DeleteSnatRequest, call, deadline) => {
      const vpcId = req.vpcId !== "" ? req.vpcId : `${req.orgId}/${req.projectId}`;
      return empty(
        await write<"DeleteSnat">(call, req, deadline, (s) => ({
          type: "DeleteSnat",
          ...s,
          vpc_id: vpcId,
        })),
      );
    }),
    createDnat: unary("CreateDnat", async (req: pb.CreateDnatRequest, call, deadline) => {
      const vpcId = req.vpcId !== "" ? req.vpcId : `${req.orgId}/${req.projectId}`;
      const r = await write<"CreateDnat">(call, req, deadline, (s) => ({
        type: "CreateDnat",
        ...s,
        dnat_id: newId(),
        vpc_id: vpcId,
        ...(req.externalIp !== "" ? { external_ip: req.externalIp } : {}),
        external_port: req.externalPort,
        protocol: natProtocolOf(req.protocol),
        internal_ip: req.internalIp,
        internal_port: req.internalPort,
      }));
      return { value: dnatToProto(r.value), md: r.md };
    }),
    deleteDnat: unary("DeleteDnat", async (req: pb.DeleteDnatRequest, call, deadline) =>
      empty(
        await write<"DeleteDnat">(call, req, deadline, (s) => ({
          type: "DeleteDnat",
          ...s,
          dnat_id: req.dnatId,
        })),
      ),
    ),
    getSnat: unary("GetSnat", async (req: pb.GetSnatRequest, call, deadline) => {
      const vpcId = req.vpcId !== "" ? req.vpcId : `${req.orgId}/${req.projectId}`;
      const r = await read(call, req, deadline, (q, scope) => q.getSnat(scope, vpcId));
      return { value: snatToProto(r.value), md: r.md };
    }),
    listDnats: unary("ListDnats", async (req: pb.ListDnatsRequest, call, deadline) => {
      const r = await read(call, req, deadline, (q, scope) =>
        otherVpc(req) ? vpcNotFound(req.vpcId) : q.listDnats(scope, page(req)),
      );
      return {
        value: { dnats: r.value.items.map(dnatToProto), nextPageToken: r.value.next_page_token },
        md: r.md,
      };
    }),

    // --- Sessions --------------------------------------------------------------------------
    registerClient: unary(
      "RegisterClient",
      async (req: pb.RegisterClientRequest, call, deadline) => {
        // A session is not tenant data; any authenticated caller may open one for itself.
        await auth.caller(call.metadata);
        const p = await proposer.submit(
          { type: "RegisterClient", client_id: req.clientId },
          deadline,
        );
        if (!p.result.ok) throw new RpcError(p.result.code, p.result.message);
        const md = new grpc.Metadata();
        md.set(leaderIdMetadata, p.leaderId);
        if (p.leaderApiAddress) md.set(leaderAddressMetadata, p.leaderApiAddress);
        return { value: { clientId: req.clientId }, md };
      },
    ),
  };
}
