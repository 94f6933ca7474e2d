// Restores a backup into the data dirs of a LocalCluster's replicas before they start: one
// `novanet restore` process per replica (the real command, as an operator runs it), all with the
// same new cluster id and initial_cluster. Used by cluster/local.ts `up --restore` and the tests.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { LocalCluster, ReplicaSpec } from "./replica-processes.js";
import { projectRoot } from "./replica-processes.js";

export interface CommandOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `novanet <args>` (src/server/main.ts through tsx) to completion. */
export function runNovanet(args: readonly string[]): Promise<CommandOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", join(projectRoot, "src/server/main.ts"), ...args],
      { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** The `novanet restore` arguments for one replica of a local cluster. */
export function restoreArgs(
  spec: ReplicaSpec,
  backup: string,
  clusterId: string,
  initialCluster: string,
): string[] {
  return [
    "restore",
    `--backup=${backup}`,
    `--replica.data_dir=${spec.dataDir}`,
    `--replica.id=${spec.id}`,
    `--replica.cluster_id=${clusterId}`,
    `--replica.initial_cluster=${initialCluster}`,
  ];
}

/** "n1=127.0.0.1:port,…" of the cluster's replicas, as LocalCluster gives them. */
export function initialClusterOf(cluster: LocalCluster): string {
  return cluster.replicas.map((r) => `${r.spec.id}=127.0.0.1:${r.spec.peerPort}`).join(",");
}

/**
 * Restores `backup` into every replica's data dir (each must be empty or missing) for the
 * cluster's id (`opts.clusterId`). Throws with the command's message when one refuses.
 */
export async function restoreReplicaDataDirs(
  cluster: LocalCluster,
  backup: string,
): Promise<CommandOutput[]> {
  const clusterId = cluster.opts.clusterId;
  if (clusterId === undefined) throw new Error("restore: give the LocalCluster a clusterId");
  const initial = initialClusterOf(cluster);
  const out: CommandOutput[] = [];
  for (const r of cluster.replicas) {
    const res = await runNovanet(restoreArgs(r.spec, backup, clusterId, initial));
    if (res.code !== 0) {
      throw new Error(`novanet restore for ${r.spec.id} exited ${res.code}: ${res.stderr.trim()}`);
    }
    out.push(res);
  }
  return out;
}

/** The backup's manifest (`<backup>.json`, written by ClusterClient.saveBackup), if any. */
export function readBackupManifest(
  backup: string,
): { clusterId: string; appliedIndex: number } | undefined {
  try {
    return JSON.parse(readFileSync(`${backup}.json`, "utf8")) as {
      clusterId: string;
      appliedIndex: number;
    };
  } catch {
    return undefined;
  }
}
