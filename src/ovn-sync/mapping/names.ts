// Deterministic OVN names and MAC addresses. Every name is derived from a SHA-256 of the cluster
// id, a role and the NovaNET id, so that
// - the same state gives the same names on every replica and after every restart;
// - two NovaNET clusters sharing one Northbound database never collide (LSP, LRP, Port_Group,
//   Gateway_Chassis names have a unique index in the NB schema);
// - names stay short and within OVN's character rules whatever the tenant ids contain
//   (ids are "org/project/name" with ".", "-", "/", which Port_Group names may not hold).
// The one exception is the VM port: its Logical_Switch_Port is named by the bare port UUID, the
// iface-id PlasmaVMC sets on the TAP device (ovn-controller binds by that name).

import { createHash } from "node:crypto";

/** Hex characters of the hash kept in names: 80 bits. */
const hashHexLength = 20;

export function digest(...parts: readonly string[]): Buffer {
  const hash = createHash("sha256");
  for (const part of parts) {
    hash.update(part, "utf8");
    hash.update("\0");
  }
  return hash.digest();
}

export function shortHash(clusterId: string, role: string, id: string): string {
  return digest(clusterId, role, id).toString("hex").slice(0, hashHexLength);
}

/** OVN's rule for Port_Group (and so address set) names: a letter, then letters, digits, "_". */
export const portGroupNamePattern = /^[A-Za-z][A-Za-z0-9_]*$/;

export const names = {
  router: (c: string, vpcId: string) => `nvr-${shortHash(c, "router", vpcId)}`,
  switch: (c: string, subnetId: string) => `nvs-${shortHash(c, "switch", subnetId)}`,
  /** The router-type LSP on a subnet's switch; its LRP is "lrp-" + this name (Neutron's form). */
  subnetGatewayPort: (c: string, subnetId: string) => `nvgw-${shortHash(c, "gw", subnetId)}`,
  externalSwitch: (c: string) => `nvx-${shortHash(c, "external", c)}`,
  localnetPort: (c: string) => `nvx-${shortHash(c, "external", c)}-localnet`,
  /** The router-type LSP on the external switch; its LRP is "lrp-" + this name. */
  vpcGatewayPort: (c: string, vpcId: string) => `nvext-${shortHash(c, "ext", vpcId)}`,
  routerPort: (switchPortName: string) => `lrp-${switchPortName}`,
  /** ovn-nbctl's convention for Gateway_Chassis names: "<lrp>_<chassis>". */
  gatewayChassis: (lrpName: string, chassis: string) => `${lrpName}_${chassis}`,
  securityGroup: (c: string, sgId: string) => `nv_sg_${shortHash(c, "sg", sgId)}`,
  /** A VPC's default-deny group. The role differs from the old cluster-wide group's ("drop",
   * hashed over the cluster id), so a VPC's group never takes that name while it still exists. */
  dropGroup: (c: string, vpcId: string) => `nv_drop_${shortHash(c, "vpc-drop", vpcId)}`,
  portForwarding: (c: string, id: string) => `nvpf-${shortHash(c, "pf", id)}`,
} as const;

/** OVN's automatic address sets of a port group. */
export function addressSetOf(portGroupName: string, family: 4 | 6): string {
  return `${portGroupName}_ip${family}`;
}

/** A locally administered unicast MAC derived from the cluster and a key. */
export function derivedMac(clusterId: string, key: string): string {
  const bytes = digest(clusterId, "mac", key);
  const octets = [((bytes[0] ?? 0) & 0xfc) | 0x02, ...bytes.subarray(1, 6)];
  return octets.map((b) => b.toString(16).padStart(2, "0")).join(":");
}

const macPattern = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export function isUnicastMac(mac: string): boolean {
  return (
    macPattern.test(mac) &&
    (Number.parseInt(mac.slice(0, 2), 16) & 1) === 0 &&
    mac !== "00:00:00:00:00:00"
  );
}
