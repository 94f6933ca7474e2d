// Golden-transcript scenarios for the Raft core (etcd-io/raft's interaction tests, ported).
//
// Each file in interaction/testdata/ is one scenario, driven by the commands documented in
// interaction/env.ts. If a test fails, run `REWRITE=1 npx vitest run test/raft/interaction.test.ts`
// and inspect the diff (git diff). Only keep the changes if you understand what caused them:
// `check` blocks and the env's built-in safety checks fail regardless of REWRITE, but the
// transcript is the spec. `npx tsx test/raft/interaction/dump.ts FILE` prints a scenario's actual
// output without touching it, carrying on past failures.
import { readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "vitest";
import { runDataDrivenFile } from "./interaction/datadriven.js";
import { InteractionEnv } from "./interaction/env.js";

const dir = join(dirname(fileURLToPath(import.meta.url)), "interaction", "testdata");
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".txt"))
  .sort();
const rewrite = process.env.REWRITE === "1" || process.env.REWRITE === "true";

describe("raft interaction scenarios", () => {
  for (const f of files) {
    it(f, () => {
      const env = new InteractionEnv();
      runDataDrivenFile(relative(process.cwd(), join(dir, f)), (d) => env.handle(d), { rewrite });
    });
  }
});
