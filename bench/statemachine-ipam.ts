// IPAM and snapshot benchmark for src/statemachine.
//
//   npx tsx bench/statemachine-ipam.ts
//
// 1. Allocations per second in a /16 and a /8 subnet: the IPAM structure alone (SubnetIpam),
//    and end to end through apply() of encoded CreatePort commands for the /16.
// 2. The first 1,000 against the last 1,000 allocations of a full /16 (the cost must stay
//    flat), also under churn (free a random address, allocate again) in a full /16 and /8.
// 3. Snapshot and restore time and size at 100k ports (100 tenants × 1,000 ports).

import {
  type ApplyContext,
  defaultNetworkConfig,
  encodeCommand,
  NetworkStateMachine,
  type TenantCommand,
} from "../src/statemachine/index.js";
import { SubnetIpam } from "../src/statemachine/ipam.js";

function now(): number {
  return performance.now();
}

function rate(count: number, ms: number): string {
  return `${Math.round((count / ms) * 1000).toLocaleString("en-US")}/s`;
}

function perOp(count: number, ms: number): string {
  return `${((ms * 1000) / count).toFixed(3)} µs`;
}

/** Reserved like a subnet: network, gateway, broadcast. */
function subnetIpam(prefixLength: number): SubnetIpam {
  const size = 1n << BigInt(32 - prefixLength);
  return new SubnetIpam(size, [
    { lo: 0n, hi: 1n },
    { lo: size - 1n, hi: size - 1n },
  ]);
}

/** Deterministic PRNG (xorshift32) so runs are comparable. */
function prng(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** One full fill: [first 1,000 ms, last 1,000 ms, total ms]. */
function fillOnce(ipam: SubnetIpam): [number, number, number] {
  const usable = Number(ipam.usableCount);
  const windowSize = 1000;
  const start = now();
  for (let i = 0; i < windowSize; i++) ipam.allocateNext();
  const first = now() - start;
  for (let i = windowSize; i < usable - windowSize; i++) ipam.allocateNext();
  const t = now();
  for (let i = 0; i < windowSize; i++) ipam.allocateNext();
  const last = now() - t;
  if (ipam.allocateNext() !== null) throw new Error("subnet should be full");
  return [first, last, now() - start];
}

function ipamFill(prefixLength: number, repeats: number): SubnetIpam {
  const runs: [number, number, number][] = [];
  let ipam = subnetIpam(prefixLength);
  for (let r = 0; r < repeats; r++) {
    ipam = subnetIpam(prefixLength);
    runs.push(fillOnce(ipam));
  }
  const usable = Number(ipam.usableCount);
  const [first, last, total] = [0, 1, 2].map((k) => median(runs.map((run) => run[k]!)));
  console.log(
    `  /${prefixLength}: ${usable.toLocaleString("en-US")} allocations in ${total!.toFixed(0)} ms = ${rate(usable, total!)}` +
      ` | first 1,000: ${perOp(1000, first!)}/alloc, last 1,000: ${perOp(1000, last!)}/alloc (median of ${repeats} fills)`,
  );
  return ipam;
}

/** Churn in a full subnet: free a random address, allocate the next (next-fit wraps to it). */
function ipamChurn(prefixLength: number, ipam: SubnetIpam): void {
  const usable = Number(ipam.usableCount);
  const random = prng(prefixLength);
  const rounds = 200_000;
  const t = now();
  let worst = 0;
  for (let i = 0; i < rounds; i++) {
    const offset = 2n + BigInt(Math.floor(random() * (usable - 1)));
    if (!ipam.isAllocated(offset)) continue;
    ipam.release(offset);
    const before = ipam.window.probeCount;
    if (ipam.allocateNext() !== offset) throw new Error("next-fit should find the only hole");
    worst = Math.max(worst, ipam.window.probeCount - before);
  }
  const churn = now() - t;
  console.log(
    `  /${prefixLength} full, churn (release a random address + allocate): ${rate(rounds, churn)} pairs, ` +
      `worst ${worst} bitmap word reads per allocation`,
  );
}

class Log {
  readonly sm = new NetworkStateMachine();
  index = 0;
  timeMs = 1_700_000_000_000;
  apply(command: Parameters<typeof encodeCommand>[0]) {
    const ctx: ApplyContext = { index: ++this.index, term: 1, timestampMs: ++this.timeMs };
    const result = this.sm.apply(encodeCommand(command), ctx);
    if (!result.ok) throw new Error(`${command.type}: ${result.code} ${result.message}`);
    return result;
  }
}

function uuid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
}

function mac(n: number): string {
  const hex = n.toString(16).padStart(6, "0");
  return `fa:16:3e:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
}

function port(
  clientId: string,
  requestId: number,
  org: string,
  subnet: string,
  n: number,
): TenantCommand {
  return {
    type: "CreatePort",
    client_id: clientId,
    request_id: requestId,
    org_id: org,
    project_id: "p",
    port_id: uuid(n),
    subnet_id: subnet,
    mac_address: mac(n),
  };
}

/** Fill a /16 subnet through apply(); returns [first 1,000 ms, last 1,000 ms, total ms]. */
function applyFill16(): [number, number, number] {
  const log = new Log();
  log.apply({ type: "Bootstrap", config: defaultNetworkConfig });
  log.apply({ type: "RegisterClient", client_id: "bench" });
  let request = 0;
  const tenant = { client_id: "bench", org_id: "bench", project_id: "p" };
  log.apply({ type: "CreateVpc", ...tenant, request_id: ++request, name: "v", cidr: "10.0.0.0/8" });
  log.apply({
    type: "CreateSubnet",
    ...tenant,
    request_id: ++request,
    vpc_id: "bench/p",
    name: "big",
    cidr: "10.1.0.0/16",
  });
  const usable = 65_536 - 3;
  const commands = Array.from({ length: usable }, (_, i) =>
    encodeCommand(port("bench", ++request, "bench", "bench/p/big", i + 1)),
  );
  const apply = (bytes: Uint8Array) =>
    log.sm.apply(bytes, { index: ++log.index, term: 1, timestampMs: ++log.timeMs });
  const start = now();
  for (let i = 0; i < 1000; i++) apply(commands[i]!);
  const first = now() - start;
  for (let i = 1000; i < usable - 1000; i++) apply(commands[i]!);
  const t = now();
  for (let i = usable - 1000; i < usable; i++)
    if (!apply(commands[i]!).ok) throw new Error("port refused");
  const last = now() - t;
  const total = now() - start;
  const full = apply(encodeCommand(port("bench", ++request, "bench", "bench/p/big", 999_999)));
  if (full.ok || full.code !== "SUBNET_EXHAUSTED") throw new Error("expected SUBNET_EXHAUSTED");
  return [first, last, total];
}

function applyBench(repeats: number): void {
  applyFill16(); // warm-up
  const runs = Array.from({ length: repeats }, () => applyFill16());
  const [first, last, total] = [0, 1, 2].map((k) => median(runs.map((run) => run[k]!)));
  const usable = 65_536 - 3;
  console.log(
    `  /16 via apply(CreatePort bytes): ${usable.toLocaleString("en-US")} ports in ${total!.toFixed(0)} ms = ${rate(usable, total!)}` +
      ` | first 1,000: ${perOp(1000, first!)}/port, last 1,000: ${perOp(1000, last!)}/port (median of ${repeats} fills)`,
  );
  console.log("  /16 full: the next CreatePort is SUBNET_EXHAUSTED");
}

function snapshot100k(): void {
  const log = new Log();
  log.apply({ type: "Bootstrap", config: defaultNetworkConfig });
  log.apply({ type: "RegisterClient", client_id: "bench" });
  let request = 0;
  const t0 = now();
  for (let t = 0; t < 100; t++) {
    const tenant = { client_id: "bench", org_id: `org${t}`, project_id: "p" };
    log.apply({ type: "CreateVpc", ...tenant, request_id: ++request, name: `vpc ${t}` });
    log.apply({
      type: "CreateSubnet",
      ...tenant,
      request_id: ++request,
      vpc_id: `org${t}/p`,
      name: "s",
      cidr: `10.${t}.4.0/22`,
    });
    for (let i = 0; i < 1000; i++)
      log.apply(port("bench", ++request, `org${t}`, `org${t}/p/s`, t * 1000 + i + 1));
  }
  const build = now() - t0;
  console.log(
    `  built 100 VPCs × 1,000 ports (100,000 ports) through apply in ${build.toFixed(0)} ms`,
  );
  let t = now();
  const bytes = log.sm.snapshot();
  const snapshotMs = now() - t;
  t = now();
  const restored = NetworkStateMachine.restore(bytes);
  const restoreMs = now() - t;
  t = now();
  const digest = log.sm.digest();
  const digestMs = now() - t;
  if (restored.digest() !== digest) throw new Error("restored digest differs");
  console.log(
    `  snapshot: ${(bytes.byteLength / 1024 / 1024).toFixed(2)} MiB in ${snapshotMs.toFixed(0)} ms | ` +
      `restore (rebuild indexes + full invariant check): ${restoreMs.toFixed(0)} ms | digest: ${digestMs.toFixed(0)} ms`,
  );
  console.log(
    `  (the snapshot includes ${Math.min(request, defaultNetworkConfig.session_responses_max)} remembered responses of the bench session)`,
  );
}

console.log(`statemachine IPAM bench — node ${process.version}`);
console.log("IPAM structure (SubnetIpam: hierarchical bitmap, next-fit cursor):");
ipamChurn(16, ipamFill(16, 9));
ipamChurn(8, ipamFill(8, 3));
console.log("End to end (decode + session + validation + IPAM + indexes):");
applyBench(3);
console.log("Snapshot at 100k ports:");
snapshot100k();
