// `novanet restore` in process: flags, --config, the manifest checks, and that a refusal writes
// nothing. (test/e2e/backup-restore.test.ts runs the real command against a real backup.)
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LevelStorage } from "../../src/raft/storage/level-storage.js";
import { parseRestoreArgs, restoreCommand } from "../../src/server/restore.js";
import { NetworkStateMachine } from "../../src/statemachine/index.js";
import { Harness, mac, uuid } from "../statemachine/harness.js";

const dir = mkdtempSync(join(tmpdir(), "novanet-restore-cmd-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function backup(name: string, clusterId = "old", vpc = "a"): { path: string; digest: string } {
  const h = new Harness().bootstrap();
  const a = h.client("acme", "web");
  a.ok("CreateVpc", { name: vpc });
  a.ok("CreatePort", { port_id: uuid(1), subnet_id: a.child("default"), mac_address: mac(1) });
  const bytes = h.sm.snapshot();
  const path = join(dir, name);
  writeFileSync(path, bytes);
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const manifest = {
    clusterId,
    appliedIndex: h.sm.appliedIndex + 3, // Raft's index: no-op entries included
    term: 2,
    stateDigest: h.sm.digest(),
    bytes: bytes.length,
    sha256,
  };
  writeFileSync(`${path}.json`, JSON.stringify(manifest));
  return { path, digest: h.sm.resourceDigest() };
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await restoreCommand(argv, {
    log: (s) => {
      out += `${s}\n`;
    },
    error: (s) => {
      err += `${s}\n`;
    },
  });
  return { code, out, err };
}

const members = "n1=127.0.0.1:7001,n2=127.0.0.1:7002";

describe("novanet restore", () => {
  it("lists every flag problem at once", () => {
    expect(parseRestoreArgs(["--backup", "f", "--replica.id=n3", "--bogus=1", "x"])).toEqual([
      "unknown flag --bogus (known: --config, --backup, --manifest, --replica.data_dir, --replica.id, --replica.cluster_id, --replica.initial_cluster)",
      'unexpected argument "x" (flags are --name=value)',
      "--replica.data_dir is required",
      "--replica.cluster_id is required",
      "--replica.initial_cluster is required",
    ]);
    const p = parseRestoreArgs([
      "--backup=f",
      "--replica.data-dir=/d",
      "--replica.id=n3",
      "--replica.cluster_id=new",
      `--replica.initial_cluster=${members}`,
    ]);
    expect(p).toEqual(['--replica.initial_cluster must list this replica (id "n3")']);
  });

  it("writes a store for the new cluster and prints the resource digest", async () => {
    const b = backup("ok.snap");
    const dataDir = join(dir, "ok-n1");
    const r = await run([
      "--backup",
      b.path,
      "--replica.data_dir",
      dataDir,
      "--replica.id=n1",
      "--replica.cluster_id=new",
      `--replica.initial_cluster=${members}`,
    ]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain(`resource_digest ${b.digest}`);
    expect(r.out).toContain('ovn.adopt_cluster_ids = ["old"]');
    const storage = await LevelStorage.open(dataDir);
    try {
      const loaded = await storage.load();
      expect(loaded?.clusterId).toBe("new");
      expect(loaded?.snapshot.meta.index).toBe(1);
      expect(loaded?.snapshot.meta.confState.voters).toEqual(["n1", "n2"]);
      const sm = NetworkStateMachine.restore(loaded!.snapshot.data);
      expect(sm.resourceDigest()).toBe(b.digest);
      expect(sm.appliedIndex).toBe(1);
    } finally {
      await storage.close();
    }
  });

  it("takes the [replica] keys from --config; flags win", async () => {
    const b = backup("cfg.snap");
    const dataDir = join(dir, "cfg-n2");
    const config = join(dir, "n2.toml");
    writeFileSync(
      config,
      `[replica]\nid = "n2"\ndata_dir = "${dataDir}"\ncluster_id = "old"\npeer_listen_addr = "127.0.0.1:7002"\napi_advertise_addr = "127.0.0.1:8002"\ninitial_cluster = "${members}"\n[auth]\nmode = "none"\n`,
    );
    const same = await run(["--config", config, "--backup", b.path]);
    expect(same.err).toMatch(/"old" is the backup's own cluster id/);
    expect(same.code).toBe(1);
    expect(same.err).toMatch(/"old" is the backup's own cluster id/);
    expect(existsSync(dataDir)).toBe(false);
    const r = await run(["--config", config, "--backup", b.path, "--replica.cluster_id=new"]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`into ${dataDir} for replica n2 of the new cluster new`);
  });

  it("refuses a manifest that does not match, and a non-empty data dir", async () => {
    const b = backup("m.snap");
    const other = backup("other.snap", "old", "b");
    const dataDir = join(dir, "m-n1");
    const args = (manifest: string) => [
      `--backup=${b.path}`,
      `--manifest=${manifest}`,
      `--replica.data_dir=${dataDir}`,
      "--replica.id=n1",
      "--replica.cluster_id=new",
      `--replica.initial_cluster=${members}`,
    ];
    // Same size and content hash cannot both match another file; a forged manifest with the
    // right hash but another state digest is caught by the digest.
    const forged = join(dir, "forged.json");
    const bytes = readFileSync(b.path);
    writeFileSync(
      forged,
      JSON.stringify({
        clusterId: "old",
        appliedIndex: 1,
        stateDigest: "0".repeat(64),
        bytes: bytes.length,
        sha256: createHash("sha256").update(bytes).digest("hex"),
      }),
    );
    const r1 = await run(args(forged));
    expect(r1.code).toBe(1);
    expect(r1.err).toMatch(/state digest .* not this backup's manifest/);
    const r2 = await run(args(`${other.path}.json`));
    expect(r2.code).toBe(1);
    expect(r2.err).toMatch(/sha256 .* differs from its manifest|its manifest .* says/);
    const r3 = await run(args(join(dir, "missing.json")));
    expect(r3.code).toBe(1);
    expect(r3.err).toMatch(/cannot read manifest/);
    expect(existsSync(dataDir)).toBe(false);
    expect((await run(args(`${b.path}.json`))).code).toBe(0);
    const again = await run(args(`${b.path}.json`));
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/is not empty .*restore only into an empty or missing directory/);
  });
});
