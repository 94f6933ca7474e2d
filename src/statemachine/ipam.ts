// IPAM. Addresses are chosen only inside apply(), so the order of the Raft log is the only lock.
//
// NextFitAllocator hands out offsets of [0, capacity) next-fit: the search starts just after the
// last offset it handed out (the cursor) and wraps, so a freed address is not reused at once
// (AWS and Calico delay reuse for the same reason: stale ARP/flows/DNAT pointing at the old
// owner). Taken offsets live in a HierarchicalBitmap, reserved offsets in a short sorted list of
// disjoint ranges. One allocation is: one findNextZero (≤ 2 × levels word reads) plus at most
// one skip per reserved range and one wrap, then one set (≤ levels word writes): bounded by a
// constant that does not depend on how many offsets are taken. A release is one clear.

import { assert } from "./assert.js";
import { HierarchicalBitmap } from "./bitmap.js";
import { ipamWindowMax } from "./limits.js";

/** Inclusive range of offsets. */
export interface OffsetRange {
  readonly lo: number;
  readonly hi: number;
}

/** Inclusive range of bigint offsets (IPv6 subnets are larger than a number can index). */
export interface BigOffsetRange {
  readonly lo: bigint;
  readonly hi: bigint;
}

export type AllocateAtOutcome = "ok" | "reserved" | "allocated" | "out_of_range";

/** Sort, clip to [0, size) and merge overlapping or adjacent ranges. */
export function mergeBigRanges(ranges: readonly BigOffsetRange[], size: bigint): BigOffsetRange[] {
  const clipped = ranges
    .map((r) => ({ lo: r.lo < 0n ? 0n : r.lo, hi: r.hi >= size ? size - 1n : r.hi }))
    .filter((r) => r.lo <= r.hi)
    .sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
  const merged: { lo: bigint; hi: bigint }[] = [];
  for (const r of clipped) {
    const last = merged[merged.length - 1];
    if (last !== undefined && r.lo <= last.hi + 1n) {
      if (r.hi > last.hi) last.hi = r.hi;
    } else {
      merged.push({ lo: r.lo, hi: r.hi });
    }
  }
  return merged;
}

export class NextFitAllocator {
  readonly capacity: number;
  readonly reservedCount: number;
  readonly usableCount: number;
  readonly #bitmap: HierarchicalBitmap;
  readonly #reservedLo: number[] = [];
  readonly #reservedHi: number[] = [];
  #cursor = -1;

  constructor(capacity: number, reserved: readonly OffsetRange[] = []) {
    assert(
      Number.isInteger(capacity) && capacity >= 1 && capacity <= ipamWindowMax,
      "bad capacity",
    );
    this.capacity = capacity;
    this.#bitmap = new HierarchicalBitmap(capacity);
    const merged = mergeBigRanges(
      reserved.map((r) => ({ lo: BigInt(r.lo), hi: BigInt(r.hi) })),
      BigInt(capacity),
    );
    let reservedCount = 0;
    for (const r of merged) {
      this.#reservedLo.push(Number(r.lo));
      this.#reservedHi.push(Number(r.hi));
      reservedCount += Number(r.hi - r.lo) + 1;
    }
    this.reservedCount = reservedCount;
    this.usableCount = capacity - reservedCount;
    assert(this.usableCount >= 0, "more reserved than capacity");
  }

  get allocatedCount(): number {
    return this.#bitmap.count;
  }

  get freeCount(): number {
    return this.usableCount - this.#bitmap.count;
  }

  /** The last offset handed out by allocateNext, or -1 before the first. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Word reads so far (cost tests). */
  get probeCount(): number {
    return this.#bitmap.probeCount;
  }

  get reservedRanges(): OffsetRange[] {
    return this.#reservedLo.map((lo, i) => ({ lo, hi: this.#reservedHi[i]! }));
  }

  /** Set the cursor: snapshot restore, or a caller that took peekNext() through allocateAt. */
  setCursor(cursor: number): void {
    assert(Number.isInteger(cursor) && cursor >= -1 && cursor < this.capacity, "bad cursor");
    this.#cursor = cursor;
  }

  /** Index of the reserved range containing offset, or -1 (binary search over ≤ a few dozen). */
  #reservedIndex(offset: number): number {
    let lo = 0;
    let hi = this.#reservedLo.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (offset < this.#reservedLo[mid]!) hi = mid - 1;
      else if (offset > this.#reservedHi[mid]!) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  isReserved(offset: number): boolean {
    return this.#reservedIndex(offset) >= 0;
  }

  isAllocated(offset: number): boolean {
    return this.#bitmap.has(offset);
  }

  /** The offset allocateNext would return, without taking it; -1 when none is left. */
  peekNext(): number {
    if (this.freeCount === 0) return -1;
    let from = this.#cursor + 1 >= this.capacity ? 0 : this.#cursor + 1;
    // Each pass either finds, wraps once, or skips one reserved range (twice at most).
    const passesMax = 2 * this.#reservedLo.length + 3;
    for (let pass = 0; pass < passesMax; pass++) {
      const offset = this.#bitmap.findNextZero(from);
      if (offset < 0) {
        from = 0;
        continue;
      }
      const r = this.#reservedIndex(offset);
      if (r < 0) return offset;
      from = this.#reservedHi[r]! + 1;
      if (from >= this.capacity) from = 0;
    }
    assert(false, `no free offset found although ${this.freeCount} are free`);
  }

  /** Take the next free usable offset after the cursor (wrapping); -1 when none is left. */
  allocateNext(): number {
    const offset = this.peekNext();
    if (offset < 0) return -1;
    const before = this.#bitmap.count;
    this.#bitmap.set(offset);
    this.#cursor = offset;
    assert(this.#bitmap.count === before + 1, "allocation did not take exactly one offset");
    assert(this.#bitmap.count <= this.usableCount, "allocated more than the usable offsets");
    return offset;
  }

  /** Take a given offset (a static address); never moves the cursor. */
  allocateAt(offset: number): AllocateAtOutcome {
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.capacity) return "out_of_range";
    if (this.#reservedIndex(offset) >= 0) return "reserved";
    if (this.#bitmap.has(offset)) return "allocated";
    const before = this.#bitmap.count;
    this.#bitmap.set(offset);
    assert(
      this.#bitmap.count === before + 1 && this.#bitmap.count <= this.usableCount,
      "counters disagree",
    );
    return "ok";
  }

  release(offset: number): void {
    assert(!this.isReserved(offset), "releasing a reserved offset");
    const before = this.#bitmap.count;
    this.#bitmap.clear(offset);
    assert(this.#bitmap.count === before - 1, "release did not free exactly one offset");
  }

  allocatedOffsets(): Generator<number> {
    return this.#bitmap.ones();
  }

  checkInvariants(): void {
    this.#bitmap.checkInvariants();
    assert(this.#bitmap.count <= this.usableCount, "allocated more than usable");
    assert(this.#cursor >= -1 && this.#cursor < this.capacity, "cursor out of range");
    for (let i = 0; i < this.#reservedLo.length; i++) {
      assert(this.#reservedLo[i]! <= this.#reservedHi[i]!, "empty reserved range");
      if (i > 0)
        assert(this.#reservedHi[i - 1]! + 1 < this.#reservedLo[i]!, "reserved ranges not merged");
    }
    for (const offset of this.#bitmap.ones()) {
      assert(!this.isReserved(offset), `reserved offset ${offset} is allocated`);
    }
  }
}

/**
 * The IPAM of one subnet. Offsets are relative to the network address. The bitmap covers the
 * first min(size, ipamWindowMax) offsets: all of any IPv4 subnet. Beyond that window (IPv6 only)
 * addresses can only be taken statically and are kept in a set, which is fine because dynamic
 * allocation never goes there: a /64 has 2^24 dynamic addresses, far beyond portsPerVpcMax.
 */
export class SubnetIpam {
  readonly size: bigint;
  readonly window: NextFitAllocator;
  readonly reserved: readonly BigOffsetRange[];
  readonly usableCount: bigint;
  readonly #overflow = new Set<bigint>();

  constructor(size: bigint, reserved: readonly BigOffsetRange[]) {
    assert(size >= 1n, "empty subnet");
    this.size = size;
    this.reserved = mergeBigRanges(reserved, size);
    const windowSize = size < BigInt(ipamWindowMax) ? Number(size) : ipamWindowMax;
    const windowRanges: OffsetRange[] = [];
    let reservedTotal = 0n;
    for (const r of this.reserved) {
      reservedTotal += r.hi - r.lo + 1n;
      if (r.lo < BigInt(windowSize)) {
        const hi = r.hi < BigInt(windowSize) ? r.hi : BigInt(windowSize - 1);
        windowRanges.push({ lo: Number(r.lo), hi: Number(hi) });
      }
    }
    this.usableCount = size - reservedTotal;
    this.window = new NextFitAllocator(windowSize, windowRanges);
  }

  get allocatedCount(): number {
    return this.window.allocatedCount + this.#overflow.size;
  }

  /** True when allocateNext would find an address. */
  get canAllocate(): boolean {
    return this.window.freeCount > 0;
  }

  isReserved(offset: bigint): boolean {
    return this.reserved.some((r) => offset >= r.lo && offset <= r.hi);
  }

  isAllocated(offset: bigint): boolean {
    if (offset < BigInt(this.window.capacity)) return this.window.isAllocated(Number(offset));
    return this.#overflow.has(offset);
  }

  allocateNext(): bigint | null {
    const offset = this.window.allocateNext();
    return offset < 0 ? null : BigInt(offset);
  }

  allocateAt(offset: bigint): AllocateAtOutcome {
    if (offset < 0n || offset >= this.size) return "out_of_range";
    if (offset < BigInt(this.window.capacity)) return this.window.allocateAt(Number(offset));
    if (this.isReserved(offset)) return "reserved";
    if (this.#overflow.has(offset)) return "allocated";
    this.#overflow.add(offset);
    return "ok";
  }

  release(offset: bigint): void {
    if (offset < BigInt(this.window.capacity)) {
      this.window.release(Number(offset));
      return;
    }
    assert(this.#overflow.delete(offset), "releasing an address that is not allocated");
  }

  *allocatedOffsets(): Generator<bigint> {
    for (const offset of this.window.allocatedOffsets()) yield BigInt(offset);
    yield* this.#overflow;
  }

  checkInvariants(): void {
    this.window.checkInvariants();
    for (const offset of this.#overflow) {
      assert(
        offset >= BigInt(this.window.capacity) && offset < this.size,
        "overflow offset out of range",
      );
      assert(!this.isReserved(offset), "reserved overflow offset allocated");
    }
    assert(BigInt(this.allocatedCount) <= this.usableCount, "allocated more than usable");
  }
}
