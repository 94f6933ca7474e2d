// IPAM structures: the hierarchical bitmap, the next-fit allocator and the subnet IPAM, checked
// against a plain Set model with fast-check, plus cost bounds that do not grow with occupancy.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HierarchicalBitmap } from "../../src/statemachine/bitmap.js";
import { NextFitAllocator, SubnetIpam } from "../../src/statemachine/ipam.js";

describe("HierarchicalBitmap", () => {
  it("finds the next zero across words and levels", () => {
    const bitmap = new HierarchicalBitmap(5000);
    for (let i = 0; i < 4000; i++) bitmap.set(i);
    expect(bitmap.findNextZero(0)).toBe(4000);
    expect(bitmap.findNextZero(4500)).toBe(4500);
    bitmap.clear(17);
    expect(bitmap.findNextZero(0)).toBe(17);
    expect(bitmap.findNextZero(18)).toBe(4000);
    for (let i = 4000; i < 5000; i++) bitmap.set(i);
    expect(bitmap.findNextZero(18)).toBe(-1);
    expect(bitmap.count).toBe(4999);
    bitmap.checkInvariants();
  });

  it("handles capacities that are not multiples of 32 (nothing past the end is found)", () => {
    for (const capacity of [1, 31, 33, 1025, 32 * 32 + 1]) {
      const bitmap = new HierarchicalBitmap(capacity);
      for (let i = 0; i < capacity; i++) {
        expect(bitmap.findNextZero(0)).toBe(i);
        bitmap.set(i);
      }
      expect(bitmap.findNextZero(0)).toBe(-1);
      bitmap.checkInvariants();
    }
  });

  it("agrees with a Set model (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70_000 }),
        fc.array(fc.tuple(fc.boolean(), fc.nat()), { maxLength: 300 }),
        (capacity, operations) => {
          const bitmap = new HierarchicalBitmap(capacity);
          const model = new Set<number>();
          for (const [setIt, raw] of operations) {
            const offset = raw % capacity;
            if (setIt && !model.has(offset)) {
              bitmap.set(offset);
              model.add(offset);
            } else if (!setIt && model.has(offset)) {
              bitmap.clear(offset);
              model.delete(offset);
            }
            let expected = -1;
            for (let i = offset; i < capacity; i++) {
              if (!model.has(i)) {
                expected = i;
                break;
              }
            }
            expect(bitmap.findNextZero(offset)).toBe(expected);
          }
          expect(bitmap.count).toBe(model.size);
          expect([...bitmap.ones()]).toEqual([...model].sort((a, b) => a - b));
          bitmap.checkInvariants();
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("NextFitAllocator", () => {
  it("is next-fit: a freed offset is not reused until the cursor wraps", () => {
    const allocator = new NextFitAllocator(8, [{ lo: 0, hi: 0 }]);
    expect([1, 2, 3].map(() => allocator.allocateNext())).toEqual([1, 2, 3]);
    allocator.release(2);
    expect(allocator.allocateNext()).toBe(4);
    expect([5, 6, 7].map(() => allocator.allocateNext())).toEqual([5, 6, 7]);
    expect(allocator.allocateNext()).toBe(2); // wrapped, skipping reserved 0 and taken 1
    expect(allocator.allocateNext()).toBe(-1);
    expect(allocator.freeCount).toBe(0);
    allocator.checkInvariants();
  });

  it("never hands out reserved offsets and reports them on allocateAt", () => {
    const allocator = new NextFitAllocator(64, [
      { lo: 0, hi: 3 },
      { lo: 10, hi: 20 },
      { lo: 63, hi: 63 },
      { lo: 18, hi: 25 },
    ]);
    expect(allocator.reservedCount).toBe(4 + 16 + 1);
    expect(allocator.allocateAt(12)).toBe("reserved");
    expect(allocator.allocateAt(64)).toBe("out_of_range");
    expect(allocator.allocateAt(30)).toBe("ok");
    expect(allocator.allocateAt(30)).toBe("allocated");
    const got: number[] = [];
    for (;;) {
      const offset = allocator.allocateNext();
      if (offset < 0) break;
      got.push(offset);
    }
    expect(got.length).toBe(allocator.usableCount - 1);
    for (const offset of got) {
      expect(offset < 4 || (offset >= 10 && offset <= 25) || offset === 63 || offset === 30).toBe(
        false,
      );
    }
    allocator.checkInvariants();
  });

  it("agrees with a model under random allocate/allocateAt/release (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3000 }),
        fc.array(fc.record({ lo: fc.nat(3000), len: fc.nat(40) }), { maxLength: 5 }),
        fc.array(fc.tuple(fc.constantFrom("next", "at", "release"), fc.nat()), { maxLength: 400 }),
        (capacity, rawReserved, operations) => {
          const reserved = rawReserved.map(({ lo, len }) => ({
            lo: lo % capacity,
            hi: Math.min(capacity - 1, (lo % capacity) + len),
          }));
          const isReserved = (o: number) => reserved.some((r) => o >= r.lo && o <= r.hi);
          const allocator = new NextFitAllocator(capacity, reserved);
          const model = new Set<number>();
          let cursor = -1;
          for (const [op, raw] of operations) {
            if (op === "next") {
              // Model next-fit: first free, non-reserved offset after the cursor, wrapping.
              let expected = -1;
              for (let k = 1; k <= capacity; k++) {
                const o = (cursor + k) % capacity;
                if (!model.has(o) && !isReserved(o)) {
                  expected = o;
                  break;
                }
              }
              expect(allocator.allocateNext()).toBe(expected);
              if (expected >= 0) {
                model.add(expected);
                cursor = expected;
              }
            } else if (op === "at") {
              const o = raw % capacity;
              const expected = isReserved(o) ? "reserved" : model.has(o) ? "allocated" : "ok";
              expect(allocator.allocateAt(o)).toBe(expected);
              if (expected === "ok") model.add(o);
            } else if (model.size > 0) {
              const o = [...model][raw % model.size]!;
              allocator.release(o);
              model.delete(o);
            }
          }
          expect(allocator.allocatedCount).toBe(model.size);
          allocator.checkInvariants();
        },
      ),
      { numRuns: 150 },
    );
  });

  it("costs the same per allocation whether the /16 is empty or nearly full", () => {
    const capacity = 65_536;
    const allocator = new NextFitAllocator(capacity, [
      { lo: 0, hi: 1 },
      { lo: capacity - 1, hi: capacity - 1 },
    ]);
    const probesPer = (count: number) => {
      let worst = 0;
      for (let i = 0; i < count; i++) {
        const before = allocator.probeCount;
        expect(allocator.allocateNext()).toBeGreaterThanOrEqual(0);
        worst = Math.max(worst, allocator.probeCount - before);
      }
      return worst;
    };
    const first = probesPer(1000);
    while (allocator.freeCount > 1000) allocator.allocateNext();
    const last = probesPer(1000);
    expect(allocator.freeCount).toBe(0);
    // 4 levels for 2^16: at most 2 × levels reads per search, a few searches per allocation.
    expect(first).toBeLessThanOrEqual(16);
    expect(last).toBeLessThanOrEqual(16);
  });

  it("stays bounded under churn in an almost full /8 (one hole far from the cursor)", () => {
    const capacity = 1 << 24;
    const allocator = new NextFitAllocator(capacity, [{ lo: 0, hi: 0 }]);
    for (let o = 1; o < capacity; o++) allocator.allocateAt(o);
    let worst = 0;
    for (let i = 0; i < 2000; i++) {
      const hole = ((i * 7_919_993) % (capacity - 1)) + 1;
      allocator.release(hole);
      const before = allocator.probeCount;
      expect(allocator.allocateNext()).toBe(hole);
      worst = Math.max(worst, allocator.probeCount - before);
    }
    expect(worst).toBeLessThanOrEqual(24); // 5 levels: ≤ 2 × 5 per search, ≤ 2 searches
  });
});

describe("SubnetIpam", () => {
  it("tracks IPv6 static addresses beyond the bitmap window", () => {
    const size = 1n << 64n;
    const ipam = new SubnetIpam(size, [
      { lo: 0n, hi: 1n },
      { lo: size - 10n, hi: size - 1n },
    ]);
    expect(ipam.window.capacity).toBe(1 << 24);
    expect(ipam.usableCount).toBe(size - 12n);
    expect(ipam.allocateNext()).toBe(2n);
    expect(ipam.allocateAt(1n << 40n)).toBe("ok");
    expect(ipam.allocateAt(1n << 40n)).toBe("allocated");
    expect(ipam.allocateAt(size - 3n)).toBe("reserved");
    expect(ipam.allocateAt(size)).toBe("out_of_range");
    expect(ipam.allocatedCount).toBe(2);
    expect([...ipam.allocatedOffsets()]).toEqual([2n, 1n << 40n]);
    ipam.release(1n << 40n);
    expect(ipam.isAllocated(1n << 40n)).toBe(false);
    ipam.checkInvariants();
  });
});
