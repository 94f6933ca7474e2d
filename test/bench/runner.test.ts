// The benchmark runner end to end on its cheapest suite: it must write the suite's JSON and the
// Markdown report, and refuse unknown suite names. (Numbers are not asserted: benchmarks report.)
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { projectRoot } from "../../cluster/lib/replica-processes.js";

const out = mkdtempSync(join(tmpdir(), "novanet-bench-runner-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function runBench(args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", "bench/run.ts", ...args], {
    cwd: projectRoot,
    encoding: "utf8",
    timeout: 60_000,
  });
}

describe("bench/run.ts", () => {
  it("runs a suite and writes its JSON and the report", () => {
    const r = runBench(["--only", "ipam", "--quick", "--out", out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("CreatePort through the state machine's apply()");
    const json = JSON.parse(readFileSync(join(out, "ipam.json"), "utf8"));
    expect(json.suite).toBe("ipam");
    expect(json.quick).toBe(true);
    expect(json.data.viaApply.allocations).toBe(65_533);
    expect(json.data.viaApply.totalMs).toBeGreaterThan(0);
    const report = readFileSync(join(out, "report.md"), "utf8");
    expect(report).toContain("## IPAM microbenchmark");
    expect(report).toContain("npm run bench -- --only ipam");
  });

  it("refuses an unknown suite", () => {
    const r = runBench(["--only", "nope", "--out", out]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("unknown suite nope");
    expect(existsSync(join(out, "nope.json"))).toBe(false);
  });
});
