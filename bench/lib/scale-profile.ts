// Where a restarting replica's time goes, from a V8 .cpuprofile (node --cpu-prof): every sample
// is put in one category by its stack, so the categories add up to the profile's wall time.
// Used by bench/suites/scale.ts to explain the restart-to-ready number.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** In priority order: the first that matches a frame of the stack takes the sample. */
const categories: { name: string; match: (fn: string, url: string) => boolean }[] = [
  { name: "invariant check", match: (fn) => fn === "checkStateInvariants" },
  { name: "snapshot decode (msgpack)", match: (fn) => fn === "unpackBody" },
  {
    name: "index rebuild",
    match: (fn, url) => fn === "decodeSnapshot" && url.endsWith("statemachine/snapshot.ts"),
  },
  { name: "LevelDB", match: (_fn, url) => /\/(classic-level|abstract-level|level)\//.test(url) },
  { name: "module loading (tsx)", match: (_fn, url) => url.includes("internal/modules") },
  { name: "garbage collection", match: (fn) => fn === "(garbage collector)" },
  { name: "idle (I/O, timers, waiting for peers)", match: (fn) => fn === "(idle)" },
];

export interface ProfileSummary {
  file: string;
  wallMs: number;
  /** Milliseconds per category, plus "other" (e.g. Raft, gRPC, the log replay). */
  ms: Record<string, number>;
}

export function summariseProfile(file: string): ProfileSummary {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Category of each node, from its own frame up to the root (memoised per node).
  const memo = new Map<number, number>();
  const categoryOf = (id: number): number => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    const n = byId.get(id)!;
    const own = categories.findIndex((c) => c.match(n.callFrame.functionName, n.callFrame.url));
    const up = parent.get(id);
    const upCat = up !== undefined ? categoryOf(up) : categories.length;
    const cat = own >= 0 && own < upCat ? own : upCat;
    memo.set(id, cat);
    return cat;
  };
  const ms: Record<string, number> = {};
  let wall = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    wall += dt;
    const name = categories[categoryOf(p.samples[i]!)]?.name ?? "other";
    ms[name] = (ms[name] ?? 0) + dt;
  }
  return { file, wallMs: wall, ms };
}

/** The main thread's profile in `dir`: the one that spent most time outside idle. */
export function mainThreadProfile(dir: string): ProfileSummary | undefined {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).size > 0);
  const busy = (s: ProfileSummary) =>
    s.wallMs - (s.ms["idle (I/O, timers, waiting for peers)"] ?? 0);
  return files.map(summariseProfile).sort((a, b) => busy(b) - busy(a))[0];
}
