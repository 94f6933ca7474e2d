// The etcd compare-and-swap allocator the throughput benchmark measures as its baseline: against
// a real 3-member etcd, concurrent allocators fill a small subnet without handing out an address
// twice, retry their conflicts, report exhaustion, and leave a bitmap that matches what they got.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EtcdCluster } from "../../bench/lib/etcd-cluster.js";
import {
  type AllocateResult,
  bitIsSet,
  EtcdIpam,
  ipv4String,
  usableOffsets,
} from "../../bench/lib/etcd-ipam.js";

const allocatorsN = 16;
const cidr = "10.77.0.32/27";
/** Each allocator stops after this many calls even if the subnet never reports full. */
const callsPerAllocatorMax = 64;

let dir = "";
let etcd: EtcdCluster | undefined;
let client: Etcd3 | undefined;

beforeAll(async () => {
  // CI installs etcd-server (scripts/setup.sh): a missing binary is a broken setup, not a skip.
  try {
    execFileSync("sh", ["-c", "command -v etcd"], { encoding: "utf8" });
  } catch {
    throw new Error(
      "the etcd binary is missing: run scripts/setup.sh (installs Debian's etcd-server)",
    );
  }
  dir = mkdtempSync(join(tmpdir(), "novanet-etcd-ipam-"));
  etcd = await EtcdCluster.start(dir);
  client = etcd.client();
}, 45_000);

afterAll(async () => {
  client?.close();
  await etcd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("EtcdIpam (compare-and-swap on a per-subnet bitmap)", () => {
  it("fills a subnet from 16 concurrent allocators with unique addresses, retrying conflicts", async () => {
    const ipam = new EtcdIpam(client!, "/test/ipam");
    const s = await ipam.createSubnet("s1", cidr);
    const { lo, hi } = usableOffsets(s);
    const usable = hi - lo + 1;
    expect(usable).toBe(29);

    const results: { owner: string; r: AllocateResult }[] = [];
    await Promise.all(
      Array.from({ length: allocatorsN }, async (_, w) => {
        for (let i = 0; i < callsPerAllocatorMax; i++) {
          const owner = `port-${w}-${i}`;
          const r = await ipam.allocate("s1", owner);
          results.push({ owner, r });
          if (!r.ok) return;
        }
      }),
    );

    const ok = results.flatMap(({ owner, r }) => (r.ok ? [{ owner, ...r }] : []));
    expect(ok).toHaveLength(usable);
    expect(new Set(ok.map((a) => a.ip)).size).toBe(usable);
    for (const a of ok) {
      expect(a.offset).toBeGreaterThanOrEqual(lo);
      expect(a.offset).toBeLessThanOrEqual(hi);
      expect(a.ip).toBe(ipv4String(s.base + a.offset));
    }
    // 16 writers on one key: most transactions lose the race and are retried.
    expect(ipam.stats.conflicts).toBeGreaterThan(0);
    expect(ok.some((a) => a.attempts > 1)).toBe(true);
    expect(ipam.stats.gaveUp).toBe(0);
    // Every allocator ended on a full subnet, reported as exhausted.
    const failed = results.filter(({ r }) => !r.ok).map(({ r }) => r);
    expect(failed).toHaveLength(allocatorsN);
    for (const r of failed) expect(r).toMatchObject({ ok: false, reason: "exhausted" });
    expect(await ipam.allocate("s1", "late")).toEqual({
      ok: false,
      reason: "exhausted",
      attempts: 0,
    });

    // The record in etcd agrees: exactly the allocated bits are set, one IP record per allocation.
    const { bitmap } = await ipam.readBitmap("s1");
    const set: number[] = [];
    for (let off = 0; off < s.size; off++) if (bitIsSet(bitmap, off)) set.push(off);
    expect(set).toEqual(ok.map((a) => a.offset).sort((x, y) => x - y));
    const ipRecords = await client!.getAll().prefix("/test/ipam/ips/s1/").strings();
    expect(Object.keys(ipRecords)).toHaveLength(usable);
    for (const a of ok) expect(ipRecords[ipam.ipKey("s1", a.ip)]).toBe(a.owner);
  }, 30_000);
});
