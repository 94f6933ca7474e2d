// The benchmark report: runs the suites one after another on this machine (nothing else should
// run), shows a progress bar, prints each suite's tables and the goals, and saves
// bench/results/<suite>.json, the charts (SVG) and bench/results/report.md.
//
//   npm run bench                          all suites, full sizes (about half an hour)
//   npm run bench -- --only throughput,failover
//   npm run bench -- --quick               small sizes: checks every path in a few minutes
//
// Suites: see `suiteNames`. Root is needed for the OVN suite (network namespaces, OVS).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { projectRoot } from "../cluster/lib/replica-processes.js";
import {
  CleanupStack,
  goalsTable,
  markdownTable,
  renderSvg,
  type Suite,
  type SuiteResult,
  terminalProgress,
} from "./lib/report.js";

/** In report order; each is bench/suites/<name>.ts exporting `suite`. */
export const suiteNames = ["throughput", "failover", "ovn-sync", "scale", "ipam", "raft"] as const;

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    skip: { type: "string" },
    quick: { type: "boolean", default: false },
    out: { type: "string", default: join(projectRoot, "bench/results") },
  },
});

function pick(list: string | undefined): string[] | undefined {
  if (list === undefined) return undefined;
  const names = list.split(",").filter(Boolean);
  for (const n of names) {
    if (!(suiteNames as readonly string[]).includes(n)) {
      throw new Error(`unknown suite ${n}; suites: ${suiteNames.join(", ")}`);
    }
  }
  return names;
}
const only = pick(values.only);
const skip = pick(values.skip) ?? [];
const selected = suiteNames.filter((n) => (only ? only.includes(n) : true) && !skip.includes(n));
const outDir = values.out!;
mkdirSync(outDir, { recursive: true });

const cleanups = new CleanupStack();
let interrupted = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (interrupted) return; // a second Ctrl-C while cleaning up: keep cleaning
    interrupted = true;
    console.error(`\n${sig}: cleaning up`);
    void cleanups.run().finally(() => process.exit(130));
  });
}

const progress = terminalProgress();
const machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? "",
  memoryBytes: totalmem(),
  node: process.version,
};
const results: SuiteResult[] = [];
const failures: { suite: string; error: string }[] = [];
const started = new Date();
console.log(
  `NovaNET benchmarks${values.quick ? " (quick)" : ""}: ${selected.join(", ")} on ${machine.cpus} cores, ` +
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
);

for (const name of selected) {
  const mod = (await import(`./suites/${name}.js`)) as { suite: Suite };
  const suite = mod.suite;
  if (suite.root && process.getuid?.() !== 0) {
    failures.push({ suite: name, error: "needs root (network namespaces, OVS)" });
    console.error(`\n${suite.title}: skipped, needs root`);
    continue;
  }
  console.log(`\n== ${suite.title} ==`);
  const dir = mkdtempSync(join(tmpdir(), `novanet-bench-${name}-`));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const t0 = performance.now();
  try {
    const r = await suite.run({
      progress,
      quick: values.quick!,
      dir,
      onCleanup: (fn) => cleanups.push(fn),
    });
    progress.stop();
    results.push(r);
    for (const t of r.tables) console.log(`\n${markdownTable(t)}`);
    if (r.goals.length > 0) console.log(`\n${markdownTable(goalsTable(r.goals))}`);
    writeFileSync(
      join(outDir, `${name}.json`),
      `${JSON.stringify({ date: new Date().toISOString(), quick: values.quick, machine, ...r }, null, 2)}\n`,
    );
    for (const c of r.charts) writeFileSync(join(outDir, c.file), await renderSvg(c.spec));
    console.log(`(${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  } catch (err) {
    progress.stop();
    failures.push({ suite: name, error: (err as Error).stack ?? String(err) });
    console.error(`\n${suite.title} failed: ${(err as Error).stack ?? String(err)}`);
  } finally {
    await cleanups.run();
  }
  if (interrupted) break;
}

const goals = results.flatMap((r) => r.goals);
if (goals.length > 0) {
  console.log(`\n== All goals ==\n\n${markdownTable(goalsTable(goals))}`);
}
const report = [
  `# NovaNET benchmark report${values.quick ? " (quick run: small sizes, not comparable)" : ""}`,
  "",
  `${started.toISOString()} · ${machine.cpus} × ${machine.cpuModel} · ${(machine.memoryBytes / 1024 ** 3).toFixed(0)} GiB · Node ${machine.node} · load average at the end ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
  "",
  ...results.flatMap((r) => [
    `## ${r.title}`,
    "",
    `\`${r.command}\``,
    "",
    ...r.tables.map((t) => `${markdownTable(t)}\n`),
    ...r.charts.map((c) => `![${c.file}](${c.file})\n`),
    ...(r.goals.length > 0 ? [`${markdownTable(goalsTable(r.goals))}\n`] : []),
  ]),
  ...(failures.length > 0
    ? ["## Failed suites", "", ...failures.map((f) => `- ${f.suite}: ${f.error.split("\n")[0]}`)]
    : []),
];
writeFileSync(join(outDir, "report.md"), `${report.join("\n")}\n`);
console.log(`\nresults in ${outDir} (report.md, <suite>.json, charts)`);
if (failures.length > 0) {
  console.error(`failed: ${failures.map((f) => f.suite).join(", ")}`);
  process.exit(1);
}
process.exit(0);
