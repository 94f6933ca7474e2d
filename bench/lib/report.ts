// What every benchmark suite returns and how the runner (bench/run.ts) shows it: tables printed
// on the terminal and written as Markdown, goals with how far off they are, JSON data, and
// charts rendered to SVG with Vega-Lite. Also the progress bar and the cleanup stack the suites
// share.
import { readFileSync } from "node:fs";
import { SingleBar } from "cli-progress";
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

export type Cell = string | number;

export interface Table {
  title: string;
  columns: string[];
  rows: Cell[][];
  /** Short lines printed under the table (what was measured, caveats). */
  notes?: string[];
}

/** A goal from the issue, reported against (never asserted). */
export interface Goal {
  goal: string;
  /** e.g. "≥ 1.5× etcd Put". */
  target: string;
  /** e.g. "0.9× (4,120/s vs 4,580/s)". */
  measured: string;
  met: boolean;
  /** When missed: by how much and what limits it (from a profile). */
  limit?: string;
}

export interface Chart {
  /** File name under bench/results/, e.g. "throughput.svg". */
  file: string;
  spec: TopLevelSpec;
}

export interface SuiteResult {
  suite: string;
  title: string;
  /** The command that reproduces this suite alone. */
  command: string;
  tables: Table[];
  goals: Goal[];
  charts: Chart[];
  /** Raw numbers, saved as bench/results/<suite>.json. */
  data: unknown;
}

/** One bar at a time; `label` says what runs, `info` the current figure (e.g. "2,311/s"). */
export interface Progress {
  start(label: string, total: number): void;
  update(done: number, info?: string): void;
  stop(): void;
  /** A line above the bar (the bar is redrawn below it). */
  log(line: string): void;
}

export interface SuiteContext {
  progress: Progress;
  /** Small sizes and short levels: a smoke run of the whole path in a minute or two. */
  quick: boolean;
  /** A temp folder for this suite, removed after it. */
  dir: string;
  /** Registered cleanups run last-first after the suite, on error and on Ctrl-C. */
  onCleanup(fn: () => Promise<void> | void): void;
}

export interface Suite {
  name: string;
  title: string;
  /** Needs root (network namespaces, OVS). */
  root?: boolean;
  run(ctx: SuiteContext): Promise<SuiteResult>;
}

// ---- numbers -------------------------------------------------------------------------------

const intFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export function fmtInt(n: number): string {
  return Number.isFinite(n) ? intFmt.format(n) : "–";
}

/** Milliseconds: one decimal below 100, none above. */
export function fmtMs(n: number): string {
  if (!Number.isFinite(n)) return "–";
  return Math.abs(n) < 100 ? n.toFixed(1) : intFmt.format(n);
}

export function fmtBytes(n: number): string {
  if (!Number.isFinite(n)) return "–";
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function fmtRatio(n: number): string {
  return Number.isFinite(n) ? `${n.toFixed(2)}×` : "–";
}

export interface Percentiles {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  // The epsilon keeps 99.9 % of 1,000 at rank 999 (floating point makes it 999.0000000000001).
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length - 1e-9) - 1);
  return sorted[Math.max(0, i)]!;
}

export function percentiles(xs: readonly number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: percentile(s, 50),
    p90: percentile(s, 90),
    p99: percentile(s, 99),
    p999: percentile(s, 99.9),
    max: s.length > 0 ? s[s.length - 1]! : Number.NaN,
  };
}

// ---- tables --------------------------------------------------------------------------------

function isNumeric(c: Cell): boolean {
  return typeof c === "number" || /^[−\-+]?[\d,.]+( ?[%×a-zA-Z/]+)?$/.test(c);
}

/** A Markdown table (GitHub flavour): readable on the terminal and pasteable into docs. */
export function markdownTable(t: Table): string {
  const cells = t.rows.map((r) => r.map((c) => (typeof c === "number" ? fmtInt(c) : c)));
  const width = t.columns.map((h, i) =>
    Math.max(3, h.length, ...cells.map((r) => (r[i] ?? "").length)),
  );
  const right = t.columns.map(
    (_, i) => t.rows.length > 0 && t.rows.every((r) => isNumeric(r[i] ?? "")),
  );
  const line = (xs: string[]) =>
    `| ${xs.map((x, i) => (right[i] ? x.padStart(width[i]!) : x.padEnd(width[i]!))).join(" | ")} |`;
  const rule = `| ${width.map((w, i) => (right[i] ? `${"-".repeat(w - 1)}:` : "-".repeat(w))).join(" | ")} |`;
  const out = [`**${t.title}**`, "", line(t.columns), rule, ...cells.map(line)];
  if (t.notes && t.notes.length > 0) out.push("", ...t.notes);
  return out.join("\n");
}

export function goalsTable(goals: readonly Goal[]): Table {
  return {
    title: "Goals",
    columns: ["goal", "target", "measured", "met"],
    rows: goals.map((g) => [g.goal, g.target, g.measured, g.met ? "yes" : "**no**"]),
    notes: goals.filter((g) => !g.met && g.limit).map((g) => `- ${g.goal}: ${g.limit}`),
  };
}

// ---- charts --------------------------------------------------------------------------------

export interface LineChartOptions {
  title: string;
  x: { field: string; title: string; log?: boolean };
  y: { field: string; title: string; log?: boolean };
  /** The field that names a line. */
  series: string;
  values: Record<string, unknown>[];
  /** A second field on the same y axis drawn dashed (e.g. p99 next to p50). */
  strokeDash?: string;
}

export function lineChart(o: LineChartOptions): TopLevelSpec {
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: o.title,
    width: 520,
    height: 300,
    background: "white",
    data: { values: o.values },
    mark: { type: "line", point: true },
    encoding: {
      x: {
        field: o.x.field,
        type: "quantitative",
        title: o.x.title,
        scale: o.x.log ? { type: "log" } : {},
        axis: o.x.log ? { values: [...new Set(o.values.map((v) => v[o.x.field] as number))] } : {},
      },
      y: {
        field: o.y.field,
        type: "quantitative",
        title: o.y.title,
        scale: o.y.log ? { type: "log" } : { zero: true },
      },
      color: { field: o.series, type: "nominal", title: null },
      ...(o.strokeDash
        ? { strokeDash: { field: o.strokeDash, type: "nominal", title: null } }
        : {}),
    },
  };
}

/** Renders a Vega-Lite spec to SVG without a browser or canvas. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

// ---- progress ------------------------------------------------------------------------------

/**
 * A progress bar on stderr (a redrawn bar on a terminal, a line every 10 % otherwise, so CI
 * logs and pipes stay readable).
 */
export function terminalProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = stream.isTTY === true;
  let bar: SingleBar | undefined;
  let label = "";
  let total = 0;
  let lastDecile = -1;
  let started = 0;
  return {
    start(l, t) {
      this.stop();
      label = l;
      total = Math.max(1, t);
      lastDecile = -1;
      started = performance.now();
      if (tty) {
        bar = new SingleBar({
          stream,
          format: "  {label} [{bar}] {percentage}% {value}/{total} {info} ({elapsed}s)",
          barsize: 30,
          hideCursor: true,
          clearOnComplete: false,
          etaBuffer: 50,
        });
        bar.start(total, 0, { label: l, info: "", elapsed: "0" });
      } else {
        stream.write(`  ${l}: started\n`);
      }
    },
    update(done, info = "") {
      const elapsed = ((performance.now() - started) / 1000).toFixed(0);
      if (bar) {
        bar.update(Math.min(done, total), { label, info, elapsed });
        return;
      }
      const decile = Math.floor((Math.min(done, total) / total) * 10);
      if (decile > lastDecile) {
        lastDecile = decile;
        stream.write(`  ${label}: ${decile * 10}% ${info} (${elapsed}s)\n`);
      }
    },
    stop() {
      if (bar) {
        bar.stop();
        bar = undefined;
      }
    },
    log(line) {
      if (bar) {
        stream.write(`\r\x1b[K${line}\n`);
        bar.render();
      } else {
        stream.write(`${line}\n`);
      }
    },
  };
}

// ---- cleanup -------------------------------------------------------------------------------

/** Last-first cleanups; one run at a time, so a signal during cleanup waits for the same run. */
export class CleanupStack {
  readonly #fns: (() => Promise<void> | void)[] = [];
  #running: Promise<void> | undefined;

  push(fn: () => Promise<void> | void): void {
    this.#fns.push(fn);
  }

  run(): Promise<void> {
    this.#running ??= (async () => {
      while (this.#fns.length > 0) {
        const fn = this.#fns.pop()!;
        try {
          await fn();
        } catch (err) {
          console.error(`cleanup: ${(err as Error).message}`);
        }
      }
    })().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }
}

// ---- processes -----------------------------------------------------------------------------

/** Resident set size of a process from /proc (Linux), or NaN when it is gone. */
export function pidRssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** User + system CPU time of a process so far, ms (/proc/<pid>/stat; NaN when it is gone). */
export function pidCpuMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the ")" of the command name: state is field 3, utime 14, stime 15, in
    // USER_HZ (100 on Linux) ticks.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(rest[11]) + Number(rest[12])) * 10;
  } catch {
    return Number.NaN;
  }
}

/**
 * Time a process's main thread (Node's event loop) was runnable but waiting for a CPU so far, ms
 * (/proc/<pid>/schedstat run delay): on a busy machine this, not the work, is where latency goes.
 */
export function pidRunQueueMs(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[1]) / 1e6;
  } catch {
    return Number.NaN;
  }
}
