// The configuration the state machine needs is replicated state: it arrives in the first
// command of the log (Bootstrap), is kept in every snapshot, and is covered by the digest.
// Why a command rather than a constructor argument: a replica started with a different config
// file would otherwise diverge silently (same log, different results); through the log every
// replica, including one that joins later from a snapshot, holds byte-identical config.

import { assert } from "./assert.js";
import { type Err, err, ok, type Result } from "./errors.js";
import { type Cidr, cidrLast, cidrSize, isForbiddenVpcRange, parseCidr, parseIpv4 } from "./ip.js";
import {
  cidrPoolBlocksMax,
  externalIpPoolRangesMax,
  externalIpPoolSizeMax,
  ipv4PrefixLengthMin,
  ipv4SubnetPrefixLengthMax,
  sessionResponsesCeilingMax,
  sessionsCeilingMax,
  sessionTimeoutMsMax,
  sessionTimeoutMsMin,
  subnetReservedEdgeMax,
} from "./limits.js";

export interface NetworkConfig {
  /** Pool the VPC CIDRs are auto-allocated from (spec §10.1 `cidr_pool`). */
  readonly cidr_pool: string;
  /** Prefix length of an auto-allocated VPC CIDR, i.e. the pool step (spec §3.2: /16). */
  readonly vpc_prefix_length: number;
  /** Prefix length of the default subnet created with a VPC (spec §10.1 `default_subnet_size`). */
  readonly default_subnet_size: number;
  /** External (public) IPv4 addresses for SNAT/DNAT: CIDRs ("198.51.100.0/24") or ranges ("a-b"). */
  readonly external_ip_pool: readonly string[];
  /** Addresses reserved right after the network address of every subnet (AWS: 3). */
  readonly subnet_reserved_leading: number;
  /** Addresses reserved right before the broadcast (IPv4) or at the end (IPv6) of every subnet. */
  readonly subnet_reserved_trailing: number;
  /** Client sessions kept at most; registering one more evicts the least recently active. */
  readonly session_max: number;
  /** Responses remembered per session; older request ids become STALE_REQUEST. */
  readonly session_responses_max: number;
  /** A session idle for this long in log time expires. */
  readonly session_timeout_ms: number;
}

export const defaultNetworkConfig: NetworkConfig = Object.freeze({
  cidr_pool: "10.0.0.0/8",
  vpc_prefix_length: 16,
  default_subnet_size: 24,
  external_ip_pool: Object.freeze([]) as readonly string[],
  subnet_reserved_leading: 0,
  subnet_reserved_trailing: 0,
  session_max: 1024,
  session_responses_max: 128,
  session_timeout_ms: 24 * 3_600_000,
});

export interface ExternalRange {
  readonly first: number;
  readonly last: number;
  /** Pool offset of `first` (ranges are numbered in config order). */
  readonly offset: number;
}

/** The config with its strings parsed once. */
export interface ResolvedConfig {
  readonly raw: NetworkConfig;
  readonly cidrPool: Cidr;
  readonly cidrPoolBlocks: number;
  readonly externalRanges: readonly ExternalRange[];
  readonly externalPoolSize: number;
}

function integerIn(value: number, lo: number, hi: number): boolean {
  return Number.isSafeInteger(value) && value >= lo && value <= hi;
}

function parseExternalRange(text: string): { first: number; last: number } | Err {
  const dash = text.indexOf("-");
  if (dash >= 0) {
    const first = parseIpv4(text.slice(0, dash));
    const last = parseIpv4(text.slice(dash + 1));
    if (first === null || last === null || first > last) {
      return err("INVALID_ARGUMENT", `external_ip_pool: bad range ${text}`);
    }
    return { first, last };
  }
  const parsed = parseCidr(text);
  if (!parsed.ok) return err("INVALID_CIDR", `external_ip_pool: ${text}: ${parsed.reason}`);
  if (parsed.cidr.family !== 4) return err("INVALID_CIDR", `external_ip_pool: ${text} is not IPv4`);
  return { first: Number(parsed.cidr.first), last: Number(cidrLast(parsed.cidr)) };
}

function resolveExternalPool(
  pool: readonly string[],
): { ranges: ExternalRange[]; size: number } | Err {
  if (pool.length > externalIpPoolRangesMax) {
    return err("LIMIT_EXCEEDED", `external_ip_pool: more than ${externalIpPoolRangesMax} ranges`);
  }
  const ranges: ExternalRange[] = [];
  let size = 0;
  for (const text of pool) {
    const range = parseExternalRange(text);
    if ("ok" in range) return range;
    for (const other of ranges) {
      if (range.first <= other.last && other.first <= range.last) {
        return err("INVALID_ARGUMENT", `external_ip_pool: ${text} overlaps another range`);
      }
    }
    const rangeSize = range.last - range.first + 1;
    if (size + rangeSize > externalIpPoolSizeMax) {
      return err(
        "LIMIT_EXCEEDED",
        `external_ip_pool: more than ${externalIpPoolSizeMax} addresses`,
      );
    }
    ranges.push({ first: range.first, last: range.last, offset: size });
    size += rangeSize;
  }
  return { ranges, size };
}

export function resolveConfig(raw: NetworkConfig): Result<ResolvedConfig> {
  const pool = parseCidr(raw.cidr_pool);
  if (!pool.ok) return err("INVALID_CIDR", `cidr_pool: ${pool.reason}`);
  if (pool.cidr.family !== 4) return err("INVALID_CIDR", "cidr_pool must be IPv4");
  if (isForbiddenVpcRange(pool.cidr))
    return err("INVALID_CIDR", "cidr_pool: address range not allowed");
  if (
    !integerIn(raw.vpc_prefix_length, Math.max(pool.cidr.prefixLength, ipv4PrefixLengthMin), 24)
  ) {
    return err(
      "INVALID_ARGUMENT",
      "vpc_prefix_length must lie between the pool prefix (≥ 8) and 24",
    );
  }
  const blocks = 2 ** (raw.vpc_prefix_length - pool.cidr.prefixLength);
  if (blocks > cidrPoolBlocksMax) {
    return err("LIMIT_EXCEEDED", `cidr_pool holds more than ${cidrPoolBlocksMax} VPC blocks`);
  }
  if (!integerIn(raw.default_subnet_size, raw.vpc_prefix_length, ipv4SubnetPrefixLengthMax)) {
    return err("INVALID_ARGUMENT", "default_subnet_size must lie between vpc_prefix_length and 29");
  }
  if (!integerIn(raw.subnet_reserved_leading, 0, subnetReservedEdgeMax)) {
    return err(
      "INVALID_ARGUMENT",
      `subnet_reserved_leading must lie in 0..${subnetReservedEdgeMax}`,
    );
  }
  if (!integerIn(raw.subnet_reserved_trailing, 0, subnetReservedEdgeMax)) {
    return err(
      "INVALID_ARGUMENT",
      `subnet_reserved_trailing must lie in 0..${subnetReservedEdgeMax}`,
    );
  }
  // The default subnet must keep a usable address: network, broadcast, gateway (inside the
  // leading edge when there is one) and the trailing edge are reserved.
  const defaultSize = 2 ** (32 - raw.default_subnet_size);
  if (
    defaultSize - 2 - Math.max(1, raw.subnet_reserved_leading) - raw.subnet_reserved_trailing <
    1
  ) {
    return err(
      "INVALID_ARGUMENT",
      "default_subnet_size leaves no usable address after the reservations",
    );
  }
  if (!integerIn(raw.session_max, 1, sessionsCeilingMax)) {
    return err("INVALID_ARGUMENT", `session_max must lie in 1..${sessionsCeilingMax}`);
  }
  if (!integerIn(raw.session_responses_max, 1, sessionResponsesCeilingMax)) {
    return err(
      "INVALID_ARGUMENT",
      `session_responses_max must lie in 1..${sessionResponsesCeilingMax}`,
    );
  }
  if (!integerIn(raw.session_timeout_ms, sessionTimeoutMsMin, sessionTimeoutMsMax)) {
    return err("INVALID_ARGUMENT", "session_timeout_ms out of range");
  }
  const external = resolveExternalPool(raw.external_ip_pool);
  if ("ok" in external) return external;
  assert(cidrSize(pool.cidr) >= BigInt(blocks), "pool smaller than its block count");
  const frozen: NetworkConfig = Object.freeze({
    ...raw,
    cidr_pool: pool.cidr.text,
    external_ip_pool: Object.freeze([...raw.external_ip_pool]),
  });
  return ok({
    raw: frozen,
    cidrPool: pool.cidr,
    cidrPoolBlocks: blocks,
    externalRanges: external.ranges,
    externalPoolSize: external.size,
  });
}

/** Pool offset of an external IPv4 address, or -1 when it is not in the pool. */
export function externalOffset(config: ResolvedConfig, address: number): number {
  for (const range of config.externalRanges) {
    if (address >= range.first && address <= range.last)
      return range.offset + (address - range.first);
  }
  return -1;
}

export function externalAddress(config: ResolvedConfig, offset: number): number {
  for (const range of config.externalRanges) {
    const size = range.last - range.first + 1;
    if (offset >= range.offset && offset < range.offset + size)
      return range.first + (offset - range.offset);
  }
  assert(false, `external pool offset ${offset} out of range`);
}
