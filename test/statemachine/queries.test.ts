// Reads: tenant-scoped get/list with deterministic pagination.

import { describe, expect, it } from "vitest";
import { limits, type Page, type Port, type Result } from "../../src/statemachine/index.js";
import { Harness, mac, uuid } from "./harness.js";

function items<T>(result: Result<Page<T>>): Page<T> {
  if (!result.ok) throw new Error(result.message);
  return result.value;
}

describe("queries", () => {
  it("pages ports in id order and survives deletions between pages", () => {
    const h = new Harness().bootstrap();
    const a = h.client("acme", "web");
    a.ok("CreateVpc", { name: "a" });
    a.ok("CreateSubnet", { vpc_id: a.vpcId, name: "big", cidr: "10.0.4.0/22" });
    // Created in scrambled id order.
    const ids: string[] = [];
    for (let i = 0; i < 250; i++) {
      const n = (i * 97) % 250;
      ids.push(uuid(n));
      a.ok("CreatePort", {
        port_id: uuid(n),
        subnet_id: a.child(i % 3 === 0 ? "default" : "big"),
        mac_address: mac(n),
        vm_id: `vm-${n % 5}`,
      });
    }
    const sorted = [...ids].sort();
    const q = h.sm.queries;
    const first = items(q.listPorts(a.scope(), {}, { page_size: 100 }));
    expect(first.items.map((p) => p.id)).toEqual(sorted.slice(0, 100));
    a.ok("DeletePort", { port_id: sorted[99]! }); // the token's own item goes away
    a.ok("DeletePort", { port_id: sorted[100]! });
    const second = items(
      q.listPorts(a.scope(), {}, { page_size: 100, page_token: first.next_page_token }),
    );
    expect(second.items.map((p) => p.id)).toEqual(sorted.slice(101, 201));
    const third = items(
      q.listPorts(a.scope(), {}, { page_size: 100, page_token: second.next_page_token }),
    );
    expect(third.items.map((p) => p.id)).toEqual(sorted.slice(201));
    expect(third.next_page_token).toBe("");
    // Default page size, filters.
    expect(items(q.listPorts(a.scope())).items).toHaveLength(limits.pageSizeDefault);
    const onVm0 = items(q.listPorts(a.scope(), { vm_id: "vm-0" }, { page_size: 1000 }))
      .items as Port[];
    expect(onVm0.every((p) => p.vm_id === "vm-0")).toBe(true);
    const all = items(q.listPorts(a.scope(), {}, { page_size: 1000 })).items;
    expect(all).toHaveLength(248);
    expect(onVm0.length).toBe(all.filter((p) => p.vm_id === "vm-0").length);
    const inDefault = items(
      q.listPorts(a.scope(), { subnet_id: a.child("default") }, { page_size: 1000 }),
    ).items;
    expect(inDefault.every((p) => p.subnet_id === a.child("default"))).toBe(true);
  });

  it("refuses bad page sizes and tokens", () => {
    const h = new Harness().bootstrap();
    const a = h.client("acme", "web");
    a.ok("CreateVpc", { name: "a" });
    const q = h.sm.queries;
    expect(q.listPorts(a.scope(), {}, { page_size: limits.pageSizeMax + 1 })).toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    expect(q.listPorts(a.scope(), {}, { page_size: -1 })).toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    expect(q.listSubnets(a.scope(), { page_token: "!!" })).toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    expect(q.listSubnets({ org_id: "a/b", project_id: "x" })).toMatchObject({
      code: "INVALID_ARGUMENT",
    });
  });

  it("gets every resource kind of the caller", () => {
    const h = new Harness().bootstrap();
    const a = h.client("acme", "web");
    a.ok("CreateVpc", { name: "a" });
    a.ok("CreatePort", { port_id: uuid(1), subnet_id: a.child("default"), mac_address: mac(1) });
    a.ok("CreateSnat", { vpc_id: a.vpcId });
    a.ok("CreateDnat", {
      dnat_id: uuid(2),
      vpc_id: a.vpcId,
      external_port: 1,
      protocol: "UDP",
      internal_ip: "10.0.0.2",
      internal_port: 1,
    });
    const q = h.sm.queries;
    const s = a.scope();
    expect(q.getVpc(s, a.vpcId)).toMatchObject({ ok: true, value: { cidr: "10.0.0.0/16" } });
    expect(q.getSubnet(s, a.child("default"))).toMatchObject({ ok: true });
    expect(q.getPort(s, uuid(1).toUpperCase())).toMatchObject({
      ok: true,
      value: { ip_address: "10.0.0.2" },
    });
    expect(q.getSecurityGroup(s, "default")).toMatchObject({
      ok: true,
      value: { id: "acme/web/default" },
    });
    expect(q.getSnat(s, a.vpcId)).toMatchObject({
      ok: true,
      value: { external_ip: "203.0.113.0" },
    });
    expect(q.getDnat(s, uuid(2))).toMatchObject({ ok: true });
    expect(items(q.listDnats(s)).items).toHaveLength(1);
    expect(items(q.listVpcs(s)).items).toHaveLength(1);
    // Values handed out are frozen: a reader cannot alias live state.
    const vpc = q.getVpc(s, a.vpcId);
    expect(vpc.ok && Object.isFrozen(vpc.value)).toBe(true);
    const group = q.getSecurityGroup(s, "default");
    expect(group.ok && Object.isFrozen(group.value.ingress_rules[0])).toBe(true);
  });
});
