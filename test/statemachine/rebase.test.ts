// rebaseSnapshot: a backup restored into a new cluster keeps every resource, session and the log
// time, and only moves the applied position; garbage is refused like a corrupt snapshot.

import { describe, expect, it } from "vitest";
import {
  AssertionError,
  NetworkStateMachine,
  rebaseSnapshot,
  SnapshotError,
} from "../../src/statemachine/index.js";
import { type Client, Harness, mac, uuid } from "./harness.js";

function populated(): { h: Harness; a: Client } {
  const h = new Harness().bootstrap();
  const a = h.client("acme", "web");
  a.ok("CreateVpc", { name: "a" });
  a.ok("CreateSecurityGroup", { name: "ga" });
  for (let i = 1; i <= 6; i++) {
    a.ok("CreatePort", {
      port_id: uuid(i),
      subnet_id: a.child("default"),
      mac_address: mac(i),
      security_group_ids: ["ga"],
    });
  }
  a.ok("DeletePort", { port_id: uuid(2) });
  a.ok("CreateSnat", { vpc_id: a.vpcId });
  return { h, a };
}

/** A copy of `h` restored from `bytes`, continuing at the snapshot's position. */
function continued(bytes: Uint8Array, h: Harness): Harness {
  const copy = new Harness();
  copy.sm = NetworkStateMachine.restore(bytes);
  copy.index = copy.sm.appliedIndex;
  copy.term = Math.max(2, copy.sm.appliedTerm);
  copy.timeMs = h.timeMs;
  return copy;
}

describe("rebaseSnapshot", () => {
  it("keeps resources, sessions and log time; replaces the applied position", () => {
    const { h } = populated();
    const rebased = rebaseSnapshot(h.sm.snapshot(), { index: 1, term: 1 });
    const sm = NetworkStateMachine.restore(rebased);
    expect(sm.appliedIndex).toBe(1);
    expect(sm.appliedTerm).toBe(1);
    expect(h.sm.appliedIndex).toBeGreaterThan(10);
    expect(sm.logTimeMs).toBe(h.sm.logTimeMs);
    // What the operator compares: the resource digest. The full digest covers the position.
    expect(sm.resourceDigest()).toBe(h.sm.resourceDigest());
    expect(sm.digest()).not.toBe(h.sm.digest());
    expect([...sm.ports()]).toEqual([...h.sm.ports()]);
    expect(sm.allocatedIps("acme/web/default")).toEqual(h.sm.allocatedIps("acme/web/default"));
    expect(sm.bootstrapped).toBe(true);
    sm.checkInvariants();
  });

  it("changes nothing but the position: rebasing back gives the original bytes", () => {
    const { h } = populated();
    const bytes = h.sm.snapshot();
    const there = rebaseSnapshot(bytes, { index: 1, term: 1 });
    const back = rebaseSnapshot(there, { index: h.sm.appliedIndex, term: h.sm.appliedTerm });
    expect(Buffer.from(back)).toEqual(Buffer.from(bytes));
  });

  it("continues from index 2 exactly as the original continues (IPAM, sessions)", () => {
    const original = populated();
    const copy = continued(
      rebaseSnapshot(original.h.sm.snapshot(), { index: 1, term: 1 }),
      original.h,
    );
    const script = (h: Harness) => {
      const a = new (original.a.constructor as typeof Client)(
        h,
        "acme",
        "web",
        original.a.clientId,
      );
      a.nextRequestId = original.a.nextRequestId;
      return [
        a.send("CreatePort", {
          port_id: uuid(50),
          subnet_id: a.child("default"),
          mac_address: mac(50),
        }),
        a.send("CreateVpc", { name: "a" }, 1), // a retry from before the backup
      ];
    };
    const restoredIps = [...copy.sm.ports()].map((p) => p.ip_address);
    const results = script(copy);
    expect(results).toEqual(script(original.h));
    expect(copy.index).toBe(3);
    expect(copy.sm.resourceDigest()).toBe(original.h.sm.resourceDigest());
    // The new port's address is none of the restored ports' addresses.
    const ip = results[0]?.ok ? (results[0].value as { ip_address: string }).ip_address : "";
    expect(ip).not.toBe("");
    expect(restoredIps).not.toContain(ip);
  });

  it("refuses garbage, truncated and corrupted input with a SnapshotError", () => {
    const { h } = populated();
    const bytes = h.sm.snapshot();
    const at = { index: 1, term: 1 };
    expect(() => rebaseSnapshot(new Uint8Array(0), at)).toThrow(SnapshotError);
    expect(() => rebaseSnapshot(Buffer.from("not a backup at all"), at)).toThrow(SnapshotError);
    expect(() => rebaseSnapshot(bytes.subarray(0, bytes.length - 7), at)).toThrow(SnapshotError);
    const flipped = Uint8Array.from(bytes);
    const i = Math.floor(flipped.length / 2);
    flipped[i] = (flipped[i] ?? 0) ^ 0x40;
    expect(() => rebaseSnapshot(flipped, at)).toThrow(
      /checksum mismatch|undecodable|not a snapshot/,
    );
  });

  it("asserts a positive position", () => {
    const bytes = populated().h.sm.snapshot();
    expect(() => rebaseSnapshot(bytes, { index: 0, term: 1 })).toThrow(AssertionError);
    expect(() => rebaseSnapshot(bytes, { index: 1, term: 0 })).toThrow(AssertionError);
    expect(() => rebaseSnapshot(bytes, { index: 1.5, term: 1 })).toThrow(AssertionError);
  });
});
