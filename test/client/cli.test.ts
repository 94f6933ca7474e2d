import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { main } from "../../src/cli/novanetctl.js";
import { formatTable } from "../../src/cli/table.js";
import { type FakeCluster, startFakeCluster } from "./fake-cluster.js";

let cluster: FakeCluster;

beforeEach(async () => {
  cluster = await startFakeCluster({ replicas: 2, leader: 1 });
});
afterEach(() => cluster.stop());

async function run(
  argv: string[],
  env: Record<string, string | undefined> = {},
): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, {
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      err += s;
    },
    env,
  });
  return { code, out, err };
}

const g = () => ["--endpoints", cluster.addresses.join(","), "--org", "org1", "--project", "proj1"];

describe("formatTable", () => {
  it("aligns columns and trims trailing space", () => {
    expect(
      formatTable(
        ["ID", "NAME", "X"],
        [
          ["a", "long name", ""],
          ["bbbb", "n", "z"],
        ],
      ),
    ).toBe("ID    NAME       X\na     long name\nbbbb  n          z\n");
  });
});

describe("novanetctl", () => {
  it("creates and lists resources as aligned tables", async () => {
    expect((await run([...g(), "vpc", "create", "--name", "my-vpc"])).code).toBe(0);
    const sub = await run([
      ...g(),
      "subnet",
      "create",
      "--name",
      "web",
      "--cidr",
      "10.1.1.0/24",
      "--dns",
      "8.8.8.8,1.1.1.1",
    ]);
    expect(sub.code).toBe(0);
    expect(sub.out.split("\n")[0]).toMatch(/^ID\s+VPC\s+CIDR\s+GATEWAY\s+DHCP\s+DNS\s+MTU$/);
    expect(sub.out).toContain(
      "org1/proj1/web  org1/proj1  10.1.1.0/24  10.1.1.1  on    8.8.8.8,1.1.1.1  -",
    );
    for (const vm of ["vm-1", "vm-22"]) {
      expect((await run([...g(), "port", "create", "--subnet", "web", "--vm", vm])).code).toBe(0);
    }
    const list = await run([...g(), "port", "list", "--page-size", "1"]);
    expect(list.code).toBe(0);
    const lines = list.out.trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^ID\s+SUBNET\s+VM\s+IP\s+MAC\s+SECURITY GROUPS\s+UP$/);
    // Every row's columns start where the header's do.
    const col = lines[0]!.indexOf("VM");
    for (const l of lines.slice(1)) expect(l.slice(col)).toMatch(/^vm-\d+ /);
    expect(cluster.callsOf("listPorts")).toHaveLength(2);
  });

  it("prints JSON with -o json", async () => {
    const vpc = await run([
      ...g(),
      "-o",
      "json",
      "vpc",
      "create",
      "--name",
      "v",
      "--cidr",
      "10.9.0.0/16",
    ]);
    expect(vpc.code).toBe(0);
    expect(JSON.parse(vpc.out)).toMatchObject({
      id: "org1/proj1",
      cidr: "10.9.0.0/16",
      ipv6Cidr: "",
    });
    await run([...g(), "subnet", "create", "--name", "web", "--cidr", "10.9.1.0/24"]);
    await run([...g(), "port", "create", "--subnet", "org1/proj1/web"]);
    const ports = await run([...g(), "port", "list", "-o", "json"]);
    const parsed = JSON.parse(ports.out) as { vmId: string; subnetId: string }[];
    expect(parsed).toHaveLength(1);
    expect(parsed[0]).toMatchObject({ vmId: "", subnetId: "org1/proj1/web" });

    await run([...g(), "sg", "create", "--name", "web"]);
    const rule = await run([
      ...g(),
      "-o",
      "json",
      "sg",
      "rule",
      "add",
      "web",
      "--direction",
      "ingress",
      "--protocol",
      "tcp",
      "--ports",
      "80-81",
      "--cidr",
      "0.0.0.0/0",
    ]);
    expect(rule.code).toBe(0);
    const sg = JSON.parse(rule.out) as { ingressRules: unknown[] };
    expect(sg.ingressRules).toEqual([
      {
        protocol: "PROTOCOL_TCP",
        portRange: { min: 80, max: 81 },
        sourceType: "SOURCE_TYPE_CIDR",
        source: "0.0.0.0/0",
        id: "r1",
      },
    ]);
    const table = await run([...g(), "sg", "get", "web"]);
    expect(table.out).toMatch(/RULE\s+DIRECTION\s+PROTOCOL\s+PORTS\s+SOURCE\n/);
    expect(table.out).toMatch(/r1\s+ingress\s+tcp\s+80-81\s+cidr:0\.0\.0\.0\/0/);
    const removed = await run([...g(), "sg", "rule", "remove", "web", "r1", "-o", "json"]);
    expect((JSON.parse(removed.out) as { ingressRules: unknown[] }).ingressRules).toEqual([]);
  });

  it("covers ports, NAT and deletes", async () => {
    await run([...g(), "vpc", "create", "--name", "v"]);
    await run([...g(), "subnet", "create", "--name", "web", "--cidr", "10.1.1.0/24"]);
    const created = JSON.parse(
      (await run([...g(), "-o", "json", "port", "create", "--subnet", "web"])).out,
    ) as {
      id: string;
    };
    const attach = await run([...g(), "port", "attach", created.id, "--vm", "vm-9"]);
    expect(attach.out).toContain("vm-9");
    expect((await run([...g(), "port", "detach", created.id])).out).toBe(
      `detached port ${created.id}\n`,
    );
    const snat = await run([...g(), "snat", "create"]);
    expect(snat.out).toMatch(
      /^VPC\s+EXTERNAL IP\s+ENABLED\s+CREATED\norg1\/proj1\s+203\.0\.113\.10\s+yes/,
    );
    const dnat = await run([
      ...g(),
      "dnat",
      "create",
      "--external-port",
      "8080",
      "--internal-ip",
      "10.1.1.2",
      "--internal-port",
      "80",
      "--protocol",
      "tcp",
    ]);
    expect(dnat.code).toBe(0);
    expect((await run([...g(), "dnat", "list"])).out).toMatch(
      /dnat-1\s+org1\/proj1\s+203\.0\.113\.20:8080\s+10\.1\.1\.2:80\s+tcp/,
    );
    expect((await run([...g(), "-o", "json", "dnat", "delete", "dnat-1"])).out).toBe("{}\n");
    // --protocol all: a 1:1 DNAT (floating IP), ports 0 without flags.
    const fip = await run([
      ...g(),
      "-o",
      "json",
      "dnat",
      "create",
      "--internal-ip",
      "10.1.1.2",
      "--protocol",
      "all",
    ]);
    expect(JSON.parse(fip.out)).toMatchObject({
      externalPort: 0,
      internalPort: 0,
      internalIp: "10.1.1.2",
      protocol: "PROTOCOL_ALL",
    });
    expect((await run([...g(), "dnat", "list"])).out).toMatch(
      /dnat-\d\s+org1\/proj1\s+203\.0\.113\.20\s+10\.1\.1\.2\s+all/,
    );

    expect((await run([...g(), "port", "delete", created.id])).code).toBe(0);
    expect((await run([...g(), "vpc", "delete", "--cascade"])).out).toBe(
      "deleted vpc org1/proj1\n",
    );
    expect(cluster.store.vpcs.size).toBe(0);
  });

  it("reads endpoints, token and tenant from the environment", async () => {
    cluster.token = "secret";
    const env = {
      NOVANET_ENDPOINTS: cluster.addresses.join(","),
      NOVANET_TOKEN: "secret",
      NOVANET_ORG: "org1",
      NOVANET_PROJECT: "proj1",
    };
    expect((await run(["vpc", "create", "--name", "v"], env)).code).toBe(0);
    const r = await run(["--stale", "vpc", "get"], env);
    expect(r.code).toBe(0);
    expect(cluster.callsOf("getVpc")[0]!.request.consistency).toBe(2);
    expect(cluster.calls.every((c) => c.authorization === "Bearer secret")).toBe(true);
  });

  it("exits 2 and prints the domain error", async () => {
    const r = await run([...g(), "port", "get", "nope"]);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toBe("error: NOT_FOUND: port not found\n");
    await run([...g(), "vpc", "create", "--name", "v"]);
    const dup = await run([...g(), "vpc", "create", "--name", "v"]);
    expect(dup.code).toBe(2);
    expect(dup.err).toBe("error: ALREADY_EXISTS: vpc org1/proj1 exists\n");
  });

  it.each([
    [[], /missing <resource> <verb>/],
    [["bogus", "list"], /unknown resource "bogus"/],
    [["vpc"], /vpc: missing verb \(one of create, get, list, delete\)/],
    [["vpc", "explode"], /vpc: unknown verb "explode"/],
    [["vpc", "create"], /vpc create: --name is required/],
    [["vpc", "create", "--name", "x", "--vm", "y"], /vpc create: unknown flag --vm/],
    [["vpc", "create", "--nmae", "x"], /Unknown option '--nmae'/],
    [["port", "get"], /port get: missing ID/],
    [["port", "get", "a", "b"], /unexpected argument "b"/],
    [["-o", "yaml", "vpc", "list"], /-o: expected table or json/],
    [
      [
        "dnat",
        "create",
        "--external-port",
        "99999",
        "--internal-ip",
        "x",
        "--internal-port",
        "1",
        "--protocol",
        "tcp",
      ],
      /--external-port: expected an integer/,
    ],
    [
      ["dnat", "create", "--internal-ip", "x", "--internal-port", "1", "--protocol", "tcp"],
      /--external-port is required with --protocol tcp\|udp/,
    ],
    [
      ["sg", "rule", "add", "web", "--direction", "up", "--protocol", "tcp"],
      /--direction: expected ingress or egress/,
    ],
    [
      ["sg", "rule", "add", "web", "--direction", "ingress", "--protocol", "gre"],
      /--protocol: expected one of/,
    ],
    [["sg", "rule", "explode"], /sg: unknown verb "rule explode"/],
  ])("usage error for %j", async (argv, message) => {
    const r = await run([...g(), ...(argv as string[])]);
    expect(r.code).toBe(1);
    expect(r.out).toBe("");
    expect(r.err).toMatch(message);
    expect(r.err).toContain("usage: novanetctl");
    expect(cluster.calls).toEqual([]);
  });

  it("requires a tenant for tenant commands but not for cluster commands", async () => {
    const r = await run(["--endpoints", cluster.addresses[0]!, "vpc", "list"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--org and --project are required/);
    const s = await run(["--endpoints", cluster.addresses.join(","), "cluster", "members"]);
    expect(s.code).toBe(0);
  });

  it("prints help with -h", async () => {
    const r = await run(["-h"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("usage: novanetctl");
  });

  it("shows cluster status and members", async () => {
    const e = ["--endpoints", cluster.addresses.join(",")];
    const status = await run([...e, "cluster", "status"]);
    expect(status.code).toBe(0);
    const lines = status.out.trimEnd().split("\n");
    expect(lines[0]).toMatch(
      /^ENDPOINT\s+ID\s+ROLE\s+TERM\s+LEADER\s+COMMIT\s+APPLIED\s+OVN SYNC$/,
    );
    expect(lines[1]).toMatch(/n1\s+follower\s+3\s+n2/);
    expect(lines[2]).toMatch(/n2\s+leader\s+3\s+n2/);
    cluster.replicas[0]!.stop();
    const partial = await run([...e, "cluster", "status"]);
    expect(partial.code).toBe(0);
    expect(partial.out).toMatch(/\n127\.0\.0\.1:\d+\s+-\s+unreachable\s+-/);
    expect(partial.out).toMatch(/: UNAVAILABLE: No connection established/);
    await cluster.replicas[0]!.start(cluster.replicas[0]!.port);
    const json = JSON.parse((await run([...e, "-o", "json", "cluster", "status"])).out) as {
      status: { role: string };
    }[];
    expect(json.map((x) => x.status.role)).toEqual(["follower", "leader"]);
    const members = await run([...e, "cluster", "members"]);
    expect(members.out).toMatch(/^ID\s+ROLE\s+PEER ADDRESS\s+API ADDRESS\s+LEADER\n/);
    expect(members.out).toMatch(/n2\s+voter\s+127\.0\.0\.1:7001\s+\S+\s+\*\n/);
    const add = await run([
      ...e,
      "cluster",
      "add-learner",
      "--id",
      "n3",
      "--peer-address",
      "p:1",
      "--api-address",
      "a:1",
    ]);
    expect(add.out).toMatch(/n3\s+learner\s+p:1\s+a:1/);
    expect((await run([...e, "cluster", "promote", "n3"])).out).toMatch(/n3\s+voter/);
    expect((await run([...e, "cluster", "remove", "n3"])).out).not.toContain("n3");
    expect((await run([...e, "cluster", "transfer-leader", "n1"])).code).toBe(0);
    expect(cluster.leaderIndex).toBe(0);
    expect((await run([...e, "cluster", "snapshot"])).out).toMatch(
      /^INDEX\s+TERM\s+BYTES\n\d+\s+3\s+1234\n$/,
    );
  });

  it("writes a backup", async () => {
    const dir = await mkdtemp(join(tmpdir(), "novanetctl-"));
    try {
      const file = join(dir, "b.bin");
      const r = await run([
        "--endpoints",
        cluster.addresses[0]!,
        "-o",
        "json",
        "cluster",
        "backup",
        file,
      ]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({
        path: file,
        bytes: cluster.store.backupData.length,
      });
      expect((await readFile(file)).length).toBe(cluster.store.backupData.length);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
