// CLI of the deterministic simulator:
//
//   npm run sim -- --seeds A-B [--trace FILE] [--ticks N] [--jobs N] [--verbose] [--keep-going]
//
// Runs every seed in the inclusive range (in worker threads when there are many), prints compact
// progress, and exits 1 at the first violation with the seed, the violation, the last trace lines
// and a replay command. With several workers, the reported failure is still the smallest failing
// seed of the range (seeds are dispatched in order and in-flight seeds are awaited), so the output
// does not depend on scheduling.
import { writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { type RunResult, runSeed } from "./run.js";

interface CliOptions {
  from: number;
  to: number;
  traceFile: string | undefined;
  ticks: number | undefined;
  jobs: number;
  verbose: boolean;
  keepGoing: boolean;
}

type Slim = Omit<RunResult, "traceText">;

interface WorkerInit {
  ticks: number | undefined;
}
type ToWorker = { seed: number } | { stop: true };
type FromWorker = { result: Slim };

const usage = `usage: npm run sim -- --seeds A-B [--trace FILE] [--ticks N] [--jobs N] [--verbose] [--keep-going]
  --seeds A-B     inclusive seed range (or a single seed: --seeds 7)
  --trace FILE    write the full trace of the (first failing, else last) seed to FILE
  --ticks N       phase-1 ticks per seed (default: drawn per seed, 800-2000)
  --jobs N        worker threads (default: 2 when there are 8+ seeds and 2+ cores, else 1)
  --verbose       one summary line per seed
  --keep-going    run every seed, then list the failures grouped by violation`;

function parseArgs(argv: string[]): CliOptions {
  let from: number | undefined;
  let to: number | undefined;
  let traceFile: string | undefined;
  let ticks: number | undefined;
  let jobs: number | undefined;
  let verbose = false;
  let keepGoing = false;
  const die = (why: string): never => {
    console.error(`sim: ${why}\n${usage}`);
    process.exit(2);
  };
  const intArg = (s: string | undefined, what: string): number => {
    if (s === undefined || !/^\d+$/.test(s)) die(`${what} must be a non-negative integer`);
    const n = Number(s);
    if (!Number.isSafeInteger(n)) die(`${what} is too large`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const [flag, inline] = a.includes("=") ? (a.split("=", 2) as [string, string]) : [a, undefined];
    const value = (): string => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined) die(`${flag} needs a value`);
      return v as string;
    };
    switch (flag) {
      case "--seeds": {
        const v = value();
        const m = /^(\d+)(?:-(\d+))?$/.exec(v);
        if (m === null) die(`--seeds wants A-B, got ${v}`);
        from = intArg(m?.[1], "--seeds start");
        to = m?.[2] === undefined ? from : intArg(m[2], "--seeds end");
        break;
      }
      case "--trace":
        traceFile = value();
        break;
      case "--ticks":
        ticks = intArg(value(), "--ticks");
        if (ticks < 1) die("--ticks must be >= 1");
        break;
      case "--jobs":
        jobs = intArg(value(), "--jobs");
        if (jobs < 1) die("--jobs must be >= 1");
        break;
      case "--verbose":
        verbose = true;
        break;
      case "--keep-going":
        keepGoing = true;
        break;
      case "--help":
      case "-h":
        console.log(usage);
        process.exit(0);
        break;
      default:
        die(`unknown argument ${a}`);
    }
  }
  if (from === undefined || to === undefined) return die("--seeds is required");
  if (to < from) die(`--seeds range ${from}-${to} is empty`);
  const count = to - from + 1;
  const cores = availableParallelism();
  const defaultJobs = count >= 8 && cores >= 2 && traceFile === undefined ? 2 : 1;
  return {
    from,
    to,
    traceFile,
    ticks,
    jobs: Math.min(jobs ?? defaultJobs, count),
    verbose,
    keepGoing,
  };
}

function slim(r: RunResult): Slim {
  const { traceText: _, ...rest } = r;
  return rest;
}

/** Runs seeds in order over `jobs` workers (or inline), calling onResult in completion order. */
async function runAll(opts: CliOptions, onResult: (r: Slim) => "continue" | "stop"): Promise<void> {
  if (opts.jobs <= 1) {
    for (let s = opts.from; s <= opts.to; s++) {
      const r = runSeed({
        seed: s,
        keepTrace: false,
        ...(opts.ticks !== undefined ? { ticks: opts.ticks } : {}),
      });
      if (onResult(slim(r)) === "stop") return;
    }
    return;
  }
  let next = opts.from;
  let stopping = false;
  const init: WorkerInit = { ticks: opts.ticks };
  await new Promise<void>((resolve, reject) => {
    let live = 0;
    const workers: Worker[] = [];
    const feed = (w: Worker) => {
      if (stopping || next > opts.to) {
        w.postMessage({ stop: true } satisfies ToWorker);
        return;
      }
      w.postMessage({ seed: next++ } satisfies ToWorker);
    };
    for (let i = 0; i < opts.jobs; i++) {
      const w = spawnWorker(init);
      workers.push(w);
      live++;
      w.on("message", (m: FromWorker) => {
        if (onResult(m.result) === "stop") stopping = true;
        feed(w);
      });
      w.on("error", (err) => {
        for (const x of workers) void x.terminate();
        reject(err);
      });
      w.on("exit", () => {
        live--;
        if (live === 0) resolve();
      });
      feed(w);
    }
  });
}

/**
 * A worker running this file. Under tsx, workers do not inherit its module hooks, so the worker
 * starts from a small script that registers them (tsx/esm/api) before importing this file.
 */
function spawnWorker(init: WorkerInit): Worker {
  const self = import.meta.url;
  if (!self.endsWith(".ts")) return new Worker(new URL(self), { workerData: init });
  const api = import.meta.resolve("tsx/esm/api");
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(self)}); });`;
  return new Worker(boot, { eval: true, workerData: init });
}

function fmtCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e4) return `${Math.round(n / 1e3)}k`;
  return String(n);
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const count = opts.to - opts.from + 1;
  const started = performance.now();
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)}s`;
  console.log(
    `sim: seeds ${opts.from}-${opts.to} (${count} run${count === 1 ? "" : "s"}), ${opts.jobs} worker${opts.jobs === 1 ? "" : "s"}`,
  );
  const every = count <= 20 ? 1 : count <= 200 ? 25 : 100;
  let done = 0;
  let passed = 0;
  const totals = {
    ticks: 0,
    msgs: 0,
    crashes: 0,
    elections: 0,
    acked: 0,
    reads: 0,
    conf: 0,
    snaps: 0,
  };
  const failures: Slim[] = [];
  let firstFailure: number | undefined;
  await runAll(opts, (r) => {
    done++;
    totals.ticks += r.stats.ticks;
    totals.msgs += r.network.delivered;
    totals.crashes += r.stats.crashes;
    totals.elections += r.stats.elections;
    totals.acked += r.stats.writesAcked;
    totals.reads += r.stats.readsServed;
    totals.conf += r.stats.confApplied;
    totals.snaps += r.stats.snapshotsRestored;
    if (r.ok) passed++;
    else {
      failures.push(r);
      if (firstFailure === undefined) firstFailure = r.seed;
    }
    if (opts.verbose || count === 1)
      console.log(`  ${r.ok ? "ok  " : "FAIL"} ${r.summary} trace=${r.digest}`);
    else if (done % every === 0 || done === count) {
      console.log(
        `  [${String(done).padStart(String(count).length)}/${count}] ${passed} passed, ${done - passed} failed  ${elapsed()}  ` +
          `ticks=${fmtCount(totals.ticks)} msgs=${fmtCount(totals.msgs)} crashes=${fmtCount(totals.crashes)} ` +
          `elections=${fmtCount(totals.elections)} writes=${fmtCount(totals.acked)} reads=${fmtCount(totals.reads)} ` +
          `conf=${fmtCount(totals.conf)} snapshots=${fmtCount(totals.snaps)}`,
      );
    }
    return !r.ok && !opts.keepGoing ? "stop" : "continue";
  });
  failures.sort((a, b) => a.seed - b.seed);
  const first = failures[0];
  if (opts.traceFile !== undefined) {
    const seed = first?.seed ?? opts.to;
    const r = runSeed({
      seed,
      keepTrace: true,
      ...(opts.ticks !== undefined ? { ticks: opts.ticks } : {}),
    });
    writeFileSync(opts.traceFile, r.traceText);
    console.log(
      `trace of seed ${seed} (${r.traceLines} lines, digest ${r.digest}) written to ${opts.traceFile}`,
    );
  }
  if (first === undefined) {
    console.log(`${passed} passed, 0 failed (seeds ${opts.from}-${opts.to}) in ${elapsed()}`);
    return;
  }
  if (opts.keepGoing) {
    const groups = new Map<string, number[]>();
    for (const f of failures) {
      const line = (f.violation?.message ?? "").split("\n")[0] as string;
      const key = line.replace(/\d+/g, "#").slice(0, 120);
      const g = groups.get(key) ?? [];
      g.push(f.seed);
      groups.set(key, g);
    }
    console.log("failures by violation:");
    for (const [k, seeds] of groups) {
      console.log(
        `  ${String(seeds.length).padStart(4)}  ${k}\n        seeds ${seeds.slice(0, 12).join(" ")}${seeds.length > 12 ? " ..." : ""}`,
      );
    }
  }
  const v = first.violation;
  console.log(`\nFAIL seed ${first.seed}: ${v?.message ?? "unknown"}`);
  console.log(`  ${first.summary}`);
  console.log(`--- last trace lines of seed ${first.seed} ---`);
  for (const line of first.tail.slice(-40)) console.log(`  ${line}`);
  if (v?.checker === "sim-error" || v?.message.includes("core threw"))
    console.log(`--- stack ---\n${v.stack}`);
  console.log(
    `replay: npm run sim -- --seeds ${first.seed}-${first.seed} --trace /tmp/sim-${first.seed}.trace`,
  );
  console.log(`${passed} passed, ${failures.length} failed (of ${done} run) in ${elapsed()}`);
  process.exitCode = 1;
}

function workerMain(): void {
  const init = workerData as WorkerInit;
  const port = parentPort;
  if (port === null) throw new Error("sim worker without a parent port");
  port.on("message", (m: ToWorker) => {
    if ("stop" in m) {
      port.close();
      return;
    }
    const r = runSeed({
      seed: m.seed,
      keepTrace: false,
      ...(init.ticks !== undefined ? { ticks: init.ticks } : {}),
    });
    port.postMessage({ result: slim(r) } satisfies FromWorker);
  });
}

if (isMainThread) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  workerMain();
}
