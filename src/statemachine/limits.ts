// Every structure the state machine keeps is bounded. The bounds below are part of the replicated
// behaviour: changing one changes which commands are accepted, so all replicas must run the same
// values (they are compiled in, not configured). Bounds that operators tune live in NetworkConfig
// and are themselves bounded here (…CeilingMax).

import { assert } from "./assert.js";

/** Encoded command size accepted by decodeCommand. */
export const commandBytesMax = 1 << 20;
/** Length of any string field in a command (names, ids, CIDRs …) before semantic checks. */
export const commandStringLengthMax = 1024;
/** Length of any list in a command before semantic checks. */
export const commandListLengthMax = 1024;

export const tenantIdLengthMax = 64;
export const nameLengthMax = 63;
export const vpcNameLengthMax = 255;
export const descriptionLengthMax = 255;
export const vmIdLengthMax = 128;
export const clientIdLengthMax = 128;
export const ruleIdLengthMax = 64;

export const vpcsMax = 65_536;
export const subnetsPerVpcMax = 256;
export const portsPerVpcMax = 262_144;
export const portsMax = 1_048_576;
export const securityGroupsPerVpcMax = 512;
/** Ingress plus egress rules of one group (AWS: 60 + 60; Neutron quota: 100). */
export const rulesPerSecurityGroupMax = 128;
/** AWS allows up to 16 groups on an interface. */
export const securityGroupsPerPortMax = 16;
/** Neutron's max_dns_nameservers default. */
export const dnsServersMax = 5;
export const reservedRangesPerSubnetMax = 16;
export const dnatsPerVpcMax = 1024;

/** IPv4 subnets and VPCs: from /8 (the largest subnet) to /29 (5 usable addresses). */
export const ipv4PrefixLengthMin = 8;
export const ipv4SubnetPrefixLengthMax = 29;
/** IPv6: VPC blocks /32 … /64, subnets /64 … /126. */
export const ipv6VpcPrefixLengthMin = 32;
export const ipv6VpcPrefixLengthMax = 64;
export const ipv6SubnetPrefixLengthMin = 64;
export const ipv6SubnetPrefixLengthMax = 126;

/**
 * The IPAM bitmap covers at most this many offsets of a subnet. Every IPv4 subnet fits (/8 is
 * 2^24). An IPv6 /64 allocates dynamically from its first 2^24 offsets; static addresses beyond
 * that window are tracked one by one (see ipam.ts).
 */
export const ipamWindowMax = 1 << 24;

export const mtuMin = 68;
export const mtuIpv6Min = 1280;
export const mtuMax = 9216;

/** Bounds on the operator-tuned config values. */
export const cidrPoolBlocksMax = 1 << 16;
export const externalIpPoolSizeMax = 1 << 20;
export const externalIpPoolRangesMax = 64;
export const subnetReservedEdgeMax = 16;
export const sessionsCeilingMax = 65_536;
export const sessionResponsesCeilingMax = 1024;
export const sessionTimeoutMsMin = 1_000;
export const sessionTimeoutMsMax = 30 * 24 * 3_600_000;

export const pageSizeDefault = 100;
export const pageSizeMax = 1000;

// Relations between the constants (checked once at load, like TigerBeetle's comptime blocks).
assert(ipamWindowMax === 2 ** (32 - ipv4PrefixLengthMin), "an IPv4 subnet must fit the window");
assert(ipamWindowMax < 2 ** 30, "bitmap word indexes must stay small integers");
assert(portsPerVpcMax <= portsMax);
assert(pageSizeDefault <= pageSizeMax);
assert(rulesPerSecurityGroupMax <= commandListLengthMax);
assert(sessionTimeoutMsMin < sessionTimeoutMsMax);
