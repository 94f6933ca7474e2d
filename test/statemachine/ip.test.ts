import { describe, expect, it } from "vitest";
import { canonicalIp, parseCidr, parseIpv4 } from "../../src/statemachine/ip.js";
import {
  canonicalMac,
  canonicalUuid,
  generateMacAddress,
} from "../../src/statemachine/validate.js";

describe("addresses", () => {
  it.each([
    ["10.0.0.1", 0x0a000001],
    ["255.255.255.255", 0xffffffff],
    ["0.0.0.0", 0],
    ["010.0.0.1", null],
    ["10.1", null],
    ["0x0a.0.0.1", null],
    ["256.0.0.1", null],
    ["1.2.3.4 ", null],
  ])("parseIpv4(%s)", (text, expected) => {
    expect(parseIpv4(text)).toBe(expected);
  });

  it("canonicalises IPv6 to RFC 5952 and rejects zones", () => {
    expect(canonicalIp("2001:DB8:0:0:0:0:0:1")).toBe("2001:db8::1");
    expect(canonicalIp("fe80::1%eth0")).toBeNull();
    expect(canonicalIp("::ffff:10.0.0.1")).toBe("::ffff:a00:1");
  });

  it("parses strict CIDRs", () => {
    expect(parseCidr("10.1.0.0/16")).toMatchObject({
      ok: true,
      cidr: { text: "10.1.0.0/16", prefixLength: 16 },
    });
    expect(parseCidr("2001:db8:0::/48")).toMatchObject({
      ok: true,
      cidr: { text: "2001:db8::/48" },
    });
    for (const bad of [
      "10.1.0.5/16",
      "10.1.0.0/33",
      "10.1.0.0/016",
      "10.1.0.0",
      "10.1.0.0/16/1",
      "x/8",
      "::/129",
    ]) {
      expect(parseCidr(bad).ok).toBe(false);
    }
  });

  it("validates MACs and UUIDs", () => {
    expect(canonicalMac("FA-16-3E-00-00-0A")).toBe("fa:16:3e:00:00:0a");
    expect(canonicalMac("01:00:5e:00:00:01")).toBeNull(); // multicast
    expect(canonicalMac("00:00:00:00:00:00")).toBeNull();
    expect(canonicalMac("fa:16:3e:00:00")).toBeNull();
    expect(canonicalMac("fa:16-3e:00:00:01")).toBeNull();
    expect(canonicalUuid("0000000A-0000-4000-8000-000000000001")).toBe(
      "0000000a-0000-4000-8000-000000000001",
    );
    expect(canonicalUuid("not-a-uuid")).toBeNull();
    expect(generateMacAddress(new Uint8Array([1, 2, 255]))).toBe("fa:16:3e:01:02:ff");
  });
});
