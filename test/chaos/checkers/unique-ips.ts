// Unique IPs: no two ports hold the same IP in the same VPC at the same time; an external IP
// belongs to one VPC at a time (a 1:1 DNAT's external IP to that DNAT alone); no two DNATs hold
// the same (external IP, external port, protocol) at the same time. From the history and from
// every replica's final state.
//
// Soundness (Jepsen reasoning; times are history indexes). We flag a pair only when both holders
// CERTAINLY held the resource at a common moment. A holder certainly holds its resource from the
// completion of an operation that showed it holding it (a create that returned ok, a read that
// returned it) — call that evidence e — until the first operation that might release it is
// invoked. A release op r (delete of the holder, delete of its VPC, deletion of a port that
// cascades to its DNATs) with outcome ok or info can matter after e only when r.complete >
// e.invoke (otherwise it ended before e began and e still saw the holder). So the certain interval
// after e is [e.complete, min{r.invoke | r.complete > e.invoke}), empty when that minimum precedes
// e.complete. Definite failures release nothing. Two holders of the same key whose certain
// intervals overlap are a violation: the second holder acquired the resource while the first
// still certainly held it. A resource reused after a delete completed is fine; reuse while a
// delete is merely in flight (or info) is not flagged (it may have been applied first).

import {
  type CheckResult,
  field,
  linearizableRead,
  type Operation,
  operations,
  protocolName,
  result,
  str,
  vpcOfArgs,
} from "../history/ops.js";
import type { HistoryEvent } from "../history/types.js";
import type { DnatRecord, FinalState, PortRecord, ReplicaState, SnatRecord } from "./model.js";

interface Holder {
  /** "port:<id>", "snat:<vpc>:<ip>", "dnat:<id>". */
  key: string;
  vpc: string;
  evidence: Operation[];
  releases: (o: Operation) => boolean;
}

interface Interval {
  holder: Holder;
  start: number;
  end: number;
  from: Operation;
  until: Operation | undefined;
}

function intervalsOf(h: Holder, ops: readonly Operation[]): Interval[] {
  const releases = ops.filter((o) => (o.type === "ok" || o.type === "info") && h.releases(o));
  const out: Interval[] = [];
  for (const e of h.evidence) {
    let until: Operation | undefined;
    for (const r of releases) {
      if (r.complete > e.invoke && (until === undefined || r.invoke < until.invoke)) until = r;
    }
    const end = until?.invoke ?? Number.POSITIVE_INFINITY;
    if (end > e.complete) out.push({ holder: h, start: e.complete, end, from: e, until });
  }
  return out;
}

function describe(i: Interval): string {
  const until = i.until === undefined ? "end" : `${i.until.op} invoked at #${i.until.invoke}`;
  return `${i.holder.key} (shown by ${i.from.op} #${i.from.invoke}..#${i.from.complete}, held until ${until})`;
}

/**
 * Sweeps intervals grouped by resource key; reports pairs of different holders that overlap and
 * that `conflicts` says may not share. At most `limit` violations per call.
 */
function overlaps(
  byKey: Map<string, Interval[]>,
  what: string,
  conflicts: (a: Holder, b: Holder) => boolean,
  out: string[],
  limit = 1000,
): void {
  for (const [key, list] of byKey) {
    list.sort((a, b) => a.start - b.start);
    const active: Interval[] = [];
    const reported = new Set<string>();
    for (const cur of list) {
      for (let i = active.length - 1; i >= 0; i--)
        if (active[i]!.end <= cur.start) active.splice(i, 1);
      for (const other of active) {
        if (other.holder === cur.holder || !conflicts(other.holder, cur.holder)) continue;
        const pair = [other.holder.key, cur.holder.key].sort().join("&");
        if (reported.has(pair)) continue;
        reported.add(pair);
        if (out.length < limit)
          out.push(`${what} ${key} held by two at once: ${describe(other)} and ${describe(cur)}`);
      }
      active.push(cur);
    }
  }
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list === undefined) m.set(k, [v]);
  else list.push(v);
}

export function asPort(v: unknown): PortRecord | undefined {
  const id = str(field(v, "id"));
  const vpc = str(field(v, "vpc_id")) ?? str(field(v, "vpcId"));
  const ip = str(field(v, "ip_address")) ?? str(field(v, "ipAddress"));
  if (id === undefined || vpc === undefined || ip === undefined) return undefined;
  const mac = str(field(v, "mac_address")) ?? str(field(v, "macAddress"));
  return mac === undefined
    ? { id, vpc_id: vpc, ip_address: ip }
    : { id, vpc_id: vpc, ip_address: ip, mac_address: mac };
}

export function asDnat(v: unknown): DnatRecord | undefined {
  const g = (a: string, b: string) => field(v, a) ?? field(v, b);
  const id = str(g("id", "id"));
  const vpc = str(g("vpc_id", "vpcId"));
  const ext = str(g("external_ip", "externalIp"));
  const internal = str(g("internal_ip", "internalIp"));
  if (id === undefined || vpc === undefined || ext === undefined || internal === undefined)
    return undefined;
  return {
    id,
    vpc_id: vpc,
    external_ip: ext,
    external_port: Number(g("external_port", "externalPort") ?? 0),
    internal_ip: internal,
    internal_port: Number(g("internal_port", "internalPort") ?? 0),
    protocol: (g("protocol", "protocol") as string | number | undefined) ?? 0,
  };
}

export function asSnat(v: unknown, fallbackVpc: string | undefined): SnatRecord | undefined {
  const vpc = str(field(v, "vpc_id")) ?? str(field(v, "vpcId")) ?? fallbackVpc;
  const ext = str(field(v, "external_ip")) ?? str(field(v, "externalIp"));
  return vpc !== undefined && ext !== undefined ? { vpc_id: vpc, external_ip: ext } : undefined;
}

export function list(v: unknown, key: string): unknown[] {
  const l = field(v, key);
  return Array.isArray(l) ? l : [];
}

/** Everything the history shows about ports, SNATs and DNATs. */
export interface Observed {
  ports: Map<string, { port: PortRecord; evidence: Operation[] }>;
  snats: Map<string, { snat: SnatRecord; evidence: Operation[] }>;
  dnats: Map<string, { dnat: DnatRecord; evidence: Operation[] }>;
}

export function observe(ops: readonly Operation[]): Observed {
  const obs: Observed = { ports: new Map(), snats: new Map(), dnats: new Map() };
  const port = (p: PortRecord | undefined, o: Operation) => {
    if (p === undefined) return;
    const cur = obs.ports.get(p.id);
    if (cur === undefined) obs.ports.set(p.id, { port: p, evidence: [o] });
    else cur.evidence.push(o);
  };
  const dnat = (d: DnatRecord | undefined, o: Operation) => {
    if (d === undefined) return;
    const cur = obs.dnats.get(d.id);
    if (cur === undefined) obs.dnats.set(d.id, { dnat: d, evidence: [o] });
    else cur.evidence.push(o);
  };
  for (const o of ops) {
    if (o.type !== "ok" || !linearizableRead(o.args)) continue;
    switch (o.op) {
      case "CreatePort":
      case "GetPort":
      case "AttachPort":
        port(asPort(o.value), o);
        break;
      case "ListPorts":
        for (const p of list(o.value, "ports")) port(asPort(p), o);
        break;
      case "CreateDnat":
        dnat(asDnat(o.value), o);
        break;
      case "ListDnats":
        for (const d of list(o.value, "dnats")) dnat(asDnat(d), o);
        break;
      case "CreateSnat":
      case "GetSnat": {
        const s = asSnat(o.value, vpcOfArgs(o.args));
        if (s === undefined) break;
        const key = `${s.vpc_id}|${s.external_ip}`;
        const cur = obs.snats.get(key);
        if (cur === undefined) obs.snats.set(key, { snat: s, evidence: [o] });
        else cur.evidence.push(o);
        break;
      }
      default:
        break;
    }
  }
  return obs;
}

/** Whether `o` may delete the port `portId` (of VPC `vpc`). */
export function deletesPort(o: Operation, portId: string, vpc: string): boolean {
  return (
    (o.op === "DeletePort" && o.args.port_id === portId) ||
    (o.op === "DeleteVpc" && vpcOfArgs(o.args) === vpc)
  );
}

export function deletesSnat(o: Operation, vpc: string): boolean {
  return (o.op === "DeleteSnat" || o.op === "DeleteVpc") && vpcOfArgs(o.args) === vpc;
}

/**
 * Whether `o` may delete DNAT `d`: DeleteDnat of it, DeleteVpc of its VPC, or DeletePort of a port
 * whose address is d's internal IP (DeletePort cascades); a port whose VPC/IP the history never
 * showed counts as possibly that port.
 */
export function deletesDnat(
  o: Operation,
  d: DnatRecord,
  portsById: ReadonlyMap<string, { port: PortRecord }>,
): boolean {
  if (o.op === "DeleteDnat") return o.args.dnat_id === d.id;
  if (o.op === "DeleteVpc") return vpcOfArgs(o.args) === d.vpc_id;
  if (o.op === "DeletePort") {
    const id = str(o.args.port_id);
    const p = id === undefined ? undefined : portsById.get(id)?.port;
    return p === undefined || (p.vpc_id === d.vpc_id && p.ip_address === d.internal_ip);
  }
  return false;
}

function finalStateViolations(replica: string, s: FinalState, out: string[]): void {
  const ips = new Map<string, string>();
  for (const p of s.ports) {
    const k = `${p.vpc_id}|${p.ip_address}`;
    const other = ips.get(k);
    if (other !== undefined && other !== p.id)
      out.push(
        `replica ${replica}: ports ${other} and ${p.id} both hold ${p.ip_address} in VPC ${p.vpc_id}`,
      );
    ips.set(k, p.id);
  }
  const owner = new Map<string, string>();
  const exclusive = new Map<string, string>();
  const users = new Map<string, number>();
  const claim = (ip: string, vpc: string, who: string) => {
    const o = owner.get(ip);
    if (o !== undefined && o !== vpc)
      out.push(
        `replica ${replica}: external IP ${ip} used by VPC ${o} and by ${who} of VPC ${vpc}`,
      );
    owner.set(ip, vpc);
    users.set(ip, (users.get(ip) ?? 0) + 1);
  };
  for (const sn of s.snats) claim(sn.external_ip, sn.vpc_id, "SNAT");
  const keys = new Map<string, string>();
  for (const d of s.dnats) {
    claim(d.external_ip, d.vpc_id, `DNAT ${d.id}`);
    const proto = protocolName(d.protocol);
    if (proto === "ALL") exclusive.set(d.external_ip, d.id);
    const k = `${d.external_ip}:${d.external_port}/${proto}`;
    const other = keys.get(k);
    if (other !== undefined)
      out.push(`replica ${replica}: DNATs ${other} and ${d.id} both hold ${k}`);
    keys.set(k, d.id);
  }
  for (const [ip, id] of exclusive) {
    if ((users.get(ip) ?? 0) > 1)
      out.push(`replica ${replica}: 1:1 DNAT ${id} shares external IP ${ip} with another NAT rule`);
  }
}

/**
 * The checker. `finalStates`: every replica's final state (may be empty to check only the
 * history).
 */
export function uniqueIps(
  history: readonly HistoryEvent[],
  finalStates: readonly ReplicaState[] = [],
): CheckResult {
  const ops = operations(history);
  const obs = observe(ops);
  const out: string[] = [];

  // Single reads that show a duplicate.
  for (const o of ops) {
    if (o.type !== "ok" || o.op !== "ListPorts") continue;
    const seen = new Map<string, string>();
    for (const raw of list(o.value, "ports")) {
      const p = asPort(raw);
      if (p === undefined) continue;
      const k = `${p.vpc_id}|${p.ip_address}`;
      const other = seen.get(k);
      if (other !== undefined && other !== p.id)
        out.push(
          `ListPorts #${o.invoke}..#${o.complete} returned ports ${other} and ${p.id} with IP ${p.ip_address} in VPC ${p.vpc_id}`,
        );
      seen.set(k, p.id);
    }
  }

  // Port IPs per VPC.
  const portIntervals = new Map<string, Interval[]>();
  for (const [id, { port, evidence }] of obs.ports) {
    const h: Holder = {
      key: `port:${id}`,
      vpc: port.vpc_id,
      evidence,
      releases: (o) => deletesPort(o, id, port.vpc_id),
    };
    for (const i of intervalsOf(h, ops))
      push(portIntervals, `${port.vpc_id}|${port.ip_address}`, i);
  }
  overlaps(portIntervals, "IP (VPC|IP)", () => true, out);

  // External IPs and DNAT keys.
  const external = new Map<string, Interval[]>();
  const dnatKeys = new Map<string, Interval[]>();
  const exclusive = new Set<Holder>();
  for (const { snat, evidence } of obs.snats.values()) {
    const h: Holder = {
      key: `snat:${snat.vpc_id}`,
      vpc: snat.vpc_id,
      evidence,
      releases: (o) => deletesSnat(o, snat.vpc_id),
    };
    for (const i of intervalsOf(h, ops)) push(external, snat.external_ip, i);
  }
  for (const { dnat, evidence } of obs.dnats.values()) {
    const h: Holder = {
      key: `dnat:${dnat.id}`,
      vpc: dnat.vpc_id,
      evidence,
      releases: (o) => deletesDnat(o, dnat, obs.ports),
    };
    const proto = protocolName(dnat.protocol);
    if (proto === "ALL") exclusive.add(h);
    for (const i of intervalsOf(h, ops)) {
      push(external, dnat.external_ip, i);
      push(dnatKeys, `${dnat.external_ip}:${dnat.external_port}/${proto}`, i);
    }
  }
  overlaps(
    external,
    "external IP",
    (a, b) => a.vpc !== b.vpc || exclusive.has(a) || exclusive.has(b),
    out,
  );
  overlaps(dnatKeys, "DNAT", () => true, out);

  for (const { replica, state } of finalStates) finalStateViolations(replica, state, out);
  return result(out);
}
