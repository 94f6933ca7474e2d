// Convergence after healing: every replica reports the same resource digest at the same applied
// index.

import { type CheckResult, result } from "../history/ops.js";

export interface ReplicaStatus {
  id: string;
  /** Raft applied index (number or decimal string / bigint). */
  appliedIndex: number | bigint | string;
  resourceDigest: string;
}

export function convergence(statuses: readonly ReplicaStatus[]): CheckResult {
  const out: string[] = [];
  if (statuses.length === 0) return result(["no replica status given"]);
  const first = statuses[0]!;
  const index = (s: ReplicaStatus) => String(s.appliedIndex);
  for (const s of statuses) {
    if (s.resourceDigest === "") out.push(`replica ${s.id}: empty resource digest`);
  }
  const indexes = new Set(statuses.map(index));
  if (indexes.size > 1) {
    out.push(`applied indexes differ: ${statuses.map((s) => `${s.id}=${index(s)}`).join(", ")}`);
  }
  const digests = new Set(statuses.map((s) => s.resourceDigest));
  if (digests.size > 1) {
    const at = indexes.size > 1 ? "" : ` at applied index ${index(first)}`;
    out.push(
      `resource digests differ${at}: ${statuses.map((s) => `${s.id}=${s.resourceDigest}`).join(", ")}`,
    );
  }
  return result(out);
}
