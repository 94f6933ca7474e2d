// `novanet restore`: offline restore of a backup into the data dir of one member of a NEW cluster
// (like `etcdutl snapshot restore`). Run it once per member, each with its own id and data dir and
// the same cluster id and initial_cluster; then start the members as usual.
//
//   novanet restore --backup FILE --replica.data_dir DIR --replica.id ID
//                   --replica.cluster_id NEW --replica.initial_cluster n1=h:p,n2=h:p,…
//
// or take the [replica] keys from the replica's config: novanet restore --config novanet.toml
// --backup FILE --replica.cluster_id NEW (flags win over the file).
//
// Checks, before anything is written: the file against its manifest `<FILE>.json` (size, sha256)
// when there is one, the snapshot's own checksum and consistency, an empty data dir, and a cluster
// id other than the backup's (the old cluster's OVN rows are told apart by it: ovn.adopt_cluster_ids).
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { checkDialAddr, checkId, parseMembers } from "../config/checks.js";
import { ConfigError, loadConfig } from "../config/index.js";
import { SeedError, seedStore } from "../raft/storage/seed.js";
import { NetworkStateMachine, rebaseSnapshot, SnapshotError } from "../statemachine/index.js";

/** Where the restored state sits in the new cluster's log: the log continues at 2. */
export const restoredPosition = { index: 1, term: 1 } as const;

/** A refused restore: the message says why; nothing was written. */
export class RestoreError extends Error {
  override name = "RestoreError";
}

export interface RestoreOptions {
  backup: string;
  /** Default `<backup>.json` when it exists. */
  manifest?: string | undefined;
  dataDir: string;
  id: string;
  clusterId: string;
  members: Readonly<Record<string, string>>;
}

/** What `saveBackup` writes next to the file (client/cluster-client.ts BackupResult). */
interface Manifest {
  clusterId: string;
  stateDigest: string;
  bytes: number;
  sha256: string;
}

export interface RestoreSummary {
  dataDir: string;
  id: string;
  clusterId: string;
  /** The backup's cluster (from the manifest), or "" without one. */
  backupClusterId: string;
  backupAppliedIndex: number;
  backupTerm: number;
  /** What to compare with the old cluster's GetStatus resource_digest. */
  resourceDigest: string;
  sha256: string;
  manifest: string | undefined;
  voters: string[];
  index: number;
  term: number;
}

function isManifest(x: unknown): x is Manifest {
  if (typeof x !== "object" || x === null) return false;
  const m = x as Record<string, unknown>;
  return (
    typeof m.clusterId === "string" &&
    typeof m.stateDigest === "string" &&
    Number.isSafeInteger(m.bytes) &&
    typeof m.sha256 === "string"
  );
}

async function readManifest(path: string, explicit: boolean): Promise<Manifest | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (!explicit && (err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new RestoreError(`cannot read manifest ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new RestoreError(`manifest ${path} is not JSON: ${(err as Error).message}`);
  }
  if (!isManifest(parsed)) {
    throw new RestoreError(`manifest ${path} lacks clusterId, stateDigest, bytes or sha256`);
  }
  return parsed;
}

/** Verifies the backup and writes the member's store; throws RestoreError (or SeedError). */
export async function restoreBackup(o: RestoreOptions): Promise<RestoreSummary> {
  if (!Object.hasOwn(o.members, o.id)) {
    throw new RestoreError(
      `replica.initial_cluster must list this replica (id "${o.id}") among the founding members`,
    );
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(o.backup);
  } catch (err) {
    throw new RestoreError(`cannot read backup ${o.backup}: ${(err as Error).message}`);
  }
  const manifestPath = o.manifest ?? `${o.backup}.json`;
  const manifest = await readManifest(manifestPath, o.manifest !== undefined);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  if (manifest !== undefined) {
    if (manifest.bytes !== bytes.length) {
      throw new RestoreError(
        `backup ${o.backup} has ${bytes.length} bytes, its manifest ${manifestPath} says ${manifest.bytes}: the file is truncated or not this backup`,
      );
    }
    if (manifest.sha256.toLowerCase() !== sha256) {
      throw new RestoreError(
        `backup ${o.backup} sha256 ${sha256} differs from its manifest ${manifestPath} (${manifest.sha256}): the file is corrupted or not this backup`,
      );
    }
    if (manifest.clusterId === o.clusterId) {
      throw new RestoreError(
        `replica.cluster_id "${o.clusterId}" is the backup's own cluster id: a restore starts a NEW cluster, give it another id (the old id is then named in ovn.adopt_cluster_ids so that the new cluster takes over the old OVN rows)`,
      );
    }
  }
  let machine: NetworkStateMachine;
  let rebased: Uint8Array;
  try {
    machine = NetworkStateMachine.restore(bytes);
    rebased = rebaseSnapshot(bytes, restoredPosition);
  } catch (err) {
    if (!(err instanceof SnapshotError)) throw err;
    throw new RestoreError(`backup ${o.backup} is not a valid NovaNET snapshot: ${err.message}`);
  }
  // The manifest's applied index is Raft's (it counts no-op and membership entries the state
  // machine never sees), so the digest, taken together with the bytes, is what must match.
  if (manifest !== undefined && manifest.stateDigest !== machine.digest()) {
    throw new RestoreError(
      `backup ${o.backup} has state digest ${machine.digest()}, its manifest ${manifestPath} says ${manifest.stateDigest}: not this backup's manifest`,
    );
  }
  const seeded = await seedStore({
    dir: o.dataDir,
    clusterId: o.clusterId,
    members: o.members,
    data: rebased,
    index: restoredPosition.index,
    term: restoredPosition.term,
  });
  return {
    dataDir: o.dataDir,
    id: o.id,
    clusterId: o.clusterId,
    backupClusterId: manifest?.clusterId ?? "",
    backupAppliedIndex: machine.appliedIndex,
    backupTerm: machine.appliedTerm,
    resourceDigest: machine.resourceDigest(),
    sha256,
    manifest: manifest !== undefined ? manifestPath : undefined,
    voters: seeded.confState.voters,
    index: seeded.index,
    term: seeded.term,
  };
}

export const restoreUsage = `usage: novanet restore --backup FILE --replica.data_dir DIR --replica.id ID
                       --replica.cluster_id NEW_ID --replica.initial_cluster n1=host:port,n2=host:port,…
                       [--manifest FILE]   (default FILE.json when it exists)
                       [--config FILE]     (the replica's config: the [replica] keys above; flags win)
  Writes DIR (which must be empty or missing) for member ID of a NEW cluster NEW_ID that starts
  from the backup. Run it for every member with the same NEW_ID and initial_cluster, then start
  the members normally. NEW_ID must differ from the backup's cluster id.`;

const flagNames = {
  config: "config",
  backup: "backup",
  manifest: "manifest",
  "replica.data_dir": "dataDir",
  "replica.id": "id",
  "replica.cluster_id": "clusterId",
  "replica.initial_cluster": "members",
} as const;

type FlagName = keyof typeof flagNames;

/** Parses the restore flags over `defaults` (from --config); a list of problems on failure. */
export function parseRestoreArgs(
  argv: readonly string[],
  defaults: Partial<Record<FlagName, string>> = {},
): RestoreOptions | string[] {
  const problems: string[] = [];
  /** Flags already reported (a missing value): not reported again as missing. */
  const reported = new Set<string>();
  const values = new Map<FlagName, string>(
    Object.entries(defaults).filter(([, v]) => v !== "") as [FlagName, string][],
  );
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) {
      problems.push(`unexpected argument ${JSON.stringify(arg)} (flags are --name=value)`);
      continue;
    }
    const eq = arg.indexOf("=");
    const raw = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
    const name = raw.replaceAll("-", "_") as FlagName;
    if (!Object.hasOwn(flagNames, name)) {
      problems.push(
        `unknown flag --${raw} (known: ${Object.keys(flagNames)
          .map((f) => `--${f}`)
          .join(", ")})`,
      );
      continue;
    }
    let value = eq < 0 ? undefined : arg.slice(eq + 1);
    if (value === undefined) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith("--")) {
        value = next;
        i++;
      }
    }
    if (value === undefined || value === "") {
      problems.push(`--${raw} needs a value`);
      reported.add(name);
      continue;
    }
    values.set(name, value);
  }
  for (const name of [
    "backup",
    "replica.data_dir",
    "replica.id",
    "replica.cluster_id",
    "replica.initial_cluster",
  ] as const) {
    if (!values.has(name) && !reported.has(name)) {
      problems.push(`--${name} is required`);
    }
  }
  const id = values.get("replica.id");
  const clusterId = values.get("replica.cluster_id");
  for (const [flag, v] of [
    ["replica.id", id],
    ["replica.cluster_id", clusterId],
  ] as const) {
    const p = v === undefined ? undefined : checkId(v);
    if (p !== undefined) problems.push(`--${flag}: ${p}`);
  }
  let members: Record<string, string> = {};
  const membersText = values.get("replica.initial_cluster");
  if (membersText !== undefined) {
    const parsed = parseMembers(membersText);
    if (typeof parsed === "string") problems.push(`--replica.initial_cluster: ${parsed}`);
    else {
      members = parsed;
      for (const [m, addr] of Object.entries(members)) {
        const p = checkId(m) ?? checkDialAddr(addr);
        if (p !== undefined) problems.push(`--replica.initial_cluster: member ${m}: ${p}`);
      }
      if (id !== undefined && !Object.hasOwn(members, id)) {
        problems.push(`--replica.initial_cluster must list this replica (id "${id}")`);
      }
    }
  }
  if (problems.length > 0) return problems;
  return {
    backup: values.get("backup")!,
    manifest: values.get("manifest"),
    dataDir: values.get("replica.data_dir")!,
    id: id!,
    clusterId: clusterId!,
    members,
  };
}

/** The value of --name=value or --name value, if given. */
function flagValue(argv: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  argv.forEach((arg, i) => {
    if (arg.startsWith(`--${name}=`)) value = arg.slice(name.length + 3);
    else if (arg === `--${name}`) value = argv[i + 1];
  });
  return value;
}

/** The `novanet restore` command; returns the exit code (0 done, 1 refused, 2 usage). */
export async function restoreCommand(
  argv: readonly string[],
  out: { log: (s: string) => void; error: (s: string) => void } = console,
): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    out.log(restoreUsage);
    return 0;
  }
  let defaults: Partial<Record<FlagName, string>> = {};
  const configPath = flagValue(argv, "config");
  if (configPath !== undefined) {
    // The replica's own config (file + NOVANET_* environment) supplies the [replica] keys;
    // flags on the command line win (typically --replica.cluster_id NEW).
    try {
      const r = loadConfig({ argv: ["--config", configPath], env: process.env }).config.replica;
      if (r.join) {
        out.error(
          `novanet restore: ${configPath} has replica.join = true: a restore founds a new cluster (set join = false and list the founding members in initial_cluster)`,
        );
        return 2;
      }
      defaults = {
        "replica.data_dir": r.data_dir,
        "replica.id": r.id,
        "replica.cluster_id": r.cluster_id,
        "replica.initial_cluster": Object.entries(r.initial_cluster)
          .map(([id, addr]) => `${id}=${addr}`)
          .join(","),
      };
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      out.error(`novanet restore: ${configPath}: ${err.message}`);
      return 2;
    }
  }
  const parsed = parseRestoreArgs(argv, defaults);
  if (Array.isArray(parsed)) {
    out.error(`novanet restore: ${parsed.map((p) => `\n  - ${p}`).join("")}\n${restoreUsage}`);
    return 2;
  }
  try {
    const s = await restoreBackup(parsed);
    if (s.manifest === undefined) {
      out.error(
        `novanet restore: warning: no manifest ${parsed.backup}.json: the file was checked against its own checksum only, and the backup's cluster id is unknown`,
      );
    }
    out.log(
      [
        `restored ${parsed.backup} into ${s.dataDir} for replica ${s.id} of the new cluster ${s.clusterId}`,
        `  backup: cluster ${s.backupClusterId || "(unknown)"}, applied index ${s.backupAppliedIndex}, term ${s.backupTerm}, sha256 ${s.sha256}`,
        `  new log: snapshot at index ${s.index} term ${s.term}, voters ${s.voters.join(",")}`,
        `  resource_digest ${s.resourceDigest}  (compare with GetStatus resource_digest once the cluster runs)`,
        s.backupClusterId
          ? `  start the replicas with ovn.adopt_cluster_ids = ["${s.backupClusterId}"] to take over the old cluster's OVN rows`
          : "",
      ]
        .filter((l) => l !== "")
        .join("\n"),
    );
    out.log(JSON.stringify(s));
    return 0;
  } catch (err) {
    if (err instanceof RestoreError || err instanceof SeedError) {
      out.error(`novanet restore: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
