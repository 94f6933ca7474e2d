// Structural checks of a mapping result against the state it came from, shared by the tests.

import { expect } from "vitest";
import {
  columns,
  type DesiredNb,
  insertAllOperations,
  kinds,
  rowKey,
  type TableName,
  tableNames,
} from "../../../src/ovn-sync/mapping/index.js";
import type { NetworkStateMachine } from "../../../src/statemachine/index.js";

/** Checks every structural property of a mapping result against the state it came from. */
export function checkConsistency(d: DesiredNb, sm: NetworkStateMachine): void {
  const all = new Map<string, TableName>();
  for (const table of tableNames) {
    for (const key of d.tables[table].keys()) {
      expect(all.has(key), `key ${key} twice`).toBe(false);
      all.set(key, table);
    }
  }
  const referenced = new Set<string>();
  for (const table of tableNames) {
    const kinds = columns[table] as Record<string, string>;
    for (const [key, row] of d.tables[table] as unknown as ReadonlyMap<
      string,
      Record<string, unknown>
    >) {
      expect((row.external_ids as Record<string, string>)["novanet:key"]).toBe(key);
      for (const [column, kind] of Object.entries(kinds)) {
        if (!kind.startsWith("ref")) continue;
        const target = kind.split(":")[1] as TableName;
        const value = row[column];
        const refs =
          value === null ? [] : Array.isArray(value) ? (value as string[]) : [value as string];
        expect([...refs].sort(), `${table} ${key}.${column} sorted`).toEqual(refs);
        for (const ref of refs) {
          expect(all.get(ref), `${table} ${key}.${column} → ${ref}`).toBe(target);
          // Strong references only (Port_Group.ports and NAT.gateway_port are weak).
          if (!(table === "Port_Group" && column === "ports") && table !== "NAT")
            referenced.add(ref);
        }
      }
    }
    const names = [...d.tables[table].values()]
      .map((r) => (r as { name?: string }).name)
      .filter((x) => x !== undefined);
    expect(new Set(names).size, `${table} names unique`).toBe(names.length);
  }
  // Every non-root row has exactly one strong parent (else OVSDB garbage-collects it).
  for (const table of [
    "Logical_Switch_Port",
    "Logical_Router_Port",
    "ACL",
    "NAT",
    "Logical_Router_Static_Route",
    "Gateway_Chassis",
  ] as const) {
    for (const key of d.tables[table].keys())
      expect(referenced.has(key), `${table} ${key} has a parent`).toBe(true);
  }
  // Ports: exact addresses; no two LSPs of one switch share an IP (router port: gateway IP).
  const ports = [...sm.ports()];
  expect(ports.length).toBe(
    [...d.tables.Logical_Switch_Port.values()].filter((p) => p.type === "").length,
  );
  for (const port of ports) {
    const lsp = d.tables.Logical_Switch_Port.get(rowKey(kinds.port, port.id));
    expect(lsp?.name).toBe(port.id);
    expect(lsp?.addresses).toEqual([`${port.mac_address} ${port.ip_address}`]);
    expect(lsp?.port_security).toEqual([`${port.mac_address} ${port.ip_address}`]);
  }
  for (const subnet of sm.subnets()) {
    const ls = d.tables.Logical_Switch.get(rowKey(kinds.switch, subnet.id));
    expect(ls).toBeDefined();
    const ips = ls!.ports.map((k) => {
      const lsp = d.tables.Logical_Switch_Port.get(k)!;
      return lsp.type === "router" ? subnet.gateway_ip : lsp.addresses[0]!.split(" ")[1]!;
    });
    expect(new Set(ips).size, `switch of ${subnet.id}: duplicate IP in ${ips.join(",")}`).toBe(
      ips.length,
    );
  }
  // DNAT: a 1:1 rule is exactly one dnat_and_snat row (when its VPC has a gateway port), and
  // never a load-balancer VIP; a rule with ports is a VIP and never a NAT row.
  const vips = new Set([...d.tables.Load_Balancer.values()].flatMap((lb) => Object.keys(lb.vips)));
  for (const dnat of sm.dnats()) {
    const nat = d.tables.NAT.get(rowKey(kinds.floatingIp, dnat.id));
    const hasGateway = d.tables.Logical_Router_Port.has(
      rowKey(kinds.gatewayRouterPort, dnat.vpc_id),
    );
    if (dnat.protocol === "ALL") {
      expect(vips.has(`${dnat.external_ip}:0`)).toBe(false);
      if (hasGateway) {
        expect(nat).toMatchObject({
          type: "dnat_and_snat",
          external_ip: dnat.external_ip,
          logical_ip: dnat.internal_ip,
          gateway_port: rowKey(kinds.gatewayRouterPort, dnat.vpc_id),
        });
        expect(nat?.external_ids["novanet:dnat_id"]).toBe(dnat.id);
      } else {
        expect(nat).toBeUndefined();
      }
    } else {
      expect(nat).toBeUndefined();
      if (hasGateway) expect(vips.has(`${dnat.external_ip}:${dnat.external_port}`)).toBe(true);
    }
  }
  // The transaction encoder accepts everything.
  expect(insertAllOperations(d)).toHaveLength(all.size);
}
