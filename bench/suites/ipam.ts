// The IPAM microbenchmark (src/statemachine, in this process, no I/O):
// 1. allocations per second in a /16 and a /8 with the IPAM structure alone (SubnetIpam), and the
//    first 1,000 against the last 1,000 allocations of a full subnet (the cost must stay flat);
// 2. churn in a full subnet: free a random address, allocate again (next-fit finds the hole);
// 3. end to end through apply() of encoded CreatePort commands (decode, session, validation,
//    IPAM, indexes) until a /16 is full, and the next one refused with SUBNET_EXHAUSTED.
import {
  type ApplyContext,
  defaultNetworkConfig,
  encodeCommand,
  NetworkStateMachine,
  type TenantCommand,
} from "../../src/statemachine/index.js";
import { SubnetIpam } from "../../src/statemachine/ipam.js";
import { fmtInt, type Progress, type Suite, type Table } from "../lib/report.js";

const now = () => performance.now();
const windowSize = 1000;

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

interface Fill {
  allocations: number;
  totalMs: number;
  first1000Ms: number;
  last1000Ms: number;
}

function medianFill(runs: Fill[]): Fill {
  return {
    allocations: runs[0]!.allocations,
    totalMs: median(runs.map((r) => r.totalMs)),
    first1000Ms: median(runs.map((r) => r.first1000Ms)),
    last1000Ms: median(runs.map((r) => r.last1000Ms)),
  };
}

function fillOnce(ipam: SubnetIpam): Fill {
  const usable = Number(ipam.usableCount);
  const start = now();
  for (let i = 0; i < windowSize; i++) ipam.allocateNext();
  const first = now() - start;
  for (let i = windowSize; i < usable - windowSize; i++) ipam.allocateNext();
  const t = now();
  for (let i = 0; i < windowSize; i++) ipam.allocateNext();
  const last = now() - t;
  if (ipam.allocateNext() !== null) throw new Error("subnet should be full");
  return { allocations: usable, totalMs: now() - start, first1000Ms: first, last1000Ms: last };
}

interface Churn {
  pairs: number;
  ms: number;
  worstWordReads: number;
}

/** Free a random address of a full subnet, allocate the next: next-fit must find that hole. */
function churn(prefixLength: number, ipam: SubnetIpam, rounds: number): Churn {
  const usable = Number(ipam.usableCount);
  const random = prng(prefixLength);
  const t = now();
  let worst = 0;
  let pairs = 0;
  for (let i = 0; i < rounds; i++) {
    const offset = 2n + BigInt(Math.floor(random() * (usable - 1)));
    if (!ipam.isAllocated(offset)) continue;
    ipam.release(offset);
    const before = ipam.window.probeCount;
    if (ipam.allocateNext() !== offset) throw new Error("next-fit should find the only hole");
    worst = Math.max(worst, ipam.window.probeCount - before);
    pairs++;
  }
  return { pairs, ms: now() - t, worstWordReads: worst };
}

function uuid(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
}

function mac(n: number): string {
  const hex = n.toString(16).padStart(6, "0");
  return `fa:16:3e:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`;
}

function port(requestId: number, n: number): TenantCommand {
  return {
    type: "CreatePort",
    client_id: "bench",
    request_id: requestId,
    org_id: "bench",
    project_id: "p",
    port_id: uuid(n),
    subnet_id: "bench/p/big",
    mac_address: mac(n),
  };
}

/** Fills a /16 through apply() of encoded CreatePorts (encoding is done before the clock runs). */
function applyFill16(): Fill {
  const sm = new NetworkStateMachine();
  let index = 0;
  let timeMs = 1_700_000_000_000;
  const apply = (bytes: Uint8Array) => {
    const ctx: ApplyContext = { index: ++index, term: 1, timestampMs: ++timeMs };
    return sm.apply(bytes, ctx);
  };
  let request = 0;
  const tenant = { client_id: "bench", org_id: "bench", project_id: "p" };
  for (const c of [
    { type: "Bootstrap", config: defaultNetworkConfig },
    { type: "RegisterClient", client_id: "bench" },
    { type: "CreateVpc", ...tenant, request_id: ++request, name: "v", cidr: "10.0.0.0/8" },
    {
      type: "CreateSubnet",
      ...tenant,
      request_id: ++request,
      vpc_id: "bench/p",
      name: "big",
      cidr: "10.1.0.0/16",
    },
  ] as const) {
    const r = apply(encodeCommand(c));
    if (!r.ok) throw new Error(`${c.type}: ${r.code} ${r.message}`);
  }
  const usable = 65_536 - 3;
  const commands = Array.from({ length: usable }, (_, i) => encodeCommand(port(++request, i + 1)));
  const start = now();
  for (let i = 0; i < windowSize; i++) apply(commands[i]!);
  const first = now() - start;
  for (let i = windowSize; i < usable - windowSize; i++) apply(commands[i]!);
  const t = now();
  for (let i = usable - windowSize; i < usable; i++) {
    if (!apply(commands[i]!).ok) throw new Error("port refused before the subnet was full");
  }
  const last = now() - t;
  const totalMs = now() - start;
  const full = apply(encodeCommand(port(++request, 999_999)));
  if (full.ok || full.code !== "SUBNET_EXHAUSTED") throw new Error("expected SUBNET_EXHAUSTED");
  return { allocations: usable, totalMs, first1000Ms: first, last1000Ms: last };
}

const perSecond = (count: number, ms: number) => fmtInt((count / ms) * 1000);
const microsEach = (count: number, ms: number) => ((ms * 1000) / count).toFixed(3);

function steps(progress: Progress, total: number) {
  let done = 0;
  progress.start("ipam", total);
  return (info: string) => progress.update(++done, info);
}

export const suite: Suite = {
  name: "ipam",
  title: "IPAM microbenchmark",
  async run(ctx) {
    const repeats16 = ctx.quick ? 1 : 9;
    const repeats8 = ctx.quick ? 0 : 3;
    const applyRepeats = ctx.quick ? 1 : 3;
    const churnRounds = ctx.quick ? 20_000 : 200_000;
    const step = steps(ctx.progress, repeats16 + repeats8 + 2 + applyRepeats + 1);
    const fills: Record<string, Fill> = {};
    const churns: Record<string, Churn> = {};
    for (const [prefix, repeats] of [
      [16, repeats16],
      [8, repeats8],
    ] as const) {
      if (repeats === 0) continue;
      const runs: Fill[] = [];
      let ipam = subnetIpam(prefix);
      for (let r = 0; r < repeats; r++) {
        ipam = subnetIpam(prefix);
        runs.push(fillOnce(ipam));
        step(`/${prefix} fill ${r + 1}/${repeats}`);
      }
      fills[`/${prefix}`] = medianFill(runs);
      churns[`/${prefix}`] = churn(prefix, ipam, churnRounds);
      step(`/${prefix} churn`);
      // Let the event loop breathe so the bar redraws between the long synchronous parts.
      await new Promise((r) => setImmediate(r));
    }
    applyFill16(); // warm-up (JIT, allocation sites)
    step("apply warm-up");
    const applyRuns: Fill[] = [];
    for (let r = 0; r < applyRepeats; r++) {
      applyRuns.push(applyFill16());
      step(`apply fill ${r + 1}/${applyRepeats}`);
      await new Promise((res) => setImmediate(res));
    }
    const viaApply = medianFill(applyRuns);
    ctx.progress.stop();

    const structure: Table = {
      title: "IPAM structure (SubnetIpam: hierarchical bitmap, next-fit cursor), one core",
      columns: [
        "subnet",
        "allocations",
        "allocations/s",
        "first 1,000 µs each",
        "last 1,000 µs each",
        "churn pairs/s",
        "worst word reads",
      ],
      rows: Object.entries(fills).map(([name, f]) => {
        const c = churns[name]!;
        return [
          name,
          f.allocations,
          perSecond(f.allocations, f.totalMs),
          microsEach(windowSize, f.first1000Ms),
          microsEach(windowSize, f.last1000Ms),
          perSecond(c.pairs, c.ms),
          c.worstWordReads,
        ];
      }),
      notes: [
        `Median of ${repeats16} (/16) and ${repeats8} (/8) fills from empty to full. Churn: free a random address of the full subnet, allocate again (${fmtInt(churnRounds)} rounds).`,
      ],
    };
    const endToEnd: Table = {
      title: "CreatePort through the state machine's apply(), one core",
      columns: ["subnet", "ports", "ports/s", "first 1,000 µs each", "last 1,000 µs each"],
      rows: [
        [
          "/16",
          viaApply.allocations,
          perSecond(viaApply.allocations, viaApply.totalMs),
          microsEach(windowSize, viaApply.first1000Ms),
          microsEach(windowSize, viaApply.last1000Ms),
        ],
      ],
      notes: [
        "Encoded commands applied in order (decode, session, validation, IPAM, indexes), median of " +
          `${applyRepeats} fills; the next CreatePort in the full /16 is refused with SUBNET_EXHAUSTED.`,
      ],
    };
    return {
      suite: "ipam",
      title: "IPAM microbenchmark",
      command: "npm run bench -- --only ipam",
      tables: [structure, endToEnd],
      goals: [],
      charts: [],
      data: {
        fills,
        churns,
        viaApply,
        repeats: { repeats16, repeats8, applyRepeats, churnRounds },
      },
    };
  },
};
