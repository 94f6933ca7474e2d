// IP allocation the way etcd-backed IPAMs do it, as the baseline for NovaNET's CreatePort: the
// Kubernetes service IP allocator keeps one bitmap of the whole range in one key and updates it
// with GuaranteedUpdate (read, change, compare-and-swap on mod_revision, retry on conflict);
// Calico's block allocator does the same per block. Here: one key per subnet holds its bitmap;
// an allocation reads it, picks a free address from a random start (Kubernetes'
// randomScanStrategy), and commits a transaction that compares the key's mod_revision and puts
// the new bitmap plus a per-IP record. On conflict the transaction's else branch returns the
// current bitmap (as GuaranteedUpdate does), so a retry costs one round trip, not two.
import { randomInt } from "node:crypto";
import type { Etcd3 } from "etcd3";

/** Calico's default datastore retries for one IPAM operation. */
export const allocateAttemptsMax = 100;
/** Largest subnet accepted (a /16 bitmap is 8 KiB, Kubernetes' service CIDR cap is larger). */
export const subnetPrefixLengthMin = 12;
/** Smallest subnet: /30 (network, gateway, one address, broadcast). */
export const subnetPrefixLengthMax = 30;

export interface EtcdSubnet {
  /** Network address as a 32-bit number. */
  readonly base: number;
  readonly prefixLength: number;
  /** Addresses in the subnet (2^(32 - prefixLength)). */
  readonly size: number;
}

export type AllocateResult =
  | { ok: true; ip: string; offset: number; attempts: number }
  | { ok: false; reason: "exhausted" | "conflicts"; attempts: number };

export interface EtcdIpamStats {
  allocated: number;
  /** Transactions whose compare failed (another allocator committed first); each was retried. */
  conflicts: number;
  exhausted: number;
  /** Allocations abandoned after allocateAttemptsMax conflicting attempts. */
  gaveUp: number;
}

export function parseIpv4Cidr(cidr: string): EtcdSubnet {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(cidr);
  if (!m) throw new Error(`not an IPv4 CIDR: ${cidr}`);
  const octets = m.slice(1, 5).map(Number);
  const prefixLength = Number(m[5]);
  if (octets.some((o) => o > 255)) throw new Error(`not an IPv4 CIDR: ${cidr}`);
  if (prefixLength < subnetPrefixLengthMin || prefixLength > subnetPrefixLengthMax) {
    throw new Error(`prefix length must lie in ${subnetPrefixLengthMin}..${subnetPrefixLengthMax}`);
  }
  const addr = octets.reduce((a, o) => a * 256 + o, 0);
  const size = 2 ** (32 - prefixLength);
  if (addr % size !== 0) throw new Error(`${cidr}: host bits set`);
  return { base: addr, prefixLength, size };
}

export function ipv4String(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** Usable offsets: the network address, the gateway (first host) and broadcast are reserved. */
export function usableOffsets(s: EtcdSubnet): { lo: number; hi: number } {
  return { lo: 2, hi: s.size - 2 };
}

export function bitIsSet(bitmap: Uint8Array, offset: number): boolean {
  return ((bitmap[offset >>> 3] ?? 0) & (1 << (offset & 7))) !== 0;
}

/** A free usable offset scanning from a random start and wrapping, or -1 when full. */
export function findFree(bitmap: Uint8Array, s: EtcdSubnet): number {
  const { lo, hi } = usableOffsets(s);
  const n = hi - lo + 1;
  const start = randomInt(n);
  for (let i = 0; i < n; i++) {
    const off = lo + ((start + i) % n);
    if (!bitIsSet(bitmap, off)) return off;
  }
  return -1;
}

export class EtcdIpam {
  readonly stats: EtcdIpamStats = { allocated: 0, conflicts: 0, exhausted: 0, gaveUp: 0 };
  readonly #subnets = new Map<string, EtcdSubnet>();

  constructor(
    readonly client: Etcd3,
    readonly prefix = "/novanet-bench/ipam",
  ) {}

  allocationKey(subnetId: string): string {
    return `${this.prefix}/subnets/${subnetId}/allocation`;
  }

  ipKey(subnetId: string, ip: string): string {
    return `${this.prefix}/ips/${subnetId}/${ip}`;
  }

  /** Creates the subnet's empty bitmap; fails if the subnet exists. */
  async createSubnet(subnetId: string, cidr: string): Promise<EtcdSubnet> {
    const s = parseIpv4Cidr(cidr);
    const key = this.allocationKey(subnetId);
    const res = await this.client
      .if(key, "Create", "==", 0)
      .then(this.client.put(key).value(Buffer.alloc(s.size / 8)))
      .commit();
    if (!res.succeeded) throw new Error(`subnet ${subnetId} exists`);
    this.#subnets.set(subnetId, s);
    return s;
  }

  subnet(subnetId: string): EtcdSubnet {
    const s = this.#subnets.get(subnetId);
    if (!s) throw new Error(`unknown subnet ${subnetId}`);
    return s;
  }

  /** The subnet's allocation record as stored in etcd. */
  async readBitmap(subnetId: string): Promise<{ bitmap: Buffer; modRevision: string }> {
    const res = await this.client.get(this.allocationKey(subnetId)).exec();
    const kv = res.kvs[0];
    if (!kv) throw new Error(`no allocation record for subnet ${subnetId}`);
    return { bitmap: kv.value, modRevision: kv.mod_revision };
  }

  /**
   * Allocates a free address of the subnet for `owner` (a port id): read, pick, compare-and-swap,
   * retry on conflict with the bitmap the failed transaction returned; at most
   * allocateAttemptsMax transactions.
   */
  async allocate(subnetId: string, owner: string): Promise<AllocateResult> {
    const s = this.subnet(subnetId);
    const key = this.allocationKey(subnetId);
    let { bitmap, modRevision } = await this.readBitmap(subnetId);
    for (let attempt = 1; attempt <= allocateAttemptsMax; attempt++) {
      const off = findFree(bitmap, s);
      if (off < 0) {
        this.stats.exhausted++;
        return { ok: false, reason: "exhausted", attempts: attempt - 1 };
      }
      const next = Buffer.from(bitmap);
      next[off >>> 3]! |= 1 << (off & 7);
      const ip = ipv4String(s.base + off);
      const res = await this.client
        .if(key, "Mod", "==", modRevision)
        .then(
          this.client.put(key).value(next),
          this.client.put(this.ipKey(subnetId, ip)).value(owner),
        )
        .else(this.client.get(key))
        .commit();
      if (res.succeeded) {
        this.stats.allocated++;
        return { ok: true, ip, offset: off, attempts: attempt };
      }
      this.stats.conflicts++;
      const kv = res.responses[0]?.response_range?.kvs[0];
      if (!kv) throw new Error(`allocation record of subnet ${subnetId} vanished`);
      bitmap = kv.value;
      modRevision = kv.mod_revision;
    }
    this.stats.gaveUp++;
    return { ok: false, reason: "conflicts", attempts: allocateAttemptsMax };
  }
}
