// Addresses and CIDRs. Every address is canonicalised to an integer (number for IPv4 hot paths,
// bigint in general) before it is compared: whereabouts#97 (4- vs 16-byte forms compared as
// different addresses) is the bug class this avoids. Text forms are canonical too: dotted quad
// without leading zeros for IPv4, RFC 5952 for IPv6. ipaddr.js parses and prints IPv6.

import ipaddr from "ipaddr.js";
import { assert } from "./assert.js";

export type IpFamily = 4 | 6;

export interface IpAddress {
  readonly family: IpFamily;
  readonly value: bigint;
}

export interface Cidr {
  readonly family: IpFamily;
  /** The network address. */
  readonly first: bigint;
  readonly prefixLength: number;
  /** Canonical text, e.g. "10.1.0.0/16" or "2001:db8::/64". */
  readonly text: string;
}

const ipv4Pattern = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
const prefixPattern = /^(0|[1-9]\d{0,2})$/;
const ipv6TextLengthMax = 45;

export function familyBits(family: IpFamily): number {
  return family === 4 ? 32 : 128;
}

/** Strict dotted-quad IPv4 ("10.0.0.1"; no octal, hex, short or leading-zero forms). */
export function parseIpv4(text: string): number | null {
  const match = ipv4Pattern.exec(text);
  if (match === null) return null;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(match[i]);
    if (octet > 255) return null;
    value = value * 256 + octet;
  }
  return value;
}

export function formatIpv4(value: number): string {
  assert(Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff, "IPv4 value out of range");
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}

function parseIpv6(text: string): bigint | null {
  if (text.length > ipv6TextLengthMax || text.includes("%") || !text.includes(":")) return null;
  if (!ipaddr.IPv6.isValid(text)) return null;
  let value = 0n;
  for (const part of ipaddr.IPv6.parse(text).parts) value = (value << 16n) | BigInt(part);
  return value;
}

function ipv6Parts(value: bigint): number[] {
  const parts: number[] = [];
  for (let i = 7; i >= 0; i--) parts.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  return parts;
}

export function parseIp(text: string): IpAddress | null {
  if (text.includes(":")) {
    const value = parseIpv6(text);
    return value === null ? null : { family: 6, value };
  }
  const value = parseIpv4(text);
  return value === null ? null : { family: 4, value: BigInt(value) };
}

export function formatIp(family: IpFamily, value: bigint): string {
  if (family === 4) return formatIpv4(Number(value));
  assert(value >= 0n && value < 1n << 128n, "IPv6 value out of range");
  return new ipaddr.IPv6(ipv6Parts(value)).toRFC5952String();
}

/** The canonical text of an address, or null when it does not parse. */
export function canonicalIp(text: string): string | null {
  const address = parseIp(text);
  return address === null ? null : formatIp(address.family, address.value);
}

export type CidrParse = { ok: true; cidr: Cidr } | { ok: false; reason: string };

/** Strict CIDR: "address/prefix" with the host bits zero (AWS and Neutron reject 10.0.0.5/24). */
export function parseCidr(text: string): CidrParse {
  const slash = text.indexOf("/");
  if (slash < 0 || slash !== text.lastIndexOf("/"))
    return { ok: false, reason: "expected address/prefix" };
  const address = parseIp(text.slice(0, slash));
  if (address === null) return { ok: false, reason: "malformed address" };
  const prefixText = text.slice(slash + 1);
  if (!prefixPattern.test(prefixText)) return { ok: false, reason: "malformed prefix length" };
  const prefixLength = Number(prefixText);
  const bits = familyBits(address.family);
  if (prefixLength > bits) return { ok: false, reason: `prefix length above /${bits}` };
  const hostMask = (1n << BigInt(bits - prefixLength)) - 1n;
  if ((address.value & hostMask) !== 0n) return { ok: false, reason: "host bits are set" };
  const canonical = `${formatIp(address.family, address.value)}/${prefixLength}`;
  return {
    ok: true,
    cidr: { family: address.family, first: address.value, prefixLength, text: canonical },
  };
}

export function cidrSize(cidr: Cidr): bigint {
  return 1n << BigInt(familyBits(cidr.family) - cidr.prefixLength);
}

export function cidrLast(cidr: Cidr): bigint {
  return cidr.first + cidrSize(cidr) - 1n;
}

export function cidrContainsIp(cidr: Cidr, address: IpAddress): boolean {
  return (
    address.family === cidr.family && address.value >= cidr.first && address.value <= cidrLast(cidr)
  );
}

export function cidrContainsCidr(outer: Cidr, inner: Cidr): boolean {
  return (
    outer.family === inner.family &&
    inner.prefixLength >= outer.prefixLength &&
    inner.first >= outer.first &&
    inner.first <= cidrLast(outer)
  );
}

export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.first <= cidrLast(b) && b.first <= cidrLast(a);
}

export function makeCidr(family: IpFamily, first: bigint, prefixLength: number): Cidr {
  return { family, first, prefixLength, text: `${formatIp(family, first)}/${prefixLength}` };
}

/** The ipaddr.js range name of an address ("private", "loopback", "multicast" …). */
export function ipRangeName(address: IpAddress): string {
  if (address.family === 4) return ipaddr.IPv4.parse(formatIpv4(Number(address.value))).range();
  return new ipaddr.IPv6(ipv6Parts(address.value)).range();
}

const vpcForbiddenRanges = new Set([
  "unspecified",
  "loopback",
  "linkLocal",
  "multicast",
  "reserved",
  "broadcast",
  "ipv4Mapped",
]);

/** VPC CIDRs may be private or public, but not loopback, link-local, multicast, reserved … */
export function isForbiddenVpcRange(cidr: Cidr): boolean {
  const ends = [cidr.first, cidrLast(cidr)];
  return ends.some((value) => vpcForbiddenRanges.has(ipRangeName({ family: cidr.family, value })));
}
