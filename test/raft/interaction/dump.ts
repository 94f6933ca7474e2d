// Debug helper: `npx tsx test/raft/interaction/dump.ts FILE` prints every block's actual output,
// carrying on past failures (which are printed in place), without touching the file.
import { readFileSync } from "node:fs";
import { parseDataDriven } from "./datadriven.js";
import { InteractionEnv } from "./env.js";

const path = process.argv[2];
if (path === undefined) throw new Error("usage: dump.ts FILE");
const env = new InteractionEnv();
for (const b of parseDataDriven(path, readFileSync(path, "utf8")).blocks) {
  const d = b.data;
  console.log(
    `${d.line}: ${d.cmd} ${d.args.map((a) => (a.bare ? a.key : `${a.key}=(${a.vals.join(",")})`)).join(" ")}`,
  );
  try {
    console.log(env.handle(d));
  } catch (err) {
    console.log(`!!! ${(err as Error).stack}`);
  }
  console.log("");
}
