import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import fc from "fast-check";
import { Level } from "level";
import { afterEach, describe, expect, it } from "vitest";
import { encode } from "../../src/raft/codec.js";
import { AssertionError } from "../../src/raft/core/assert.js";
import type { ConfState, Entry, HardState, Snapshot } from "../../src/raft/core/types.js";
import {
  clusterMetaKey,
  confStateKey,
  dbDir,
  entryIndexOfKey,
  entryKey,
  entryKeyEnd,
  frame,
  hardStateKey,
  snapshotDir,
  snapshotFileName,
  snapshotMetaKey,
} from "../../src/raft/storage/layout.js";
import {
  LevelStorage,
  type LevelStorageOptions,
  type LoadedState,
  type SnapshotStep,
  StorageCorruptionError,
} from "../../src/raft/storage/level-storage.js";

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "novanet-storage-"));
  dirs.push(dir);
  return dir;
}

const conf: ConfState = {
  voters: ["n1", "n2", "n3"],
  learners: [],
  addresses: { n1: "10.0.0.1:7000", n2: "10.0.0.2:7000", n3: "10.0.0.3:7000" },
};

function ent(index: number, term: number, data: number[] = [index, term]): Entry {
  return { kind: "normal", index, term, data: Uint8Array.from(data) };
}

function ents(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(ent(i, term));
  return out;
}

function hs(term: number, commit: number, vote = ""): HardState {
  return { term, vote, commit };
}

function snap(
  index: number,
  term: number,
  data: Uint8Array = Uint8Array.of(index, term),
): Snapshot {
  return { meta: { index, term, confState: conf }, data };
}

async function bootstrapped(
  options: LevelStorageOptions = {},
): Promise<{ dir: string; s: LevelStorage }> {
  const dir = await tempDir();
  const s = await LevelStorage.open(dir, options);
  await s.bootstrap({ clusterId: "c1", confState: conf });
  return { dir, s };
}

async function reopen(dir: string): Promise<{ s: LevelStorage; state: LoadedState | null }> {
  const s = await LevelStorage.open(dir);
  return { s, state: await s.load() };
}

/** Closes `s`, reopens its directory and loads; closes again so the raw DB can be opened. */
async function reload(s: LevelStorage, dir: string): Promise<LoadedState | null> {
  await s.close();
  const again = await reopen(dir);
  await again.s.close();
  return again.state;
}

async function withRawDb<T>(
  dir: string,
  fn: (db: Level<Uint8Array, Uint8Array>) => Promise<T>,
): Promise<T> {
  const db = new Level<Uint8Array, Uint8Array>(dbDir(dir), {
    keyEncoding: "view",
    valueEncoding: "view",
  });
  await db.open();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

async function storedEntryIndexes(dir: string): Promise<number[]> {
  return withRawDb(dir, async (db) =>
    (await db.keys({ gte: entryKey(0), lt: entryKeyEnd }).all()).map(entryIndexOfKey),
  );
}

/** A store with snapshot 0, entries 1..5 at term 2, commit 5; closed. */
async function closedStoreWithLog(): Promise<string> {
  const { dir, s } = await bootstrapped();
  await s.save({ hardState: hs(2, 5), entries: ents(1, 5, 2), sync: true });
  await s.close();
  return dir;
}

async function flipByteAt(
  db: Level<Uint8Array, Uint8Array>,
  key: Uint8Array,
  offset: number,
): Promise<void> {
  const value = await db.get(key);
  if (value === undefined) throw new Error("test setup: key not found");
  const copy = Uint8Array.from(value);
  copy[offset] = (copy[offset] ?? 0) ^ 0x40;
  await db.put(key, copy);
}

function normalEntryData(entries: Entry[]): Uint8Array[] {
  return entries.flatMap((e) => (e.kind === "normal" ? [e.data] : []));
}

describe("LevelStorage basics", () => {
  it("loads null from a never-bootstrapped store and refuses accessors before load", async () => {
    const s = await LevelStorage.open(await tempDir());
    expect(() => s.lastIndex()).toThrow(/call load\(\) or bootstrap\(\) first/);
    expect(await s.load()).toBeNull();
    await s.close();
  });

  it("bootstraps an empty snapshot at index 0 holding the membership", async () => {
    const { dir, s } = await bootstrapped();
    expect([s.firstIndex(), s.lastIndex()]).toEqual([1, 0]);
    expect(await reload(s, dir)).toEqual({
      hardState: { term: 0, vote: "", commit: 0 },
      snapshot: { meta: { index: 0, term: 0, confState: conf }, data: new Uint8Array(0) },
      entries: [],
      confState: conf,
      clusterId: "c1",
    });
  });

  it("refuses to bootstrap twice, also after reopening", async () => {
    const { dir, s } = await bootstrapped();
    await expect(s.bootstrap({ clusterId: "c2", confState: conf })).rejects.toThrow(
      /bootstrap: store is not empty/,
    );
    await s.close();
    const again = await LevelStorage.open(dir);
    await expect(again.bootstrap({ clusterId: "c2", confState: conf })).rejects.toBeInstanceOf(
      AssertionError,
    );
    expect((await again.load())?.clusterId).toBe("c1");
    await again.close();
  });

  it("round trips entries, hard state and membership across close and reopen", async () => {
    const { dir, s } = await bootstrapped();
    const entries: Entry[] = [
      ent(1, 1, []),
      {
        kind: "conf",
        index: 2,
        term: 1,
        change: { type: "add-learner", nodeId: "n4", address: "h:1" },
      },
      ent(3, 2, [0, 255, 7]),
      ent(4, 2, Array.from(randomBytes(4096))),
    ];
    const newConf: ConfState = {
      ...conf,
      learners: ["n4"],
      addresses: { ...conf.addresses, n4: "h:1" },
    };
    await s.save({ hardState: hs(2, 3, "n2"), entries, confState: newConf, sync: true });
    expect([s.firstIndex(), s.lastIndex()]).toEqual([1, 4]);

    const state = await reload(s, dir);
    expect(state?.entries).toEqual(entries);
    expect(state?.hardState).toEqual(hs(2, 3, "n2"));
    expect(state?.confState).toEqual(newConf);
    // Decoded bytes come back as plain Uint8Array, not Buffer.
    for (const data of normalEntryData(state?.entries ?? [])) {
      expect(Object.getPrototypeOf(data)).toBe(Uint8Array.prototype);
    }
  });

  it("replaces a conflicting suffix, shorter or longer than the old one", async () => {
    const { dir, s } = await bootstrapped();
    await s.save({ hardState: hs(1, 1), entries: ents(1, 6, 1), sync: false });
    await s.save({ hardState: hs(2, 1), entries: ents(3, 4, 2), sync: true });
    expect(s.lastIndex()).toBe(4);
    let state = await reload(s, dir);
    expect(state?.entries).toEqual([...ents(1, 2, 1), ...ents(3, 4, 2)]);
    expect(await storedEntryIndexes(dir)).toEqual([1, 2, 3, 4]);

    const again = await LevelStorage.open(dir);
    await again.load();
    await again.save({ hardState: hs(3, 2), entries: ents(3, 8, 3), sync: true });
    state = await reload(again, dir);
    expect(state?.entries).toEqual([...ents(1, 2, 1), ...ents(3, 8, 3)]);
    expect(state?.hardState).toEqual(hs(3, 2));
  });

  it("lets a received snapshot replace the whole log, beyond or inside it", async () => {
    const { dir, s } = await bootstrapped();
    await s.save({ hardState: hs(1, 2), entries: ents(1, 5, 1), sync: false });
    const big = new Uint8Array(randomBytes(3 << 20));
    await s.save({ hardState: hs(2, 8), entries: [], snapshot: snap(8, 2, big), sync: false });
    expect([s.firstIndex(), s.lastIndex()]).toEqual([9, 8]);
    let state = await reload(s, dir);
    expect(state?.snapshot.meta).toEqual(snap(8, 2).meta);
    // Byte comparison: toEqual walks a 3 MB array element by element, which takes seconds.
    expect(Buffer.compare(state?.snapshot.data ?? new Uint8Array(0), big)).toBe(0);
    expect(state?.entries).toEqual([]);
    expect(await storedEntryIndexes(dir)).toEqual([]);
    expect(await readdir(snapshotDir(dir))).toEqual([snapshotFileName(2)]);

    // Inside the log: the entries above the snapshot go too, and entries may ride along.
    const again = await LevelStorage.open(dir);
    await again.load();
    await again.save({ hardState: hs(3, 12), entries: ents(9, 14, 3), sync: false });
    const otherConf: ConfState = { voters: ["n1"], learners: [], addresses: { n1: "x:1" } };
    const received: Snapshot = {
      meta: { index: 11, term: 3, confState: otherConf },
      data: Uint8Array.of(9),
    };
    await again.save({
      hardState: hs(4, 12),
      entries: ents(12, 12, 4),
      snapshot: received,
      sync: false,
    });
    state = await reload(again, dir);
    expect(state?.snapshot).toEqual(received);
    expect(state?.entries).toEqual(ents(12, 12, 4));
    // Without an explicit confState the snapshot's membership is the persisted one.
    expect(state?.confState).toEqual(otherConf);
    expect(await storedEntryIndexes(dir)).toEqual([12]);
  });

  it("compacts and keeps only the entries after the snapshot across reopen", async () => {
    const { dir, s } = await bootstrapped();
    await s.save({
      hardState: hs(2, 8),
      entries: [...ents(1, 4, 1), ...ents(5, 10, 2)],
      sync: true,
    });
    await s.compact(snap(6, 2, Uint8Array.of(1, 2, 3)));
    expect([s.firstIndex(), s.lastIndex()]).toEqual([7, 10]);
    await s.compact(snap(8, 2, Uint8Array.of(4, 5)));
    const state = await reload(s, dir);
    expect(state?.snapshot).toEqual(snap(8, 2, Uint8Array.of(4, 5)));
    expect(state?.entries).toEqual(ents(9, 10, 2));
    expect(state?.hardState).toEqual(hs(2, 8));
    expect(await storedEntryIndexes(dir)).toEqual([9, 10]);
    expect(await readdir(snapshotDir(dir))).toEqual([snapshotFileName(3)]);
  });

  it("runs operations in call order even when not awaited one by one", async () => {
    const { dir, s } = await bootstrapped();
    const writes = [
      s.save({ hardState: hs(1, 0), entries: ents(1, 3, 1), sync: false }),
      s.save({ hardState: hs(2, 2), entries: ents(3, 5, 2), sync: false }),
      s.compact(snap(2, 1)),
    ];
    await Promise.all(writes);
    const state = await reload(s, dir);
    expect(state?.snapshot.meta.index).toBe(2);
    expect(state?.entries).toEqual(ents(3, 5, 2));
  });
});

describe("LevelStorage preconditions", () => {
  it("throws on invalid saves and compactions and writes nothing", async () => {
    const { dir, s } = await bootstrapped();
    await s.save({
      hardState: hs(2, 4),
      entries: [...ents(1, 2, 1), ...ents(3, 5, 2)],
      sync: true,
    });
    await s.compact(snap(2, 1));
    const bad: Array<[() => Promise<void>, RegExp]> = [
      [() => s.save({ entries: [ent(6, 2), ent(8, 2)], sync: false }), /entries not contiguous: 8/],
      [() => s.save({ entries: [ent(7, 2)], sync: false }), /entries start at 7, outside \(2, 6\]/],
      [() => s.save({ entries: [ent(2, 2)], sync: false }), /entries start at 2, outside \(2, 6\]/],
      [
        () => s.save({ entries: [ent(6, 3), ent(7, 2)], sync: false }),
        /entry 7 has term 2, below the preceding term 3/,
      ],
      [
        () => s.save({ entries: [ent(4, 1)], sync: false }),
        /entry 4 has term 1, below the preceding term 2/,
      ],
      [
        () => s.save({ hardState: hs(2, 6), entries: [], sync: false }),
        /commit 6 beyond the last index 5/,
      ],
      [
        () => s.save({ hardState: hs(2, 4), entries: ents(3, 3, 2), sync: false }),
        /commit 4 beyond the last index 3/,
      ],
      [
        () => s.save({ hardState: hs(1, 4), entries: [], sync: false }),
        /hard-state term 1 below the stored 2/,
      ],
      [
        () => s.save({ entries: [], snapshot: snap(2, 1), sync: false }),
        /snapshot 2\/1 is not newer than the stored 2\/1/,
      ],
      [() => s.compact(snap(5, 2)), /compact: index 5 outside \(2, commit 4\]/],
      [() => s.compact(snap(2, 1)), /compact: index 2 outside/],
      [() => s.compact(snap(4, 1)), /snapshot term 1 differs from term 2 of entry 4/],
    ];
    for (const [op, message] of bad) {
      const attempt = op();
      await expect(attempt).rejects.toThrow(message);
      await expect(attempt).rejects.toBeInstanceOf(AssertionError);
    }
    // A rejected precondition does not poison the store.
    await s.save({ hardState: hs(2, 5), entries: [ent(6, 2)], sync: true });
    const state = await reload(s, dir);
    expect(state?.entries).toEqual(ents(3, 6, 2));
    expect(state?.snapshot).toEqual(snap(2, 1));
    expect(state?.hardState).toEqual(hs(2, 5));
  });
});

describe("LevelStorage corruption detection", () => {
  type Corruption = (dir: string) => Promise<void>;
  const raw =
    (fn: (db: Level<Uint8Array, Uint8Array>) => Promise<void>): Corruption =>
    (dir) =>
      withRawDb(dir, fn);
  const snapFile = (dir: string) => join(snapshotDir(dir), snapshotFileName(1));

  const cases: Array<[string, Corruption, RegExp]> = [
    [
      "entry checksum",
      raw((db) => flipByteAt(db, entryKey(3), 9)),
      /entry 3 \(key 650000000000000003\): checksum mismatch/,
    ],
    [
      "entry stored checksum",
      raw((db) => flipByteAt(db, entryKey(5), 0)),
      /entry 5 .*checksum mismatch, stored/,
    ],
    [
      "hard state checksum",
      raw((db) => flipByteAt(db, hardStateKey, 6)),
      /hard-state \(key 68\): checksum mismatch/,
    ],
    [
      "conf state checksum",
      raw((db) => flipByteAt(db, confStateKey, 8)),
      /conf-state \(key 6d\): checksum mismatch/,
    ],
    [
      "snapshot meta checksum",
      raw((db) => flipByteAt(db, snapshotMetaKey, 10)),
      /snapshot-meta \(key 73\): checksum mismatch/,
    ],
    [
      "cluster meta checksum",
      raw((db) => flipByteAt(db, clusterMetaKey, 5)),
      /cluster-meta \(key 63\): checksum mismatch/,
    ],
    [
      "snapshot data length",
      (dir) => writeFile(snapFile(dir), Uint8Array.of(1, 2)),
      /snapshot 0 data file .*: length 2, expected 0/,
    ],
    [
      "snapshot data missing",
      (dir) => rm(snapFile(dir)),
      /snapshot 0 data file snapshot-0000000000000001\.bin: ENOENT/,
    ],
    [
      "gap",
      raw((db) => db.del(entryKey(3))),
      /gap in the log: expected entry 3 after entry 2, found entry 4 /,
    ],
    [
      "first entry after the snapshot",
      raw((db) => db.del(entryKey(1))),
      /entries must start at 1, right after snapshot index 0, but the first is entry 2/,
    ],
    [
      "entry index differs from its key",
      raw((db) => db.put(entryKey(3), frame("entry", ent(7, 2)))),
      /entry 3 \(key 650000000000000003\) holds an entry with index 7/,
    ],
    [
      "decreasing terms",
      raw((db) => db.put(entryKey(4), frame("entry", ent(4, 1)))),
      /entry 4 has term 1, below term 2 at index 3/,
    ],
    [
      "commit beyond the last index",
      raw((db) => db.put(hardStateKey, frame("hard-state", hs(2, 9)))),
      /hard-state commit 9 is beyond the last index 5/,
    ],
    [
      "commit beyond a truncated log",
      raw((db) => db.del(entryKey(5))),
      /hard-state commit 5 is beyond the last index 4/,
    ],
    [
      "undecodable value",
      // 0xc1 is never used in msgpack; the checksum over it is valid.
      raw((db) => db.put(entryKey(2), withCrc(Uint8Array.of(0xc1, 0xc1, 0xc1)))),
      /entry 2 \(key 650000000000000002\): cannot decode entry/,
    ],
    [
      "value of another kind",
      raw((db) => db.put(entryKey(2), frame("hard-state", hs(1, 1)))),
      /entry 2 .*cannot decode entry: envelope holds hard-state/,
    ],
    [
      "value of the wrong shape",
      raw((db) => db.put(hardStateKey, frame("hard-state", { term: "x" }))),
      /hard-state .*decoded hard-state has the wrong shape/,
    ],
    [
      "value too short",
      raw((db) => db.put(confStateKey, Uint8Array.of(1, 2))),
      /conf-state .*value of 2 bytes is too short/,
    ],
    [
      "envelope version",
      raw((db) => db.put(hardStateKey, withCrc(encodeVersion2()))),
      /hard-state .*envelope version 2, expected 1/,
    ],
    ["missing hard state", raw((db) => db.del(hardStateKey)), /hard-state \(key 68\) is missing/],
    [
      "missing snapshot meta",
      raw((db) => db.del(snapshotMetaKey)),
      /snapshot-meta \(key 73\) is missing/,
    ],
    [
      "missing cluster meta",
      raw((db) => db.del(clusterMetaKey)),
      /cluster-meta \(key 63\) is missing but the store holds entry 1/,
    ],
    [
      "malformed entry key",
      raw((db) => db.put(Uint8Array.of(0x65, 1), frame("entry", ent(1, 1)))),
      /malformed entry key 6501/,
    ],
  ];

  it.each(cases)("detects %s on open and keeps refusing", async (_name, corrupt, message) => {
    const dir = await closedStoreWithLog();
    await corrupt(dir);
    for (let attempt = 0; attempt < 2; attempt++) {
      const s = await LevelStorage.open(dir);
      const load = s.load();
      await expect(load).rejects.toThrow(message);
      await expect(load).rejects.toBeInstanceOf(StorageCorruptionError);
      await s.close();
    }
  });

  it("detects a corrupted snapshot data file after a compaction", async () => {
    const { dir, s } = await bootstrapped();
    await s.save({ hardState: hs(1, 3), entries: ents(1, 3, 1), sync: true });
    await s.compact(snap(3, 1, new Uint8Array(randomBytes(1000))));
    await s.close();
    const file = join(snapshotDir(dir), snapshotFileName(2));
    const bytes = await readFile(file);
    bytes[500] = (bytes[500] ?? 0) ^ 1;
    await writeFile(file, bytes);
    const again = await LevelStorage.open(dir);
    await expect(again.load()).rejects.toThrow(/snapshot 3 data file .*checksum mismatch/);
    await again.close();
    await truncate(file, 999);
    const third = await LevelStorage.open(dir);
    await expect(third.load()).rejects.toThrow(/length 999, expected 1000/);
    await third.close();
  });
});

/** Frames arbitrary bytes the way the store frames an envelope, to get past the checksum. */
function withCrc(envelope: Uint8Array): Uint8Array {
  const value = new Uint8Array(4 + envelope.length);
  new DataView(value.buffer).setUint32(0, crc32(envelope));
  value.set(envelope, 4);
  return value;
}

/** An envelope as a future codec version would write it: [2, kind, payload]. */
function encodeVersion2(): Uint8Array {
  const v1 = encode("hard-state", hs(1, 1));
  // The envelope is a 3-element array whose first element is the positive fixint version.
  expect(v1[1]).toBe(1);
  const v2 = Uint8Array.from(v1);
  v2[1] = 2;
  return v2;
}

describe("LevelStorage crash safety", () => {
  const steps: SnapshotStep[] = [
    "temp-file-written",
    "file-renamed",
    "meta-committed",
    "entries-cleared",
  ];
  const committed = (step: SnapshotStep) => step === "meta-committed" || step === "entries-cleared";
  /** The hook fires from load() too (it finishes clean-up), so it is armed only when asked. */
  const crashAt = (at: SnapshotStep, armed: () => boolean = () => true): LevelStorageOptions => ({
    afterStep: (step) => {
      if (step === at && armed()) throw new Error(`crash at ${step}`);
    },
  });

  /** A closed store with snapshot 3 (file seq 2) and entries 4..10, commit 10. */
  async function storeWithSnapshot(): Promise<string> {
    const { dir, s } = await bootstrapped();
    await s.save({
      hardState: hs(2, 10),
      entries: [...ents(1, 5, 1), ...ents(6, 10, 2)],
      sync: true,
    });
    await s.compact(snap(3, 1));
    await s.close();
    return dir;
  }

  async function crashedDuring(
    dir: string,
    step: SnapshotStep,
    op: (s: LevelStorage) => Promise<void>,
  ): Promise<void> {
    let armed = false;
    const s = await LevelStorage.open(
      dir,
      crashAt(step, () => armed),
    );
    await s.load();
    armed = true;
    await expect(op(s)).rejects.toThrow(`crash at ${step}`);
    // The crashed instance refuses further work: its view may disagree with the disk.
    await expect(s.save({ entries: [], sync: false })).rejects.toThrow(/an earlier write failed/);
    await s.close();
  }

  it.each(steps)("compact crashing after %s leaves a loadable store", async (step) => {
    const dir = await storeWithSnapshot();
    const data = new Uint8Array(randomBytes(2048));
    await crashedDuring(dir, step, (s) => s.compact(snap(7, 2, data)));
    if (step === "meta-committed") {
      // The case load must accept: the new snapshot is live, the entries it covers are still there.
      expect(await storedEntryIndexes(dir)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    }

    const { s, state } = await reopen(dir);
    const expected = committed(step)
      ? { snapshot: snap(7, 2, data), entries: ents(8, 10, 2) }
      : { snapshot: snap(3, 1), entries: [...ents(4, 5, 1), ...ents(6, 10, 2)] };
    expect(state?.snapshot).toEqual(expected.snapshot);
    expect(state?.entries).toEqual(expected.entries);
    expect(state?.hardState).toEqual(hs(2, 10));
    // load finished the interrupted clean-up: no covered entries, only the live data file.
    expect((await readdir(snapshotDir(dir))).length).toBe(1);

    // And the store keeps working.
    await s.compact(snap(9, 2));
    await s.save({ hardState: hs(3, 10), entries: [ent(11, 3)], sync: true });
    const final = await reload(s, dir);
    expect(final?.snapshot).toEqual(snap(9, 2));
    expect(final?.entries).toEqual([ent(10, 2), ent(11, 3)]);
    expect(await storedEntryIndexes(dir)).toEqual([10, 11]);
    expect((await readdir(snapshotDir(dir))).length).toBe(1);
  });

  it.each(steps)("a received snapshot crashing after %s leaves a loadable store", async (step) => {
    const dir = await storeWithSnapshot();
    const received = snap(20, 4, new Uint8Array(randomBytes(512)));
    await crashedDuring(dir, step, (s) =>
      s.save({ hardState: hs(4, 20), entries: ents(21, 22, 4), snapshot: received, sync: false }),
    );
    const { s, state } = await reopen(dir);
    await s.close();
    if (committed(step)) {
      expect(state?.snapshot).toEqual(received);
      expect(state?.entries).toEqual(ents(21, 22, 4));
      expect(state?.hardState).toEqual(hs(4, 20));
    } else {
      expect(state?.snapshot).toEqual(snap(3, 1));
      expect(state?.entries).toEqual([...ents(4, 5, 1), ...ents(6, 10, 2)]);
      expect(state?.hardState).toEqual(hs(2, 10));
    }
    expect(await storedEntryIndexes(dir)).toEqual(
      committed(step) ? [21, 22] : [4, 5, 6, 7, 8, 9, 10],
    );
    expect((await readdir(snapshotDir(dir))).length).toBe(1);
  });

  it.each(["temp-file-written", "file-renamed"] as const)(
    "bootstrap crashing after %s leaves a never-bootstrapped store",
    async (step) => {
      const dir = await tempDir();
      const s = await LevelStorage.open(dir, crashAt(step));
      await expect(s.bootstrap({ clusterId: "c1", confState: conf })).rejects.toThrow(
        `crash at ${step}`,
      );
      await s.close();
      const again = await LevelStorage.open(dir);
      expect(await again.load()).toBeNull();
      await again.bootstrap({ clusterId: "c1", confState: conf });
      expect((await reload(again, dir))?.clusterId).toBe("c1");
      expect(await readdir(snapshotDir(dir))).toEqual([snapshotFileName(1)]);
    },
  );
});

describe("LevelStorage against an in-memory model", () => {
  interface Model {
    hardState: HardState;
    snapshot: Snapshot;
    entries: Entry[];
    confState: ConfState;
  }

  type Op =
    | {
        t: "append";
        at: number;
        n: number;
        bump: boolean;
        commit: number;
        newConf: boolean;
        sync: boolean;
      }
    | { t: "receive"; ahead: number; bump: boolean; withEntries: number; data: Uint8Array }
    | { t: "compact"; at: number; data: Uint8Array }
    | { t: "reopen" };

  const opArb: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 5,
      arbitrary: fc.record({
        t: fc.constant("append" as const),
        at: fc.nat(),
        n: fc.integer({ min: 1, max: 4 }),
        bump: fc.boolean(),
        commit: fc.nat(),
        newConf: fc.boolean(),
        sync: fc.boolean(),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        t: fc.constant("receive" as const),
        ahead: fc.nat({ max: 5 }),
        bump: fc.boolean(),
        withEntries: fc.nat({ max: 2 }),
        data: fc.uint8Array({ maxLength: 64 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        t: fc.constant("compact" as const),
        at: fc.nat(),
        data: fc.uint8Array({ maxLength: 64 }),
      }),
    },
    { weight: 1, arbitrary: fc.constant({ t: "reopen" as const }) },
  );

  const lastOf = (m: Model) => m.entries.at(-1)?.index ?? m.snapshot.meta.index;
  const termOf = (m: Model, index: number) =>
    index === m.snapshot.meta.index
      ? m.snapshot.meta.term
      : (m.entries.find((e) => e.index === index)?.term ?? -1);

  it("reloads to the model after random saves, snapshots and compactions", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 20 }), async (ops) => {
        const { dir, s: first } = await bootstrapped();
        let s = first;
        const m: Model = {
          hardState: hs(0, 0),
          snapshot: { meta: { index: 0, term: 0, confState: conf }, data: new Uint8Array(0) },
          entries: [],
          confState: conf,
        };
        const check = async () => {
          const state = await reload(s, dir);
          expect(state).toEqual({ ...m, clusterId: "c1" });
          s = await LevelStorage.open(dir);
          await s.load();
        };
        try {
          for (const op of ops) {
            const snapIndex = m.snapshot.meta.index;
            const last = lastOf(m);
            const commit = m.hardState.commit;
            if (op.t === "append") {
              // Never truncate committed entries, as Raft never does.
              const low = Math.max(snapIndex, commit) + 1;
              const start = low + (op.at % (last + 2 - low));
              const term = m.hardState.term + (op.bump ? 1 : 0);
              const added = ents(start, start + op.n - 1, term);
              const newLast = start + op.n - 1;
              const hardState = hs(term, commit + (op.commit % (newLast - commit + 1)));
              const confState: ConfState | undefined = op.newConf
                ? { voters: ["n1"], learners: [`l${start}`], addresses: { n1: `a:${start}` } }
                : undefined;
              await s.save({
                hardState,
                entries: added,
                ...(confState ? { confState } : {}),
                sync: op.sync,
              });
              m.entries = [...m.entries.filter((e) => e.index < start), ...added];
              m.hardState = hardState;
              if (confState) m.confState = confState;
            } else if (op.t === "receive") {
              const index = Math.max(snapIndex, commit) + 1 + op.ahead;
              const term = m.hardState.term + (op.bump ? 1 : 0);
              const snapshot: Snapshot = { meta: { index, term, confState: conf }, data: op.data };
              const added = ents(index + 1, index + op.withEntries, term);
              await s.save({ hardState: hs(term, index), entries: added, snapshot, sync: false });
              m.snapshot = snapshot;
              m.entries = added;
              m.hardState = hs(term, index);
              m.confState = conf;
            } else if (op.t === "compact") {
              if (commit <= snapIndex) continue;
              const index = snapIndex + 1 + (op.at % (commit - snapIndex));
              const snapshot: Snapshot = {
                meta: { index, term: termOf(m, index), confState: conf },
                data: op.data,
              };
              await s.compact(snapshot);
              m.snapshot = snapshot;
              m.entries = m.entries.filter((e) => e.index > index);
            } else {
              await check();
            }
            expect([s.firstIndex(), s.lastIndex()]).toEqual([m.snapshot.meta.index + 1, lastOf(m)]);
          }
          expect(await reload(s, dir)).toEqual({ ...m, clusterId: "c1" });
          // Nothing the snapshot covers is left behind once load has finished clean-up.
          expect(await storedEntryIndexes(dir)).toEqual(m.entries.map((e) => e.index));
        } finally {
          await s.close();
          await rm(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 40 },
    );
  });
});
