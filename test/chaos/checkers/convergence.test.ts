import { describe, expect, it } from "vitest";
import { convergence } from "./convergence.js";
import { ovnMatches } from "./ovn.js";

describe("convergence", () => {
  it("passes on equal digests at equal indexes", () => {
    const s = [
      { id: "n1", appliedIndex: 42, resourceDigest: "abc" },
      { id: "n2", appliedIndex: 42n, resourceDigest: "abc" },
      { id: "n3", appliedIndex: "42", resourceDigest: "abc" },
    ];
    expect(convergence(s)).toEqual({ ok: true, violations: [] });
  });

  it("reports differing digests and indexes, and no input", () => {
    const r = convergence([
      { id: "n1", appliedIndex: 42, resourceDigest: "abc" },
      { id: "n2", appliedIndex: 42, resourceDigest: "abd" },
    ]);
    expect(r.violations).toEqual([
      expect.stringMatching(/digests differ at applied index 42: n1=abc, n2=abd/),
    ]);
    const lag = convergence([
      { id: "n1", appliedIndex: 42, resourceDigest: "abc" },
      { id: "n2", appliedIndex: 41, resourceDigest: "abc" },
    ]);
    expect(lag.violations[0]).toMatch(/applied indexes differ: n1=42, n2=41/);
    expect(convergence([]).ok).toBe(false);
  });
});

describe("ovnMatches", () => {
  const lsp = (name: string, mac: string, ...ips: string[]) => ({
    name,
    addresses: [`${mac} ${ips.join(" ")}`],
  });
  it("passes when NB matches the expected ports", () => {
    const nb = {
      sw1: [lsp("p1", "02:00:00:00:00:01", "10.0.0.5"), { name: "r", addresses: ["router"] }],
    };
    const expected = [
      { switch: "sw1", name: "p1", mac: "02:00:00:00:00:01", ips: ["10.0.0.5"] },
      { switch: "sw1", name: "r", ips: [] },
    ];
    expect(ovnMatches(nb, expected)).toEqual({ ok: true, violations: [] });
  });

  it("catches an IP twice in a switch, missing, unexpected and wrong LSPs", () => {
    const nb = {
      sw1: [lsp("p1", "02:00:00:00:00:01", "10.0.0.5"), lsp("p2", "02:00:00:00:00:02", "10.0.0.5")],
      sw2: [lsp("p3", "02:00:00:00:00:03", "10.0.0.5")],
    };
    const expected = [
      { switch: "sw1", name: "p1", ips: ["10.0.0.5"] },
      { switch: "sw1", name: "p2", ips: ["10.0.0.6"] },
      { switch: "sw2", name: "p4", ips: ["10.0.0.7"] },
    ];
    const v = ovnMatches(nb, expected).violations.join("\n");
    expect(v).toMatch(/switch sw1: IP 10\.0\.0\.5 on LSPs p1 and p2/);
    expect(v).toMatch(/LSP p2 has IPs \[10\.0\.0\.5\], expected \[10\.0\.0\.6\]/);
    expect(v).toMatch(/expected LSP p4 .* missing/);
    expect(v).toMatch(/unexpected LSP p3/);
    expect(v).not.toMatch(/sw2: IP/); // the same IP in another switch is fine
  });
});
