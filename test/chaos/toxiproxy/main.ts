/**
 * CLI: npx tsx test/chaos/toxiproxy/main.ts [--host 127.0.0.1] [--port 8474] [--seed 0]
 */
import { parseArgs } from "node:util";
import { startToxiproxyServer } from "./server.js";

const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", default: "8474" },
    seed: { type: "string", default: "0" },
  },
});

const port = Number(values.port);
const seed = Number(values.seed);
if (!Number.isInteger(port) || port < 0 || port > 65535 || !Number.isFinite(seed)) {
  console.error("usage: main.ts [--host H] [--port P] [--seed N]");
  process.exit(2);
}

const server = await startToxiproxyServer({ host: values.host, port, seed });
console.log(`toxiproxy-compatible API listening on ${server.url}`);
const shutdown = (): void => {
  server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
