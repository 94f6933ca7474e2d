// A small port of cockroachdb/datadriven, the format etcd-io/raft's interaction tests are written in.
//
// A file is a sequence of blocks separated by blank lines; `#` lines between blocks are comments:
//
//   # What this scenario proves.
//   command pos1 key=value list=(a,b) quoted="two words"
//   ----
//   expected output
//
// Lines between the command and `----` are the block's `input`. Expected output runs until the next
// blank line. Output that itself contains blank lines is written between doubled separators:
//
//   command
//   ----
//   ----
//   first paragraph
//
//   second paragraph
//   ----
//   ----
//
// `runDataDrivenFile` runs every block through a handler and compares its output with the expected
// text. With `rewrite` (REWRITE=1 in the test) the expected outputs are replaced with the actual ones
// and the file is written back; a command written without `----` gets one. A handler that throws
// fails the run in both modes and nothing is written: that is how `check` commands keep a blessed
// transcript from hiding a wrong result.

import { readFileSync, writeFileSync } from "node:fs";

/**
 * One argument of a command line: `key=value` or `key=(a,b)` (a keyed argument, possibly with an
 * empty list `key=()`), a bare word `key` (bare, no values), or a bare group `(a,b)` (key "").
 */
export interface CmdArg {
  key: string;
  vals: string[];
  bare?: true;
}

export class TestData {
  readonly file: string;
  /** 1-based line number of the command line. */
  readonly line: number;
  readonly cmd: string;
  readonly args: CmdArg[];
  readonly input: string;
  readonly expected: string;

  constructor(init: {
    file: string;
    line: number;
    cmd: string;
    args: CmdArg[];
    input: string;
    expected: string;
  }) {
    this.file = init.file;
    this.line = init.line;
    this.cmd = init.cmd;
    this.args = init.args;
    this.input = init.input;
    this.expected = init.expected;
  }

  get pos(): string {
    return `${this.file}:${this.line}`;
  }

  /** Whether `key` appears, as a bare word or as `key=...`. */
  has(key: string): boolean {
    return this.args.some((a) => a.key === key);
  }

  /** Values of `key=...`; undefined when the key is absent. */
  vals(key: string): string[] | undefined {
    return this.args.find((a) => a.key === key && a.bare !== true)?.vals;
  }

  /** The single value of `key=v`; undefined when absent; throws when it holds a list. */
  str(key: string): string | undefined {
    const v = this.vals(key);
    if (v === undefined) return undefined;
    if (v.length !== 1) throw this.error(`${key} takes exactly one value, got (${v.join(",")})`);
    return v[0];
  }

  int(key: string): number | undefined {
    const s = this.str(key);
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!Number.isInteger(n)) throw this.error(`${key}=${s} is not an integer`);
    return n;
  }

  bool(key: string): boolean | undefined {
    const s = this.str(key);
    if (s === undefined) return undefined;
    if (s !== "true" && s !== "false") throw this.error(`${key}=${s} is not true/false`);
    return s === "true";
  }

  /** Bare words (arguments without `=` and not in parentheses), in order. */
  positional(): string[] {
    return this.args.filter((a) => a.bare === true).map((a) => a.key);
  }

  /** Bare parenthesised groups such as `(1) (2,3)`, in order. */
  groups(): string[][] {
    return this.args.filter((a) => a.key === "").map((a) => a.vals);
  }

  /** Throws unless every keyed argument is one of `allowed` (bare words and groups are not checked). */
  expectKeys(...allowed: string[]): void {
    for (const a of this.args) {
      if (a.key === "" || a.bare === true) continue;
      if (!allowed.includes(a.key)) {
        throw this.error(`unknown argument ${a.key}= (allowed: ${allowed.join(", ") || "none"})`);
      }
    }
  }

  error(msg: string): Error {
    return new Error(`${this.pos}: ${this.cmd}: ${msg}`);
  }
}

/** Splits a command line into the command and its arguments. */
export function parseCommandLine(line: string): { cmd: string; args: CmdArg[] } {
  const tokens: string[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i];
    if (c === " " || c === "\t") {
      i++;
      continue;
    }
    let tok = "";
    while (i < line.length && line[i] !== " " && line[i] !== "\t") {
      const ch = line[i] as string;
      if (ch === '"') {
        const end = findClosingQuote(line, i);
        tok += line.slice(i, end + 1);
        i = end + 1;
      } else if (ch === "(") {
        const end = line.indexOf(")", i);
        if (end < 0) throw new Error(`unbalanced parenthesis in: ${line}`);
        tok += line.slice(i, end + 1);
        i = end + 1;
      } else {
        tok += ch;
        i++;
      }
    }
    tokens.push(tok);
  }
  const [cmd, ...rest] = tokens;
  if (cmd === undefined) throw new Error("empty command line");
  return { cmd, args: rest.map(parseArg) };
}

function findClosingQuote(s: string, open: number): number {
  for (let j = open + 1; j < s.length; j++) {
    if (s[j] === "\\") {
      j++;
      continue;
    }
    if (s[j] === '"') return j;
  }
  throw new Error(`unterminated string in: ${s}`);
}

function unquote(s: string): string {
  if (s.length >= 2 && s.startsWith('"') && s.endsWith('"')) return JSON.parse(s) as string;
  return s;
}

function parseList(s: string): string[] {
  const inner = s.slice(1, -1).trim();
  if (inner === "") return [];
  return inner.split(",").map((v) => unquote(v.trim()));
}

function parseArg(tok: string): CmdArg {
  if (tok.startsWith("(")) return { key: "", vals: parseList(tok) };
  const eq = tok.indexOf("=");
  if (eq < 0 || tok.startsWith('"')) return { key: unquote(tok), vals: [], bare: true };
  const key = tok.slice(0, eq);
  const v = tok.slice(eq + 1);
  if (v.startsWith("(") && v.endsWith(")")) return { key, vals: parseList(v) };
  return { key, vals: [unquote(v)] };
}

/** A block as found in the file, with the line span its expected output occupies. */
interface Block {
  data: TestData;
  /** 0-based index of the first line replaced on rewrite (the `----` line, or the insertion point). */
  replaceFrom: number;
  /** 0-based index one past the last replaced line. */
  replaceTo: number;
  /** 1-based file line of the first expected output line (for diff hunk headers). */
  outputLine: number;
  hasSeparator: boolean;
}

const SEP = "----";

export function parseDataDriven(file: string, text: string): { lines: string[]; blocks: Block[] } {
  const lines = text.split("\n");
  // A trailing newline leaves one empty string at the end; it is a line terminator, not a line.
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const blocks: Block[] = [];
  const isBlank = (l: string | undefined): boolean => l === undefined || l.trim() === "";
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as string;
    if (isBlank(line) || line.trimStart().startsWith("#")) {
      i++;
      continue;
    }
    const cmdLine = i + 1;
    const { cmd, args } = parseCommandLine(line);
    i++;
    const input: string[] = [];
    while (i < lines.length && lines[i] !== SEP && !isBlank(lines[i])) {
      input.push(lines[i] as string);
      i++;
    }
    const mk = (expected: string): TestData =>
      new TestData({ file, line: cmdLine, cmd, args, input: input.join("\n"), expected });
    if (lines[i] !== SEP) {
      // No separator yet: a freshly written command waiting for REWRITE=1.
      blocks.push({
        data: mk(""),
        replaceFrom: i,
        replaceTo: i,
        outputLine: i + 1,
        hasSeparator: false,
      });
      continue;
    }
    const sepAt = i;
    i++;
    const out: string[] = [];
    if (lines[i] === SEP) {
      // Doubled separators: output runs until a `----` `----` pair.
      i++;
      const start = i;
      while (i < lines.length && !(lines[i] === SEP && lines[i + 1] === SEP)) {
        out.push(lines[i] as string);
        i++;
      }
      if (i >= lines.length) throw new Error(`${file}:${cmdLine}: unterminated ---- ---- block`);
      i += 2;
      blocks.push({
        data: mk(out.join("\n")),
        replaceFrom: sepAt,
        replaceTo: i,
        outputLine: start + 1,
        hasSeparator: true,
      });
    } else {
      const start = i;
      while (i < lines.length && !isBlank(lines[i])) {
        out.push(lines[i] as string);
        i++;
      }
      blocks.push({
        data: mk(out.join("\n")),
        replaceFrom: sepAt,
        replaceTo: i,
        outputLine: start + 1,
        hasSeparator: true,
      });
    }
  }
  return { lines, blocks };
}

/** Trailing whitespace on lines and trailing blank lines are not significant. */
export function normalizeOutput(s: string): string {
  return s
    .split("\n")
    .map((l) => l.trimEnd())
    .join("\n")
    .replace(/\n+$/, "")
    .replace(/^\n+/, "");
}

function renderOutput(actual: string): string[] {
  if (actual === "") return [SEP];
  const out = actual.split("\n");
  if (out.some((l) => l === "" || l === SEP)) return [SEP, SEP, ...out, SEP, SEP];
  return [SEP, ...out];
}

export interface RunOptions {
  rewrite?: boolean;
}

export type Handler = (d: TestData) => string;

/**
 * Runs every block of `path` through `handler`. Throws on the first mismatch (with a diff naming the
 * file and line) unless rewriting; rewriting writes the file back when anything changed.
 */
export function runDataDrivenFile(path: string, handler: Handler, opts: RunOptions = {}): void {
  const text = readFileSync(path, "utf8");
  const { lines, blocks } = parseDataDriven(path, text);
  const actuals: string[] = [];
  for (const b of blocks) {
    const d = b.data;
    if (!b.hasSeparator && !opts.rewrite) {
      throw new Error(`${d.pos}: ${d.cmd}: missing ---- after the command (run with REWRITE=1)`);
    }
    let actual: string;
    try {
      actual = normalizeOutput(handler(d));
    } catch (err) {
      const e = err as Error;
      const where = e.message.startsWith(`${d.pos}:`) ? "" : `${d.pos}: ${d.cmd}: `;
      const wrapped = new Error(`${where}${e.message}`);
      if (e.stack !== undefined) wrapped.stack = `${wrapped.message}\n${e.stack}`;
      throw wrapped;
    }
    actuals.push(actual);
    const expected = normalizeOutput(d.expected);
    if (!opts.rewrite && actual !== expected) {
      const cmdText = lines[d.line - 1] ?? d.cmd;
      throw new Error(
        `${d.pos}: output of \`${cmdText}\` differs from the expected (rerun with REWRITE=1 and review the diff):\n` +
          unifiedDiff(expected, actual, { label: d.pos, firstLine: b.outputLine }),
      );
    }
  }
  if (!opts.rewrite) return;
  const next: string[] = [];
  let at = 0;
  blocks.forEach((b, k) => {
    next.push(...lines.slice(at, b.replaceFrom));
    next.push(...renderOutput(actuals[k] as string));
    at = b.replaceTo;
  });
  next.push(...lines.slice(at));
  const rewritten = `${next.join("\n")}\n`;
  if (rewritten !== text) writeFileSync(path, rewritten);
}

/** A unified-style line diff of expected (-) against actual (+) with three lines of context. */
export function unifiedDiff(
  expected: string,
  actual: string,
  opts: { label: string; firstLine?: number; context?: number },
): string {
  const a = expected === "" ? [] : expected.split("\n");
  const b = actual === "" ? [] : actual.split("\n");
  const ctx = opts.context ?? 3;
  const first = opts.firstLine ?? 1;
  const ops = diffLines(a, b);
  const out = [`--- expected ${opts.label}`, "+++ actual"];
  // Each change shows `ctx` equal lines on either side; overlapping windows merge into one hunk.
  const ranges: [number, number][] = [];
  ops.forEach((o, k) => {
    if (o.kind === "=") return;
    const lo = Math.max(0, k - ctx);
    const hi = Math.min(ops.length, k + ctx + 1);
    const last = ranges[ranges.length - 1];
    if (last !== undefined && lo <= last[1]) last[1] = Math.max(last[1], hi);
    else ranges.push([lo, hi]);
  });
  for (const [lo, hi] of ranges) {
    const hunk = ops.slice(lo, hi);
    const head = hunk[0] as DiffOp;
    const aLen = hunk.filter((o) => o.kind !== "+").length;
    const bLen = hunk.filter((o) => o.kind !== "-").length;
    out.push(`@@ -${first + head.ai},${aLen} +${first + head.bi},${bLen} @@`);
    for (const o of hunk) {
      if (o.kind === "=") out.push(` ${a[o.ai]}`);
      else if (o.kind === "-") out.push(`-${a[o.ai]}`);
      else out.push(`+${b[o.bi]}`);
    }
  }
  return out.join("\n");
}

interface DiffOp {
  kind: "=" | "-" | "+";
  ai: number;
  bi: number;
}

/** Longest-common-subsequence line diff; transcripts are small enough for the quadratic table. */
function diffLines(a: string[], b: string[]): DiffOp[] {
  const n = a.length;
  const m = b.length;
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * w + j] =
        a[i] === b[j]
          ? (lcs[(i + 1) * w + j + 1] as number) + 1
          : Math.max(lcs[(i + 1) * w + j] as number, lcs[i * w + j + 1] as number);
    }
  }
  const ops: DiffOp[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ kind: "=", ai: i, bi: j });
      i++;
      j++;
    } else if (
      i < n &&
      (j >= m || (lcs[(i + 1) * w + j] as number) >= (lcs[i * w + j + 1] as number))
    ) {
      ops.push({ kind: "-", ai: i, bi: j });
      i++;
    } else {
      ops.push({ kind: "+", ai: i, bi: j });
      j++;
    }
  }
  return ops;
}
