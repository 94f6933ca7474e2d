// The value checks and the "did you mean" helper, one by one.
import { describe, expect, it } from "vitest";
import {
  checkDialAddr,
  checkId,
  checkListenAddr,
  checkOvsdbEndpoint,
  isLoopback,
  isWildcard,
  parseHostPort,
  parseIpv4Cidr,
  parseIpv4Range,
  parseMembers,
} from "../../src/config/checks.js";
import { closest, editDistance } from "../../src/config/suggest.js";

describe("addresses", () => {
  it.each([
    "0.0.0.0:8081",
    "127.0.0.1:0",
    "[::]:8081",
    "[::1]:1",
    "[fe80::1]:65535",
    "localhost:8081",
    "node-1.example.com:8082",
  ])("listen %s is fine", (a) => {
    expect(checkListenAddr(a)).toBeUndefined();
  });

  it.each([
    ["8081", /has no port/],
    ["0.0.0.0", /has no port/],
    ["0.0.0.0:", /port "" is not a number/],
    ["0.0.0.0:http", /port "http" is not a number/],
    ["0.0.0.0:65536", /out of range 0..65535/],
    ["::1:8081", /write an IPv6 address in brackets, \[::1\]:8081/],
    ["[::1]8081", /is not \[IPv6\]:port/],
    ["[zz::1]:80", /is not an IPv6 address/],
    ["256.0.0.1:80", /not a valid IPv4 address/],
    ["10.0.0:80", /not a valid IPv4 address/],
    ["bad_host:80", /not a valid host name or address/],
    ["-bad:80", /not a valid host name or address/],
  ])("listen %s is refused", (a, message) => {
    expect(checkListenAddr(a)).toMatch(message);
  });

  it("a dial address needs a port ≥ 1", () => {
    expect(checkDialAddr("10.0.0.1:0")).toMatch(/out of range 1..65535/);
    expect(checkDialAddr("10.0.0.1:1")).toBeUndefined();
  });

  it("knows wildcards and loopbacks", () => {
    const hp = (t: string) => {
      const r = parseHostPort(t, 0);
      if (typeof r === "string") throw new Error(r);
      return r;
    };
    expect(["0.0.0.0:1", "[::]:1", "[0:0::0]:1"].map((t) => isWildcard(hp(t)))).toEqual([
      true,
      true,
      true,
    ]);
    expect(["127.0.0.1:1", "10.0.0.1:1", "host:1"].map((t) => isWildcard(hp(t)))).toEqual([
      false,
      false,
      false,
    ]);
    expect(
      ["127.0.0.5:1", "[::1]:1", "localhost:1", "10.0.0.1:1", "0.0.0.0:1"].map((t) =>
        isLoopback(hp(t)),
      ),
    ).toEqual([true, true, true, false, false]);
  });
});

describe("OVSDB endpoints", () => {
  it.each([
    "tcp:127.0.0.1:6641",
    "ssl:10.0.0.1:6641",
    "unix:/var/run/ovn/ovnnb_db.sock",
    "tcp:[::1]:6641",
    "tcp:10.0.0.1:6641,tcp:10.0.0.2:6641, tcp:10.0.0.3:6641",
  ])("%s is fine", (e) => {
    expect(checkOvsdbEndpoint(e)).toBeUndefined();
  });

  it.each([
    ["127.0.0.1:6641", /not an OVSDB endpoint/],
    ["http://127.0.0.1:6641", /not an OVSDB endpoint/],
    ["ptcp:6641", /not an OVSDB endpoint/],
    ["tcp:127.0.0.1", /has no port/],
    ["tcp:ovn-nb:6641", /take an IP address, not a host name/],
    ["tcp:10.0.0.1:6641,", /empty entry/],
  ])("%s is refused", (e, message) => {
    expect(checkOvsdbEndpoint(e)).toMatch(message);
  });
});

describe("CIDRs and ranges", () => {
  it("parses canonical IPv4 CIDRs", () => {
    expect(parseIpv4Cidr("10.0.0.0/8")).toEqual({
      first: 0x0a000000,
      last: 0x0affffff,
      text: "10.0.0.0/8",
    });
    expect(parseIpv4Cidr("0.0.0.0/0")).toMatchObject({ first: 0, last: 2 ** 32 - 1 });
    expect(parseIpv4Cidr("192.0.2.7/32")).toMatchObject({ first: 0xc0000207, last: 0xc0000207 });
  });

  it.each([
    ["10.0.0.0", /is not a CIDR/],
    ["10.0.0.1/8", /has host bits set; did you mean "10.0.0.0\/8"\?/],
    ["10.0.0.0/33", /prefix length "33" is not in 0..32/],
    ["10.0.0.0/x", /prefix length "x"/],
    ["fd00::/8", /is IPv6; an IPv4 CIDR is needed/],
    ["10.0.0/8", /"10.0.0" is not an IPv4 address/],
    ["010.0.0.0/8", /"010.0.0.0" is not an IPv4 address/],
  ])("refuses %s", (text, message) => {
    expect(parseIpv4Cidr(text)).toMatch(message);
  });

  it("parses ranges", () => {
    expect(parseIpv4Range("198.51.100.10-198.51.100.20")).toMatchObject({
      first: 0xc633640a,
      last: 0xc6336414,
    });
    expect(parseIpv4Range("198.51.100.10 - 198.51.100.10")).toMatchObject({ first: 0xc633640a });
    expect(parseIpv4Range("198.51.100.20-198.51.100.10")).toMatch(/ends before it starts/);
    expect(parseIpv4Range("198.51.100.20-x")).toMatch(/not a range of IPv4 addresses/);
    expect(parseIpv4Range("198.51.100.0/24")).toMatchObject({
      first: 0xc6336400,
      last: 0xc63364ff,
    });
  });
});

describe("ids and member lists", () => {
  it("ids", () => {
    expect(checkId("n1")).toBeUndefined();
    expect(checkId("replica-1.zone_a")).toBeUndefined();
    expect(checkId("")).toMatch(/must not be empty/);
    for (const bad of ["-n1", "n 1", "n1=", "a,b", "x".repeat(65), "ñ"]) {
      expect(checkId(bad)).toMatch(/is not a valid id/);
    }
  });

  it("member lists", () => {
    expect(parseMembers("")).toEqual({});
    expect(parseMembers(" n1=10.0.0.1:7000 , n2 = 10.0.0.2:7000")).toEqual({
      n1: "10.0.0.1:7000",
      n2: "10.0.0.2:7000",
    });
    expect(parseMembers("n1")).toMatch(/"n1" is not id=host:port/);
    expect(parseMembers("=10.0.0.1:1")).toMatch(/is not id=host:port/);
    expect(parseMembers("n1=")).toMatch(/is not id=host:port/);
    expect(parseMembers("n1=a:1,n1=b:1")).toMatch(/id "n1" appears twice/);
  });
});

describe("did you mean", () => {
  it("edit distance", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
    expect(editDistance("abcdef", "uvwxyz", 2)).toBe(3);
  });

  it("closest", () => {
    const names = ["listen_addr", "cidr_pool", "default_subnet_size"];
    expect(closest("listen_adr", names)).toBe("listen_addr");
    expect(closest("LISTEN_ADDR", names)).toBe("listen_addr");
    expect(closest("cidr", names)).toBe("cidr_pool");
    expect(closest("subnet_size", names)).toBe("default_subnet_size");
    expect(closest("zzz", names)).toBeUndefined();
    expect(closest("id", ["ids_are_long"])).toBeUndefined();
  });
});
