// The command codec: versioned envelope, strict structure, total on arbitrary bytes.

import fc from "fast-check";
import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import {
  type Command,
  commandFormatVersion,
  commandMagic,
  decodeCommand,
  defaultNetworkConfig,
  encodeCommand,
  limits,
  parseCommand,
} from "../../src/statemachine/index.js";

const plainPackr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false });

const samples: Command[] = [
  { type: "Bootstrap", config: defaultNetworkConfig },
  { type: "RegisterClient", client_id: "gw-1" },
  { type: "CloseSession", client_id: "gw-1" },
  { type: "CreateVpc", client_id: "c", request_id: 1, org_id: "o", project_id: "p", name: "v" },
  {
    type: "CreateVpc",
    client_id: "c",
    request_id: 2,
    org_id: "o",
    project_id: "p",
    name: "v",
    cidr: "10.9.0.0/16",
    ipv6_cidr: "fd00::/48",
  },
  {
    type: "DeleteVpc",
    client_id: "c",
    request_id: 3,
    org_id: "o",
    project_id: "p",
    vpc_id: "o/p",
    cascade: true,
  },
  {
    type: "CreateSubnet",
    client_id: "c",
    request_id: 4,
    org_id: "o",
    project_id: "p",
    vpc_id: "o/p",
    name: "s",
    cidr: "10.9.1.0/24",
    gateway_ip: "10.9.1.254",
    dns_servers: ["8.8.8.8"],
    dhcp_enabled: false,
    mtu: 1400,
    reserved_ranges: [{ start: "10.9.1.10", end: "10.9.1.20" }],
  },
  {
    type: "UpdateSubnet",
    client_id: "c",
    request_id: 5,
    org_id: "o",
    project_id: "p",
    subnet_id: "o/p/s",
    mtu: null,
  },
  {
    type: "DeleteSubnet",
    client_id: "c",
    request_id: 6,
    org_id: "o",
    project_id: "p",
    subnet_id: "o/p/s",
  },
  {
    type: "CreatePort",
    client_id: "c",
    request_id: 7,
    org_id: "o",
    project_id: "p",
    port_id: "x",
    subnet_id: "s",
    mac_address: "fa:16:3e:00:00:01",
    ip_address: "10.9.1.5",
    security_group_ids: ["default"],
    vm_id: "vm-1",
  },
  {
    type: "UpdatePort",
    client_id: "c",
    request_id: 8,
    org_id: "o",
    project_id: "p",
    port_id: "x",
    security_group_ids: [],
  },
  { type: "DeletePort", client_id: "c", request_id: 9, org_id: "o", project_id: "p", port_id: "x" },
  {
    type: "AttachPort",
    client_id: "c",
    request_id: 10,
    org_id: "o",
    project_id: "p",
    port_id: "x",
    vm_id: "vm",
  },
  {
    type: "DetachPort",
    client_id: "c",
    request_id: 11,
    org_id: "o",
    project_id: "p",
    port_id: "x",
  },
  {
    type: "CreateSecurityGroup",
    client_id: "c",
    request_id: 12,
    org_id: "o",
    project_id: "p",
    name: "web",
    description: "d",
    ingress_rules: [
      {
        id: "r1",
        protocol: "TCP",
        port_range: { min: 80, max: 80 },
        source_type: "CIDR",
        source: "0.0.0.0/0",
      },
    ],
  },
  {
    type: "UpdateSecurityGroup",
    client_id: "c",
    request_id: 13,
    org_id: "o",
    project_id: "p",
    security_group_id: "web",
    ingress_rules: [],
    egress_rules: [],
  },
  {
    type: "AddSecurityRule",
    client_id: "c",
    request_id: 14,
    org_id: "o",
    project_id: "p",
    security_group_id: "web",
    direction: "EGRESS",
    rule: { id: "r2", protocol: "ALL", source_type: "SECURITY_GROUP", source: "web" },
  },
  {
    type: "RemoveSecurityRule",
    client_id: "c",
    request_id: 15,
    org_id: "o",
    project_id: "p",
    security_group_id: "web",
    rule_id: "r2",
  },
  {
    type: "DeleteSecurityGroup",
    client_id: "c",
    request_id: 16,
    org_id: "o",
    project_id: "p",
    security_group_id: "web",
  },
  {
    type: "CreateSnat",
    client_id: "c",
    request_id: 17,
    org_id: "o",
    project_id: "p",
    vpc_id: "o/p",
    enabled: false,
  },
  {
    type: "DeleteSnat",
    client_id: "c",
    request_id: 18,
    org_id: "o",
    project_id: "p",
    vpc_id: "o/p",
  },
  {
    type: "CreateDnat",
    client_id: "c",
    request_id: 19,
    org_id: "o",
    project_id: "p",
    dnat_id: "d",
    vpc_id: "o/p",
    external_port: 8080,
    protocol: "TCP",
    internal_ip: "10.9.1.5",
    internal_port: 80,
  },
  {
    type: "DeleteDnat",
    client_id: "c",
    request_id: 20,
    org_id: "o",
    project_id: "p",
    dnat_id: "d",
  },
];

describe("command codec", () => {
  it("round-trips one sample of every command type", () => {
    const types = new Set(samples.map((s) => s.type));
    expect(types.size).toBe(22);
    for (const sample of samples) {
      const decoded = decodeCommand(encodeCommand(sample));
      expect(decoded).toEqual({ ok: true, value: sample });
      expect(parseCommand(sample)).toEqual({ ok: true, value: sample });
    }
  });

  it("encodes deterministically (same command, same bytes)", () => {
    for (const sample of samples) {
      expect(Buffer.from(encodeCommand(sample))).toEqual(
        Buffer.from(encodeCommand(structuredClone(sample))),
      );
    }
  });

  it("rejects a foreign envelope, another version, unknown fields and wrong types", () => {
    const cmd = samples[3]!;
    const cases: [unknown, string][] = [
      [["other", commandFormatVersion, cmd], "not a command envelope"],
      [[commandMagic, commandFormatVersion + 1, cmd], "unsupported command version"],
      [[commandMagic, commandFormatVersion, { ...cmd, extra: 1 }], "unknown field extra"],
      [[commandMagic, commandFormatVersion, { ...cmd, request_id: "1" }], "request_id"],
      [[commandMagic, commandFormatVersion, { ...cmd, request_id: 1.5 }], "request_id"],
      [[commandMagic, commandFormatVersion, { ...cmd, type: "DropTables" }], "type"],
      [
        [
          commandMagic,
          commandFormatVersion,
          { ...cmd, name: "x".repeat(limits.commandStringLengthMax + 1) },
        ],
        "name",
      ],
      [[commandMagic, commandFormatVersion, [1, 2]], "expected an object"],
      [
        [
          commandMagic,
          commandFormatVersion,
          {
            ...samples[14]!,
            ingress_rules: [{ id: "r", protocol: "SCTP", source_type: "CIDR", source: "::/0" }],
          },
        ],
        "protocol",
      ],
    ];
    for (const [value, message] of cases) {
      const decoded = decodeCommand(plainPackr.pack(value));
      expect(decoded.ok).toBe(false);
      if (!decoded.ok) {
        expect(decoded.code).toBe("INVALID_COMMAND");
        expect(decoded.message).toContain(message);
      }
    }
    expect(decodeCommand(new Uint8Array(limits.commandBytesMax + 1)).ok).toBe(false);
    // An int64 beyond 2^53 decodes as a bigint and is refused, never rounded.
    const big = plainPackr.pack([
      commandMagic,
      commandFormatVersion,
      { ...cmd, request_id: 2n ** 60n },
    ]);
    expect(decodeCommand(big).ok).toBe(false);
  });

  it("is total: arbitrary bytes decode or are rejected, never throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const result = decodeCommand(bytes);
        if (!result.ok) expect(result.code).toBe("INVALID_COMMAND");
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const result = decodeCommand(plainPackr.pack([commandMagic, commandFormatVersion, value]));
        if (!result.ok) expect(result.code).toBe("INVALID_COMMAND");
      }),
      { numRuns: 1000 },
    );
  });
});
