// Semantic checks of identifiers and names. Each returns the canonical form or null.

import { assert } from "./assert.js";
import {
  clientIdLengthMax,
  descriptionLengthMax,
  nameLengthMax,
  ruleIdLengthMax,
  tenantIdLengthMax,
  vmIdLengthMax,
  vpcNameLengthMax,
} from "./limits.js";

const tenantIdPattern = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${tenantIdLengthMax - 1}}$`);
const namePattern = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._-]{0,${nameLengthMax - 1}}$`);
const ruleIdPattern = new RegExp(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,${ruleIdLengthMax - 1}}$`);
const opaqueIdPattern = /^[\x21-\x7e]+$/;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const macPattern = /^[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to reject them.
const controlPattern = /[\x00-\x1f\x7f]/;

/** org_id and project_id: they become parts of resource ids, so no "/". */
export function isTenantId(value: string): boolean {
  return tenantIdPattern.test(value);
}

/** Subnet and security group names: part of their ids ("{org}/{project}/{name}"). */
export function isResourceName(value: string): boolean {
  return namePattern.test(value);
}

export function isVpcName(value: string): boolean {
  return value.length <= vpcNameLengthMax && !controlPattern.test(value);
}

export function isDescription(value: string): boolean {
  return value.length <= descriptionLengthMax && !controlPattern.test(value);
}

export function isRuleId(value: string): boolean {
  return ruleIdPattern.test(value);
}

export function isVmId(value: string): boolean {
  return value.length <= vmIdLengthMax && opaqueIdPattern.test(value);
}

export function isClientId(value: string): boolean {
  return value.length <= clientIdLengthMax && opaqueIdPattern.test(value);
}

/** Canonical (lowercase) UUID, or null. */
export function canonicalUuid(value: string): string | null {
  const lower = value.toLowerCase();
  return uuidPattern.test(lower) ? lower : null;
}

/** Canonical MAC "aa:bb:cc:dd:ee:ff"; null unless a unicast, non-zero MAC. */
export function canonicalMac(value: string): string | null {
  const lower = value.toLowerCase();
  if (!macPattern.test(lower)) return null;
  const canonical = lower.replaceAll("-", ":");
  const firstOctet = Number.parseInt(canonical.slice(0, 2), 16);
  if ((firstOctet & 1) === 1) return null;
  if (canonical === "00:00:00:00:00:00") return null;
  return canonical;
}

/**
 * A MAC for CreatePort, built before proposing from random bytes the caller supplies (the state
 * machine itself has no randomness). The default prefix is OpenStack's base_mac fa:16:3e.
 */
export function generateMacAddress(entropy: Uint8Array, prefix = "fa:16:3e"): string {
  const prefixOctets = prefix.split(":");
  assert(
    prefixOctets.length >= 1 && prefixOctets.length <= 5,
    "MAC prefix must have 1 to 5 octets",
  );
  const needed = 6 - prefixOctets.length;
  assert(entropy.length >= needed, `need ${needed} random bytes`);
  const tail = Array.from(entropy.subarray(0, needed), (b) => b.toString(16).padStart(2, "0"));
  const mac = canonicalMac([...prefixOctets, ...tail].join(":"));
  assert(mac !== null, "prefix must give a unicast MAC");
  return mac;
}
