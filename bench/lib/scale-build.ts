// Builds a NovaNET state with N ports in-process (no Raft, no gRPC: 1M CreatePorts through the
// API would take hours) and writes it as a backup file plus manifest, exactly as
// `novanetctl cluster backup` would (raw snapshot bytes, `<file>.json` with clusterId,
// stateDigest, bytes, sha256), so that the real `novanet restore` accepts it.
//
//   node --max-old-space-size=8192 --import tsx bench/lib/scale-build.ts --ports N --out FILE
//
// Run as its own process (by bench/suites/scale.ts) so that the state's heap never sits in the
// benchmark runner and can get a bigger heap limit. Prints one JSON line (BuildResult) on stdout
// and progress lines "progress <done>" on stderr.
//
// Shape: `vpcs` tenants (org<t>/p), each a VPC 10.<t>.0.0/16 with 4 subnets /19 (8,190 usable
// addresses each) above the default /24, ports spread evenly; every other port in the VPC's
// default security group. Stays inside the state machine's limits (limits.ts): ports per VPC
// ≤ 262,144, subnets per VPC ≤ 256, ports ≤ 1,048,576.
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  type ApplyContext,
  type Command,
  defaultNetworkConfig,
  encodeCommand,
  NetworkStateMachine,
} from "../../src/statemachine/index.js";

export interface BuildResult {
  ports: number;
  vpcs: number;
  subnets: number;
  commands: number;
  buildMs: number;
  snapshotMs: number;
  snapshotBytes: number;
  stateDigest: string;
  resourceDigest: string;
  /** Ports of the first tenant (org0/p), to check a full ListPorts of it. */
  portsOfFirstTenant: number;
  /** This process's RSS with the state built and the snapshot encoded. */
  builderRssBytes: number;
  heapUsedBytes: number;
}

/** The backup's own cluster id; the restore must use another one. */
export const builtClusterId = "scale-build";
export const subnetsPerVpc = 4;
/** Usable addresses of a /19 (network and broadcast excluded). */
const subnetCapacity = 8190;

export function vpcsFor(ports: number): number {
  // 40 VPCs up to 1M ports (25,000 each, 6,250 per subnet); more VPCs only above that.
  return Math.max(40, Math.ceil(ports / (subnetsPerVpc * 6_250)));
}

function portUuid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
}

function mac(n: number): string {
  const hex = n.toString(16).padStart(6, "0");
  return `fa:16:3e:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
}

function build(portsN: number, out: string): BuildResult {
  const vpcsN = vpcsFor(portsN);
  if (vpcsN > 200) throw new Error("too many ports for the 10.<t>.0.0/16 layout");
  const sm = new NetworkStateMachine();
  let index = 0;
  let timeMs = 1_700_000_000_000;
  const apply = (command: Command): unknown => {
    const ctx: ApplyContext = { index: ++index, term: 1, timestampMs: ++timeMs };
    const result = sm.apply(encodeCommand(command), ctx);
    if (!result.ok) throw new Error(`${command.type}: ${result.code} ${result.message}`);
    return result.value;
  };
  const t0 = performance.now();
  apply({ type: "Bootstrap", config: defaultNetworkConfig });
  apply({ type: "RegisterClient", client_id: "bench" });
  let request = 0;
  let portN = 0;
  let subnets = 0;
  let firstTenant = 0;
  let lastReport = 0;
  for (let t = 0; t < vpcsN; t++) {
    const tenant = { client_id: "bench", org_id: `org${t}`, project_id: "p" };
    const cmd = (c: Record<string, unknown>): Command =>
      ({ ...tenant, request_id: ++request, ...c }) as unknown as Command;
    const vpcId = `org${t}/p`;
    apply(cmd({ type: "CreateVpc", name: `vpc ${t}`, cidr: `10.${t}.0.0/16` }));
    subnets++;
    // Even spread: VPC t gets its share of what is left.
    const inVpc = Math.floor((portsN - portN) / (vpcsN - t));
    for (let s = 0; s < subnetsPerVpc; s++) {
      apply(
        cmd({
          type: "CreateSubnet",
          vpc_id: vpcId,
          name: `s${s}`,
          cidr: `10.${t}.${64 + 32 * s}.0/19`,
        }),
      );
      subnets++;
      const inSubnet = Math.floor(inVpc / subnetsPerVpc) + (s < inVpc % subnetsPerVpc ? 1 : 0);
      if (inSubnet > subnetCapacity) throw new Error(`${inSubnet} ports do not fit a /19`);
      for (let i = 0; i < inSubnet; i++) {
        portN++;
        apply(
          cmd({
            type: "CreatePort",
            port_id: portUuid(portN),
            subnet_id: `${vpcId}/s${s}`,
            mac_address: mac(portN),
            ...(portN % 2 === 0 ? { security_group_ids: ["default"] } : {}),
          }),
        );
        if (portN - lastReport >= 10_000) {
          lastReport = portN;
          process.stderr.write(`progress ${portN}\n`);
        }
      }
    }
    if (t === 0) firstTenant = portN;
  }
  const buildMs = performance.now() - t0;
  const t1 = performance.now();
  const bytes = sm.snapshot();
  const snapshotMs = performance.now() - t1;
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const stateDigest = sm.digest();
  writeFileSync(out, bytes);
  // The manifest as ClusterClient.saveBackup writes it (src/server/restore.ts checks it).
  const manifest = {
    endpoint: "in-process",
    clusterId: builtClusterId,
    appliedIndex: sm.appliedIndex,
    term: 1,
    stateDigest,
    bytes: bytes.length,
    sha256,
  };
  writeFileSync(`${out}.json`, `${JSON.stringify(manifest, null, 2)}\n`);
  return {
    ports: portN,
    vpcs: vpcsN,
    subnets,
    commands: index,
    buildMs,
    snapshotMs,
    snapshotBytes: bytes.length,
    stateDigest,
    resourceDigest: sm.resourceDigest(),
    portsOfFirstTenant: firstTenant,
    builderRssBytes: process.memoryUsage().rss,
    heapUsedBytes: process.memoryUsage().heapUsed,
  };
}

const { values } = parseArgs({
  options: { ports: { type: "string" }, out: { type: "string" } },
});
const ports = Number(values.ports);
if (!Number.isInteger(ports) || ports < 1 || ports > 1_048_000 || values.out === undefined) {
  throw new Error("usage: scale-build.ts --ports N (1 … 1,048,000) --out FILE");
}
process.stdout.write(`${JSON.stringify(build(ports, values.out))}\n`);
