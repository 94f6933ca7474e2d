// The state machine's boundaries: it imports nothing from src/raft, src/rpc or src/ovn-sync,
// only ipaddr.js, msgpackr and node:crypto (createHash) from outside, and has no clock,
// randomness, timers, I/O or suspension points.

import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../../src/statemachine");

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

const files = sources(root).map((path) => ({
  path: relative(root, path),
  // Comments may mention anything; check code only.
  code: readFileSync(path, "utf8")
    .replaceAll(/\/\*[\s\S]*?\*\//g, "")
    .replaceAll(/^\s*\/\/.*$/gm, ""),
}));

describe("src/statemachine boundaries", () => {
  it("has sources", () => {
    expect(files.length).toBeGreaterThan(10);
  });

  it.each(files.map((f) => [f.path, f] as const))("%s imports only what it may", (_path, file) => {
    const specifiers = [...file.code.matchAll(/\bfrom\s+"([^"]+)"/g)].map((m) => m[1]!);
    for (const specifier of specifiers) {
      const allowed =
        specifier.startsWith("./") ||
        specifier.startsWith("../") ||
        ["ipaddr.js", "msgpackr", "node:crypto"].includes(specifier);
      expect(allowed, `${file.path} imports ${specifier}`).toBe(true);
      if (specifier.startsWith(".")) {
        expect(specifier.endsWith(".js"), `${file.path}: ${specifier} needs the .js suffix`).toBe(
          true,
        );
        const target = resolve(root, file.path, "..", specifier);
        expect(
          target.startsWith(root),
          `${file.path} reaches outside src/statemachine: ${specifier}`,
        ).toBe(true);
      }
      if (specifier === "node:crypto")
        expect(file.code).toMatch(/import \{ createHash \} from "node:crypto"/);
    }
  });

  it.each(files.map((f) => [f.path, f] as const))(
    "%s has no clock, randomness, timers, I/O or await",
    (_path, file) => {
      for (const banned of [
        /\bDate\b/,
        /Math\.random/,
        /\bsetTimeout\b/,
        /\bsetInterval\b/,
        /\bsetImmediate\b/,
        /\bqueueMicrotask\b/,
        /\bperformance\b/,
        /\bprocess\./,
        /\bcrypto\./,
        /randomUUID|randomBytes|getRandomValues/,
        /\bawait\b/,
        /\basync\b/,
        /\brequire\(/,
        /\bfetch\(/,
      ]) {
        expect(banned.test(file.code), `${file.path} matches ${banned}`).toBe(false);
      }
    },
  );
});
