// `novanet-replica`: one replica of the bare Raft cluster (see cluster/local.ts for three of them).
import { parseArgs } from "node:util";
import { pino } from "pino";
import { Replica } from "./replica.js";

function parseMap(flag: string, value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (value === undefined || value === "") return out;
  for (const part of value.split(",")) {
    const [id, addr] = part.split("=");
    if (!id || !addr)
      throw new Error(`--${flag}: expected id=host:port[,id=host:port...], got "${part}"`);
    out[id] = addr;
  }
  return out;
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new Error(`--${flag} must be a positive integer, got "${value}"`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      id: { type: "string" },
      "cluster-id": { type: "string", default: "novanet-local" },
      "data-dir": { type: "string" },
      "peer-listen": { type: "string" },
      "api-listen": { type: "string" },
      "initial-cluster": { type: "string" },
      "api-addresses": { type: "string", default: "" },
      join: { type: "boolean", default: false },
      "tick-ms": { type: "string", default: "50" },
      "snapshot-entries": { type: "string", default: "10000" },
      "log-level": { type: "string", default: "info" },
    },
    strict: true,
  });
  const required = ["id", "data-dir", "peer-listen", "api-listen"] as const;
  for (const k of required) if (!values[k]) throw new Error(`--${k} is required`);
  if (!values.join && !values["initial-cluster"]) {
    throw new Error(
      "either --initial-cluster (new cluster) or --join (existing cluster) is required",
    );
  }
  const logger = pino({ level: values["log-level"] ?? "info", base: { replica: values.id } });
  const members = parseMap("initial-cluster", values["initial-cluster"]);
  const initialMembers = values.join ? undefined : members;
  const replica = await Replica.start({
    id: values.id!,
    clusterId: values["cluster-id"]!,
    dataDir: values["data-dir"]!,
    peerListen: values["peer-listen"]!,
    apiListen: values["api-listen"]!,
    ...(initialMembers ? { initialMembers } : { joinPeers: members }),
    apiAddresses: parseMap("api-addresses", values["api-addresses"]),
    tickMs: positiveInt("tick-ms", values["tick-ms"]!),
    snapshotEntries: positiveInt("snapshot-entries", values["snapshot-entries"]!),
    logger,
  });
  logger.info({ apiPort: replica.apiPort, peer: replica.raft.peerAddress() }, "replica ready");
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "stopping");
    replica.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "stop failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

main().catch((err: unknown) => {
  console.error(`novanet-replica: ${(err as Error).message}`);
  process.exit(1);
});
