// OVN NB vs the desired mapping: no IP twice in any logical switch, and the set of logical
// switch ports equals the expected set.

import { type CheckResult, result } from "../history/ops.js";

export interface NbLogicalSwitchPort {
  /** LSP name (NovaNET names it after the port id). */
  name: string;
  /** OVN `addresses` entries, e.g. ["fa:16:3e:00:00:01 10.0.0.5 fd00::5"], or "dynamic"/"router". */
  addresses: readonly string[];
}

export interface ExpectedLsp {
  /** Logical switch name. */
  switch: string;
  name: string;
  mac?: string;
  ips: readonly string[];
}

/** IPs (v4 and v6) named by OVN address strings ("MAC IP…"; "unknown", "router", "dynamic" skipped). */
export function ipsOfAddresses(addresses: readonly string[]): string[] {
  const out: string[] = [];
  for (const entry of addresses) {
    const parts = entry.trim().split(/\s+/);
    if (parts.length < 2) continue; // "unknown", "router", "dynamic", a bare MAC
    for (const p of parts.slice(1)) out.push(p.replace(/\/\d+$/, "").toLowerCase());
  }
  return out;
}

function macOfAddresses(addresses: readonly string[]): string | undefined {
  for (const entry of addresses) {
    const mac = entry.trim().split(/\s+/)[0];
    if (mac !== undefined && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(mac)) return mac.toLowerCase();
  }
  return undefined;
}

export function ovnMatches(
  nbPortsBySwitch: Readonly<Record<string, readonly NbLogicalSwitchPort[]>>,
  expected: readonly ExpectedLsp[],
): CheckResult {
  const out: string[] = [];
  const actual = new Map<string, { sw: string; lsp: NbLogicalSwitchPort }>();
  for (const [sw, lsps] of Object.entries(nbPortsBySwitch)) {
    const holders = new Map<string, string>();
    for (const lsp of lsps) {
      for (const ip of new Set(ipsOfAddresses(lsp.addresses))) {
        const other = holders.get(ip);
        if (other !== undefined)
          out.push(`switch ${sw}: IP ${ip} on LSPs ${other} and ${lsp.name}`);
        else holders.set(ip, lsp.name);
      }
      const key = `${sw}|${lsp.name}`;
      if (actual.has(key)) out.push(`switch ${sw}: LSP ${lsp.name} twice`);
      actual.set(key, { sw, lsp });
    }
  }
  const wanted = new Set<string>();
  for (const e of expected) {
    const key = `${e.switch}|${e.name}`;
    wanted.add(key);
    const got = actual.get(key);
    if (got === undefined) {
      out.push(`switch ${e.switch}: expected LSP ${e.name} (${e.ips.join(" ")}) missing`);
      continue;
    }
    const have = [...new Set(ipsOfAddresses(got.lsp.addresses))].sort();
    const want = [...new Set(e.ips.map((ip) => ip.toLowerCase()))].sort();
    if (have.join(" ") !== want.join(" "))
      out.push(
        `switch ${e.switch}: LSP ${e.name} has IPs [${have.join(" ")}], expected [${want.join(" ")}]`,
      );
    const mac = macOfAddresses(got.lsp.addresses);
    if (e.mac !== undefined && mac !== e.mac.toLowerCase())
      out.push(`switch ${e.switch}: LSP ${e.name} has MAC ${mac ?? "none"}, expected ${e.mac}`);
  }
  for (const [key, { sw, lsp }] of actual) {
    if (!wanted.has(key))
      out.push(`switch ${sw}: unexpected LSP ${lsp.name} (${lsp.addresses.join("; ")})`);
  }
  return result(out);
}
