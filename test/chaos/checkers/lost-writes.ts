// No lost acknowledged write, no phantom (Jepsen set-full style, per replica).
//
// Lost: a resource the history KNOWS exists — a create acknowledged `ok`, or one a read returned —
// must be on every replica's final state, unless an operation that may delete it (delete of it,
// delete of its VPC, DeletePort cascading to its DNATs; outcome ok or info) completed after the
// knowledge began (r.complete > e.invoke: a delete that ended before the create was invoked cannot
// have removed it). A found port must keep its IP and MAC; a found DNAT its external IP.
//
// Phantom: a create that definitely failed must not exist, identified by what the request named:
// ports by (VPC, mac_address) — the workload must give every CreatePort a unique MAC, creates
// without one are listed as unchecked —, SNAT by VPC, DNAT by (VPC, internal IP, internal port,
// protocol). It is a phantom only when no create of the same identity ended ok or info, and the
// refusal was not a conflict code (ALREADY_EXISTS, MAC_ADDRESS_IN_USE, IP_ALREADY_ALLOCATED,
// EXTERNAL_IP_IN_USE: the thing seen may be the one that conflicted). Creates ending `info` may
// be present or absent. Phantoms are looked for in the final states and in every read.

import {
  type CheckResult,
  type Operation,
  operations,
  protocolName,
  str,
  vpcOfArgs,
} from "../history/ops.js";
import type { HistoryEvent } from "../history/types.js";
import type { DnatRecord, ReplicaState } from "./model.js";
import { deletesDnat, deletesPort, deletesSnat, observe } from "./unique-ips.js";

export interface LostWritesResult extends CheckResult {
  /** Creates that could not be checked for phantoms (no identity), as text. */
  unchecked: string[];
}

const conflictCodes: ReadonlySet<string> = new Set([
  "ALREADY_EXISTS",
  "MAC_ADDRESS_IN_USE",
  "IP_ALREADY_ALLOCATED",
  "EXTERNAL_IP_IN_USE",
]);

function firstInvoke(evidence: readonly Operation[]): number {
  return evidence.reduce((m, e) => Math.min(m, e.invoke), Number.POSITIVE_INFINITY);
}

function mayDelete(ops: readonly Operation[], since: number, pred: (o: Operation) => boolean) {
  return ops.some((o) => (o.type === "ok" || o.type === "info") && o.complete > since && pred(o));
}

function dnatIdentity(vpc: string, internalIp: unknown, internalPort: unknown, proto: unknown) {
  return `${vpc}|${String(internalIp)}:${Number(internalPort ?? 0)}/${protocolName(proto)}`;
}

export function noLostWrites(
  history: readonly HistoryEvent[],
  finalStates: readonly ReplicaState[],
): LostWritesResult {
  const ops = operations(history);
  const obs = observe(ops);
  const out: string[] = [];
  const unchecked: string[] = [];

  // Lost.
  for (const { replica, state } of finalStates) {
    const ports = new Map(state.ports.map((p) => [p.id, p]));
    for (const [id, { port, evidence }] of obs.ports) {
      const since = firstInvoke(evidence);
      if (mayDelete(ops, since, (o) => deletesPort(o, id, port.vpc_id))) continue;
      const first = evidence[0]!;
      const found = ports.get(id);
      const known = `${first.op} #${first.invoke}..#${first.complete}`;
      if (found === undefined) {
        out.push(
          `lost: port ${id} (${port.ip_address}, VPC ${port.vpc_id}) known from ${known}, never deleted, missing on replica ${replica}`,
        );
      } else if (
        found.ip_address !== port.ip_address ||
        (port.mac_address !== undefined &&
          found.mac_address !== undefined &&
          found.mac_address !== port.mac_address)
      ) {
        out.push(
          `changed: port ${id} known from ${known} as ${port.ip_address}/${port.mac_address ?? "?"} is ${found.ip_address}/${found.mac_address ?? "?"} on replica ${replica}`,
        );
      }
    }
    const snats = new Map(state.snats.map((s) => [s.vpc_id, s]));
    for (const { snat, evidence } of obs.snats.values()) {
      const since = firstInvoke(evidence);
      if (mayDelete(ops, since, (o) => deletesSnat(o, snat.vpc_id))) continue;
      const first = evidence[0]!;
      const found = snats.get(snat.vpc_id);
      if (found === undefined || found.external_ip !== snat.external_ip) {
        out.push(
          `lost: SNAT of VPC ${snat.vpc_id} (${snat.external_ip}) known from ${first.op} #${first.invoke}..#${first.complete}, never deleted, ${found === undefined ? "missing" : `is ${found.external_ip}`} on replica ${replica}`,
        );
      }
    }
    const dnats = new Map(state.dnats.map((d) => [d.id, d]));
    for (const [id, { dnat, evidence }] of obs.dnats) {
      const since = firstInvoke(evidence);
      if (mayDelete(ops, since, (o) => deletesDnat(o, dnat, obs.ports))) continue;
      const first = evidence[0]!;
      const found = dnats.get(id);
      if (found === undefined || found.external_ip !== dnat.external_ip) {
        out.push(
          `lost: DNAT ${id} (${dnat.external_ip}:${dnat.external_port}) known from ${first.op} #${first.invoke}..#${first.complete}, never deleted, ${found === undefined ? "missing" : `is ${found.external_ip}`} on replica ${replica}`,
        );
      }
    }
  }

  // Phantoms: identities whose every create failed definitely (with a non-conflict code).
  const portCreates = new Map<string, Operation[]>();
  const snatCreates = new Map<string, Operation[]>();
  const dnatCreates = new Map<string, Operation[]>();
  const add = (m: Map<string, Operation[]>, k: string, o: Operation) => {
    const l = m.get(k);
    if (l === undefined) m.set(k, [o]);
    else l.push(o);
  };
  for (const o of ops) {
    const vpc = vpcOfArgs(o.args);
    if (o.op === "CreatePort") {
      const mac = str(o.args.mac_address);
      // A port's VPC is its project's ("org/project"), whatever subnet it is in.
      if (mac !== undefined && vpc !== undefined)
        add(portCreates, `${vpc}|${mac.toLowerCase()}`, o);
      else if (o.type === "fail")
        unchecked.push(`CreatePort #${o.invoke}: no mac_address/VPC, phantom not checked`);
    } else if (o.op === "CreateSnat" && vpc !== undefined) {
      add(snatCreates, vpc, o);
    } else if (o.op === "CreateDnat" && vpc !== undefined) {
      add(
        dnatCreates,
        dnatIdentity(vpc, o.args.internal_ip, o.args.internal_port, o.args.protocol),
        o,
      );
    }
  }
  const phantomOf = (m: Map<string, Operation[]>, k: string): Operation | undefined => {
    const creates = m.get(k);
    if (creates === undefined || creates.some((c) => c.type !== "fail")) return undefined;
    return creates.find((c) => !conflictCodes.has(c.error?.code ?? ""));
  };
  const seen = new Set<string>();
  const report = (what: string, where: string, f: Operation) => {
    const line = `phantom: ${what} exists (${where}) though CreatePort/Snat/Dnat #${f.invoke}..#${f.complete} failed definitely (${f.error?.code ?? "?"})`;
    if (!seen.has(line)) out.push(line);
    seen.add(line);
  };
  const checkPort = (vpc: string, mac: string | undefined, id: string, where: string) => {
    if (mac === undefined) return;
    const f = phantomOf(portCreates, `${vpc}|${mac.toLowerCase()}`);
    if (f !== undefined) report(`port ${id} with MAC ${mac}`, where, f);
  };
  const checkSnat = (vpc: string, where: string) => {
    const f = phantomOf(snatCreates, vpc);
    if (f !== undefined) report(`SNAT of VPC ${vpc}`, where, f);
  };
  const checkDnat = (d: DnatRecord, where: string) => {
    const f = phantomOf(
      dnatCreates,
      dnatIdentity(d.vpc_id, d.internal_ip, d.internal_port, d.protocol),
    );
    if (f !== undefined) report(`DNAT ${d.id}`, where, f);
  };
  for (const { replica, state } of finalStates) {
    for (const p of state.ports) checkPort(p.vpc_id, p.mac_address, p.id, `replica ${replica}`);
    for (const s of state.snats) checkSnat(s.vpc_id, `replica ${replica}`);
    for (const d of state.dnats) checkDnat(d, `replica ${replica}`);
  }
  for (const [id, { port, evidence }] of obs.ports)
    checkPort(
      port.vpc_id,
      port.mac_address,
      id,
      `read by ${evidence[0]!.op} #${evidence[0]!.invoke}`,
    );
  for (const { snat, evidence } of obs.snats.values())
    checkSnat(snat.vpc_id, `read by ${evidence[0]!.op} #${evidence[0]!.invoke}`);
  for (const { dnat, evidence } of obs.dnats.values())
    checkDnat(dnat, `read by ${evidence[0]!.op} #${evidence[0]!.invoke}`);

  return { ok: out.length === 0, violations: out, unchecked };
}
