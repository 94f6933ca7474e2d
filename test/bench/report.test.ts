// The benchmark report's pure parts: percentiles, Markdown tables, goals, SVG charts.
import { describe, expect, it } from "vitest";
import {
  goalsTable,
  lineChart,
  markdownTable,
  percentile,
  percentiles,
  renderSvg,
} from "../../bench/lib/report.js";

describe("percentiles", () => {
  it("uses the nearest rank", () => {
    const xs = Array.from({ length: 1000 }, (_, i) => 1000 - i); // unsorted on purpose
    const p = percentiles(xs);
    expect(p).toEqual({ n: 1000, p50: 500, p90: 900, p99: 990, p999: 999, max: 1000 });
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe("markdownTable", () => {
  it("right-aligns numeric columns and formats integers", () => {
    const md = markdownTable({
      title: "T",
      columns: ["name", "rate"],
      rows: [
        ["a", 12345],
        ["bb", "2.5×"],
      ],
      notes: ["note"],
    });
    expect(md.split("\n")).toEqual([
      "**T**",
      "",
      "| name |   rate |",
      "| ---- | -----: |",
      "| a    | 12,345 |",
      "| bb   |   2.5× |",
      "",
      "note",
    ]);
  });

  it("marks missed goals and lists what limits them", () => {
    const t = goalsTable([
      { goal: "g1", target: "≥ 1", measured: "2", met: true },
      { goal: "g2", target: "≤ 1 s", measured: "2 s", met: false, limit: "the disk" },
    ]);
    expect(t.rows.map((r) => r[3])).toEqual(["yes", "**no**"]);
    expect(t.notes).toEqual(["- g2: the disk"]);
  });
});

describe("charts", () => {
  it("renders a line chart to SVG with its title and series", async () => {
    const svg = await renderSvg(
      lineChart({
        title: "Writes per second",
        x: { field: "clients", title: "clients", log: true },
        y: { field: "rate", title: "per second" },
        series: "system",
        values: [
          { clients: 1, rate: 100, system: "NovaNET" },
          { clients: 16, rate: 900, system: "NovaNET" },
          { clients: 1, rate: 200, system: "etcd" },
          { clients: 16, rate: 800, system: "etcd" },
        ],
      }),
    );
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("Writes per second");
    expect(svg).toContain("NovaNET");
    expect(svg).toContain("etcd");
    expect((svg.match(/<path/g) ?? []).length).toBeGreaterThan(2);
  });
});
