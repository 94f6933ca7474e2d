// A real local OVN (with a hypervisor) and a 3-replica NovaNET cluster in sync with it, for the
// data-plane tests that go through NovaNET's API.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalOvn, waitFor } from "../../cluster/lib/local-ovn.js";
import { LocalCluster } from "../../cluster/lib/replica-processes.js";
import { ClusterClient } from "../../src/client/index.js";

export interface NovanetOvn {
  readonly dir: string;
  readonly ovn: LocalOvn;
  readonly cluster: LocalCluster;
  stop(): Promise<void>;
}

/** Starts OVN, then the replicas against it, and waits for a leader (bounded). */
export async function startNovanetOvn(prefix: string): Promise<NovanetOvn> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const ovn = await LocalOvn.start({ dir: join(dir, "ovn"), chassis: true });
  const cluster = await LocalCluster.create({
    kind: "novanet",
    dir,
    replicas: 3,
    tickMs: 50,
    ovn: { nbRemote: ovn.nbRemote, sbRemote: ovn.sbRemote, external: ovn.externalNetwork },
  });
  const stop = async () => {
    await cluster.stopAll();
    await ovn.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  cluster.startAll();
  const admin = ClusterClient.connect({ endpoints: cluster.endpoints(), deadlineMs: 1000 });
  try {
    await waitFor(
      "a leader",
      async () =>
        (await admin.statusAll()).some((s) => s.status?.role === "leader") ? true : undefined,
      30_000,
      200,
    );
  } catch (err) {
    await stop();
    throw err;
  } finally {
    admin.close();
  }
  return { dir, ovn, cluster, stop };
}
