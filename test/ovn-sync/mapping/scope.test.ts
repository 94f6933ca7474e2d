// A scoped mapping (options.scope) gives exactly the full mapping's rows of those VPCs, plus the
// cluster-wide rows (external switch, localnet port) whose reference sets hold only the scope's
// members; a VPC's drop group is one of its own rows.

import { describe, expect, it } from "vitest";
import {
  type DesiredNb,
  desiredNorthbound,
  type StateReader,
  type TableName,
  tableNames,
  vpcKey,
} from "../../../src/ovn-sync/mapping/index.js";
import { buildFixture, options } from "./fixture.js";

function rowsOf(d: DesiredNb, pick: (ids: Record<string, string>) => boolean) {
  const out = new Map<string, unknown>();
  for (const table of tableNames)
    for (const [key, row] of d.tables[table as TableName]) {
      const ids = (row as { external_ids: Record<string, string> }).external_ids;
      if (pick(ids)) out.set(key, row);
    }
  return out;
}

describe("scoped mapping", () => {
  const f = buildFixture();
  const full = desiredNorthbound(f.harness.sm, options);
  const sm = f.harness.sm;
  // The same reader without the per-project queries: the fallback filters everything.
  const plain: StateReader = {
    vpcs: () => sm.vpcs(),
    subnets: () => sm.subnets(),
    ports: () => sm.ports(),
    securityGroups: () => sm.securityGroups(),
    snats: () => sm.snats(),
    dnats: () => sm.dnats(),
  };
  for (const vpc of [f.acme.vpcId, f.globex.vpcId]) {
    for (const [name, reader] of [
      ["queries", sm],
      ["iteration", plain],
    ] as const) {
      it(`${vpc} through ${name}: the VPC's rows equal the full mapping's`, () => {
        const scoped = desiredNorthbound(reader, { ...options, scope: new Set([vpc]) });
        const inVpc = (ids: Record<string, string>) => ids[vpcKey] === vpc;
        expect(rowsOf(scoped, inVpc)).toEqual(rowsOf(full, inVpc));
        // Nothing from another VPC.
        expect(rowsOf(scoped, (ids) => ids[vpcKey] !== undefined && ids[vpcKey] !== vpc).size).toBe(
          0,
        );
        // The VPC's own drop group holds exactly that VPC's VM ports, and is the only one.
        const drops = [...scoped.tables.Port_Group.values()].filter(
          (r) => r.external_ids["novanet:kind"] === "drop-group",
        );
        expect(drops.map((r) => r.external_ids[vpcKey])).toEqual([vpc]);
        const vmPorts = [...scoped.tables.Logical_Switch_Port]
          .filter(([, r]) => r.external_ids["novanet:kind"] === "port")
          .map(([key]) => key)
          .sort();
        expect(vmPorts.length).toBeGreaterThan(0);
        expect(drops[0]!.ports).toEqual(vmPorts);
        for (const port of drops[0]!.ports)
          expect(scoped.tables.Logical_Switch_Port.get(port)?.external_ids[vpcKey]).toBe(vpc);
        // Cluster-wide rows are there, their sets restricted to the scope.
        const ext = [...scoped.tables.Logical_Switch.values()].find(
          (r) => r.external_ids[vpcKey] === undefined,
        );
        expect(ext).toBeDefined();
        for (const port of ext!.ports)
          expect(scoped.tables.Logical_Switch_Port.has(port)).toBe(true);
      });
    }
  }
  it("every row but the cluster-wide ones carries novanet:vpc", () => {
    const untagged = rowsOf(full, (ids) => ids[vpcKey] === undefined);
    expect([...untagged.keys()].map((k) => k.split(":")[0]).sort()).toEqual(
      ["external-switch", "localnet-port"].sort(),
    );
  });
});
