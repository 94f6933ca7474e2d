import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  parseCommandLine,
  parseDataDriven,
  runDataDrivenFile,
  type TestData,
  unifiedDiff,
} from "./datadriven.js";

// A tiny env: `echo words...` prints its positional args one per line, `sum a=.. b=..` adds,
// `para` prints two paragraphs (a blank line inside the output), `boom` throws.
function echoEnv(d: TestData): string {
  switch (d.cmd) {
    case "echo":
      return d.positional().join("\n");
    case "sum":
      return String((d.int("a") ?? 0) + (d.int("b") ?? 0));
    case "para":
      return "one\n\ntwo";
    case "boom":
      throw new Error("check failed: boom");
    default:
      throw d.error("unknown command");
  }
}

describe("parseCommandLine", () => {
  it("splits keys, lists, quoted strings and bare groups", () => {
    const { cmd, args } = parseCommandLine(
      'deliver-msgs 2 type=app drop=(2, 3) "two words" data="a b" (1) (2,3) empty=()',
    );
    expect(cmd).toBe("deliver-msgs");
    expect(args).toEqual([
      { key: "2", vals: [], bare: true },
      { key: "type", vals: ["app"] },
      { key: "drop", vals: ["2", "3"] },
      { key: "two words", vals: [], bare: true },
      { key: "data", vals: ["a b"] },
      { key: "", vals: ["1"] },
      { key: "", vals: ["2", "3"] },
      { key: "empty", vals: [] },
    ]);
  });
});

describe("parseDataDriven", () => {
  it("reads comments, inputs, plain and doubled-separator outputs", () => {
    const text = [
      "# comment",
      "echo a b",
      "----",
      "a",
      "b",
      "",
      "para",
      "extra input",
      "----",
      "----",
      "one",
      "",
      "two",
      "----",
      "----",
      "",
      "echo",
      "----",
      "",
    ].join("\n");
    const { blocks } = parseDataDriven("f.txt", text);
    expect(blocks.map((b) => [b.data.cmd, b.data.line, b.data.input, b.data.expected])).toEqual([
      ["echo", 2, "", "a\nb"],
      ["para", 7, "extra input", "one\n\ntwo"],
      ["echo", 17, "", ""],
    ]);
  });
});

describe("runDataDrivenFile", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "dd-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const write = (text: string): string => {
    const p = join(dir, "t.txt");
    writeFileSync(p, text);
    return p;
  };

  it("passes when outputs match", () => {
    const p = write("# c\necho x y\n----\nx\ny\n\nsum a=1 b=2\n----\n3\n");
    expect(() => runDataDrivenFile(p, echoEnv)).not.toThrow();
  });

  it("fails with a diff naming the file and line", () => {
    const p = write("echo x\n----\nx\n\nsum a=1 b=2\n----\n4\n");
    expect(() => runDataDrivenFile(p, echoEnv)).toThrow(
      `${p}:5: output of \`sum a=1 b=2\` differs from the expected (rerun with REWRITE=1 and review the diff):\n` +
        `--- expected ${p}:5\n+++ actual\n@@ -7,1 +7,1 @@\n-4\n+3`,
    );
  });

  it("rewrites outputs in place, adding missing separators", () => {
    const p = write("# keep me\necho x\n----\nstale\nlines\n\nsum a=2 b=2\n\n# tail\npara\n----\n");
    runDataDrivenFile(p, echoEnv, { rewrite: true });
    expect(readFileSync(p, "utf8")).toBe(
      "# keep me\necho x\n----\nx\n\nsum a=2 b=2\n----\n4\n\n# tail\npara\n----\n----\none\n\ntwo\n----\n----\n",
    );
    // And the rewritten file passes as-is.
    expect(() => runDataDrivenFile(p, echoEnv)).not.toThrow();
  });

  it("a throwing handler fails even when rewriting, and nothing is written", () => {
    const text = "echo x\n----\nstale\n\nboom\n----\n";
    const p = write(text);
    expect(() => runDataDrivenFile(p, echoEnv, { rewrite: true })).toThrow(
      `${p}:5: boom: check failed: boom`,
    );
    expect(readFileSync(p, "utf8")).toBe(text);
  });

  it("refuses a command without ---- unless rewriting", () => {
    const p = write("echo x\n");
    expect(() => runDataDrivenFile(p, echoEnv)).toThrow("missing ----");
  });
});

describe("unifiedDiff", () => {
  it("shows context around changes and merges nearby hunks", () => {
    const a = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"].join("\n");
    const b = ["1", "2", "X", "4", "5", "6", "7", "8", "9", "10", "11", "Y"].join("\n");
    expect(unifiedDiff(a, b, { label: "f:1", firstLine: 10, context: 1 })).toBe(
      [
        "--- expected f:1",
        "+++ actual",
        "@@ -11,3 +11,3 @@",
        " 2",
        "-3",
        "+X",
        " 4",
        "@@ -20,2 +20,2 @@",
        " 11",
        "-12",
        "+Y",
      ].join("\n"),
    );
  });
});
