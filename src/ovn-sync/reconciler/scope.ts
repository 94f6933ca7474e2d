// Which VPCs an applied command may have changed. The VPC id is "{org_id}/{project_id}": one VPC
// per project, and every tenant object (subnet, port, group, NAT) lives in its project's VPC.

import type { Command } from "../../statemachine/index.js";
import type { SyncScope } from "../contract.js";

export function scopeOfCommand(command: Command): SyncScope {
  switch (command.type) {
    case "Bootstrap":
      return { kind: "all" };
    case "RegisterClient":
    case "CloseSession":
      return { kind: "none" };
    case "CreateVpc":
    case "DeleteVpc":
    case "CreateSubnet":
    case "UpdateSubnet":
    case "DeleteSubnet":
    case "CreatePort":
    case "UpdatePort":
    case "DeletePort":
    case "AttachPort":
    case "DetachPort":
    case "CreateSecurityGroup":
    case "UpdateSecurityGroup":
    case "AddSecurityRule":
    case "RemoveSecurityRule":
    case "DeleteSecurityGroup":
    case "CreateSnat":
    case "DeleteSnat":
    case "CreateDnat":
    case "DeleteDnat":
      return { kind: "vpcs", vpcIds: [`${command.org_id}/${command.project_id}`] };
    default: {
      const never: never = command;
      throw new Error(`scopeOfCommand: unknown command ${JSON.stringify(never)}`);
    }
  }
}
