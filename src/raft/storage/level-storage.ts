// The durable Raft log of one replica: hard state, entries and the latest snapshot, on LevelDB.
// Snapshot data lives in its own file (it can be hundreds of MB) referenced from the snapshot meta.
//
// Crash safety of a snapshot write (save with a received snapshot, compact, bootstrap):
//   1. data -> temp file, fsync; rename to a fresh name, fsync the directory
//   2. one synced LevelDB batch switches the snapshot meta to the new file   <- the commit point
//   3. entries <= snapshot index are cleared; 4. files other than the live one are removed
// A crash before 2 leaves an unreferenced file; after 2, entries the snapshot covers. load()
// accepts both: it reads only entries above the snapshot index, then finishes 3 and 4.
import { mkdir, open as openFile, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { Level } from "level";
import { asBytes, type EnvelopeKind } from "../codec.js";
import { AssertionError, assert } from "../core/assert.js";
import type { RaftInitialState } from "../core/config.js";
import type { ConfState, Entry, HardState, Snapshot } from "../core/types.js";
import {
  clusterMetaKey,
  confStateKey,
  dbDir,
  describeKey,
  entryIndexOfKey,
  entryKey,
  entryKeyEnd,
  frame,
  hardStateKey,
  StorageCorruptionError,
  type StoredSnapshotMeta,
  snapshotDir,
  snapshotFileName,
  snapshotFilePattern,
  snapshotMetaKey,
  unframe,
} from "./layout.js";

export { StorageCorruptionError } from "./layout.js";

export interface LoadedState extends RaftInitialState {
  /** The last persisted membership (may be newer than the snapshot's); informational. */
  confState: ConfState;
  clusterId: string;
}

export interface StorageWrite {
  hardState?: HardState;
  /** Appended after the stored entries; a stored suffix from entries[0].index on is replaced. */
  entries: Entry[];
  /** A snapshot received from the leader: it replaces the whole log. */
  snapshot?: Snapshot;
  confState?: ConfState;
  sync: boolean;
}

/** The durable steps of a snapshot write, in order. */
export type SnapshotStep =
  | "temp-file-written"
  | "file-renamed"
  | "meta-committed"
  | "entries-cleared";

export interface LevelStorageOptions {
  /**
   * Fault injection for tests: called after each step; throwing there simulates a crash. Also
   * called from load(), which finishes steps 3 and 4 of an interrupted write.
   */
  afterStep?: (step: SnapshotStep) => void;
}

/** What the store knows without reading: enough to check preconditions and answer accessors. */
interface View {
  snapIndex: number;
  snapTerm: number;
  snapSeq: number;
  lastIndex: number;
  lastTerm: number;
  hardState: HardState;
}

type Batch = Array<
  { type: "put"; key: Uint8Array; value: Uint8Array } | { type: "del"; key: Uint8Array }
>;

export class LevelStorage {
  private view: View | null = null;
  /** Set when a write failed part-way: memory and disk may disagree, so only close() is allowed. */
  private failure: unknown = null;
  /** Operations run one at a time, in call order, so each sees the previous one's view. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly dir: string,
    private readonly db: Level<Uint8Array, Uint8Array>,
    private readonly options: LevelStorageOptions,
  ) {}

  static async open(dir: string, options: LevelStorageOptions = {}): Promise<LevelStorage> {
    await mkdir(snapshotDir(dir), { recursive: true });
    const db = new Level<Uint8Array, Uint8Array>(dbDir(dir), {
      keyEncoding: "view",
      valueEncoding: "view",
    });
    await db.open();
    return new LevelStorage(dir, db, options);
  }

  firstIndex(): number {
    return this.loaded().snapIndex + 1;
  }

  lastIndex(): number {
    return this.loaded().lastIndex;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.db.close();
  }

  /** Null for a store that was never bootstrapped; throws StorageCorruptionError on any damage. */
  load(): Promise<LoadedState | null> {
    return this.exclusive(async () => {
      const clusterRaw = await this.db.get(clusterMetaKey);
      if (clusterRaw === undefined) {
        const [anyKey] = await this.db.keys({ limit: 1 }).all();
        if (anyKey !== undefined) {
          throw new StorageCorruptionError(
            `${describeKey(clusterMetaKey)} is missing but the store holds ${describeKey(anyKey)}`,
          );
        }
        return null;
      }
      const { clusterId } = unframe("cluster-meta", clusterMetaKey, clusterRaw, isClusterMeta);
      const hardState = await this.read("hard-state", hardStateKey, isHardState);
      const confState = await this.read("conf-state", confStateKey, isConfState);
      const meta = await this.read("snapshot-meta", snapshotMetaKey, isStoredSnapshotMeta);
      const data = await this.readSnapshotFile(meta);

      const entries: Entry[] = [];
      let prevIndex = meta.index;
      let prevTerm = meta.term;
      // Entries at or below the snapshot index are left over from an interrupted step 3: ignored.
      for await (const [key, value] of this.db.iterator({
        gt: entryKey(meta.index),
        lt: entryKeyEnd,
      })) {
        const index = entryIndexOfKey(key);
        if (index !== prevIndex + 1) {
          throw new StorageCorruptionError(
            entries.length === 0
              ? `entries must start at ${prevIndex + 1}, right after snapshot index ${prevIndex}, but the first is ${describeKey(key)}`
              : `gap in the log: expected entry ${prevIndex + 1} after entry ${prevIndex}, found ${describeKey(key)}`,
          );
        }
        const entry = unframe("entry", key, value, isEntry);
        if (entry.index !== index) {
          throw new StorageCorruptionError(
            `${describeKey(key)} holds an entry with index ${entry.index}`,
          );
        }
        if (entry.term < prevTerm) {
          throw new StorageCorruptionError(
            `terms decrease along the log: entry ${index} has term ${entry.term}, below term ${prevTerm} at index ${prevIndex}`,
          );
        }
        entries.push(entry.kind === "normal" ? { ...entry, data: asBytes(entry.data) } : entry);
        prevIndex = index;
        prevTerm = entry.term;
      }
      if (hardState.commit > prevIndex) {
        throw new StorageCorruptionError(
          `hard-state commit ${hardState.commit} is beyond the last index ${prevIndex}`,
        );
      }

      this.view = {
        snapIndex: meta.index,
        snapTerm: meta.term,
        snapSeq: meta.file.seq,
        lastIndex: prevIndex,
        lastTerm: prevTerm,
        hardState,
      };
      await this.mutate(() => this.finishSnapshot(meta.index, meta.file.seq));
      const snapMeta = { index: meta.index, term: meta.term, confState: meta.confState };
      return { hardState, snapshot: { meta: snapMeta, data }, entries, confState, clusterId };
    });
  }

  /** Makes a fresh store: an empty snapshot at index 0 / term 0 holding the initial membership. */
  bootstrap(args: { clusterId: string; confState: ConfState }): Promise<void> {
    return this.exclusive(async () => {
      assert(args.clusterId !== "", "bootstrap: clusterId must not be empty");
      const snapshot: Snapshot = {
        meta: { index: 0, term: 0, confState: args.confState },
        data: new Uint8Array(0),
      };
      await this.initialize("bootstrap", args.clusterId, snapshot);
    });
  }

  /**
   * Makes a fresh store that starts from a snapshot (a restored backup): the snapshot at
   * `snapshot.meta` with its membership, hard state { term: meta.term, commit: meta.index }, no
   * entries. The data is opaque here. Like bootstrap, it refuses a store that holds anything.
   */
  seed(args: { clusterId: string; snapshot: Snapshot }): Promise<void> {
    return this.exclusive(async () => {
      const { clusterId, snapshot } = args;
      const { index, term, confState } = snapshot.meta;
      assert(clusterId !== "", "seed: clusterId must not be empty");
      assert(
        Number.isSafeInteger(index) && index >= 1 && Number.isSafeInteger(term) && term >= 1,
        () => `seed: snapshot position ${index}/${term} must be positive`,
      );
      assert(confState.voters.length > 0, "seed: the snapshot's membership has no voters");
      await this.initialize("seed", clusterId, snapshot);
    });
  }

  /**
   * The first write to an empty store (bootstrap, seed): the snapshot with its membership, the
   * hard state { term, commit } at its position, the cluster id; nothing else. Refuses a store
   * that holds anything.
   */
  private async initialize(op: string, clusterId: string, snapshot: Snapshot): Promise<void> {
    const { index, term, confState } = snapshot.meta;
    const [anyKey] = await this.db.keys({ limit: 1 }).all();
    if (anyKey !== undefined) {
      throw new AssertionError(`${op}: store is not empty, it holds ${describeKey(anyKey)}`);
    }
    const hardState: HardState = { term, vote: "", commit: index };
    await this.mutate(async () => {
      const seq = 1;
      const meta = await this.writeSnapshotFile(snapshot, seq);
      // One atomic batch: a crash leaves all of it or nothing.
      await this.db.batch(
        [
          put(snapshotMetaKey, frame("snapshot-meta", meta)),
          put(hardStateKey, frame("hard-state", hardState)),
          put(confStateKey, frame("conf-state", confState)),
          put(clusterMetaKey, frame("cluster-meta", { clusterId })),
        ],
        { sync: true },
      );
      this.view = {
        snapIndex: index,
        snapTerm: term,
        snapSeq: seq,
        lastIndex: index,
        lastTerm: term,
        hardState,
      };
    });
  }

  /**
   * Persists one Ready in one atomic batch: a received snapshot first (it replaces the log), then
   * entries (replacing any stored suffix from entries[0].index on), hard state and conf state.
   */
  save(w: StorageWrite): Promise<void> {
    return this.exclusive(async () => {
      const v = this.loaded();
      const snap = w.snapshot?.meta;
      if (snap !== undefined) {
        assert(
          snap.index > v.snapIndex && snap.term >= v.snapTerm,
          () =>
            `save: snapshot ${snap.index}/${snap.term} is not newer than the stored ${v.snapIndex}/${v.snapTerm}`,
        );
      }
      const snapIndex = snap?.index ?? v.snapIndex;
      // With a snapshot the log restarts right after it.
      let lastIndex = snap?.index ?? v.lastIndex;
      let lastTerm = snap?.term ?? v.lastTerm;
      const first = w.entries[0];
      if (first !== undefined) {
        assert(
          first.index > snapIndex && first.index <= lastIndex + 1,
          () => `save: entries start at ${first.index}, outside (${snapIndex}, ${lastIndex + 1}]`,
        );
        let prevTerm = snap !== undefined ? snap.term : await this.termAt(first.index - 1);
        w.entries.forEach((e, i) => {
          assert(
            e.index === first.index + i,
            () => `save: entries not contiguous: ${e.index} at position ${i} after ${first.index}`,
          );
          assert(
            e.term >= prevTerm,
            () => `save: entry ${e.index} has term ${e.term}, below the preceding term ${prevTerm}`,
          );
          prevTerm = e.term;
        });
        lastIndex = first.index + w.entries.length - 1;
        lastTerm = prevTerm;
      }
      const hardState = w.hardState ?? v.hardState;
      assert(
        hardState.term >= v.hardState.term,
        () => `save: hard-state term ${hardState.term} below the stored ${v.hardState.term}`,
      );
      assert(
        hardState.commit <= lastIndex,
        () => `save: hard-state commit ${hardState.commit} beyond the last index ${lastIndex}`,
      );

      await this.mutate(async () => {
        const batch: Batch = [];
        const snapSeq = w.snapshot !== undefined ? v.snapSeq + 1 : v.snapSeq;
        if (w.snapshot !== undefined) {
          const meta = await this.writeSnapshotFile(w.snapshot, snapSeq);
          batch.push(put(snapshotMetaKey, frame("snapshot-meta", meta)));
        }
        for (const e of w.entries) batch.push(put(entryKey(e.index), frame("entry", e)));
        // The stored tail beyond the new last index conflicts with the new log; entries at or
        // below a new snapshot's index are cleared after the batch (step 3).
        for (let i = lastIndex + 1; i <= v.lastIndex; i++) {
          batch.push({ type: "del", key: entryKey(i) });
        }
        if (w.hardState !== undefined)
          batch.push(put(hardStateKey, frame("hard-state", w.hardState)));
        const confState = w.confState ?? snap?.confState;
        if (confState !== undefined) batch.push(put(confStateKey, frame("conf-state", confState)));
        // A snapshot batch is always synced: step 4 deletes the file the previous meta names.
        await this.db.batch(batch, { sync: w.sync || w.snapshot !== undefined });
        this.view = {
          snapIndex,
          snapTerm: snap?.term ?? v.snapTerm,
          snapSeq,
          lastIndex,
          lastTerm,
          hardState,
        };
        if (w.snapshot !== undefined) {
          this.step("meta-committed");
          await this.finishSnapshot(snapIndex, snapSeq);
        }
      });
    });
  }

  /** Stores a snapshot taken locally at an applied index and drops the entries it covers. */
  compact(snapshot: Snapshot): Promise<void> {
    return this.exclusive(async () => {
      const v = this.loaded();
      const { index, term } = snapshot.meta;
      assert(
        index > v.snapIndex && index <= v.hardState.commit,
        () => `compact: index ${index} outside (${v.snapIndex}, commit ${v.hardState.commit}]`,
      );
      const storedTerm = await this.termAt(index);
      assert(
        storedTerm === term,
        () => `compact: snapshot term ${term} differs from term ${storedTerm} of entry ${index}`,
      );
      await this.mutate(async () => {
        const snapSeq = v.snapSeq + 1;
        const meta = await this.writeSnapshotFile(snapshot, snapSeq);
        await this.db.batch([put(snapshotMetaKey, frame("snapshot-meta", meta))], { sync: true });
        this.view = { ...v, snapIndex: index, snapTerm: term, snapSeq };
        this.step("meta-committed");
        await this.finishSnapshot(index, snapSeq);
      });
    });
  }

  private loaded(): View {
    assert(this.view !== null, "storage: call load() or bootstrap() first");
    return this.view;
  }

  private exclusive<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(() => {
      if (this.failure !== null) {
        throw new Error("storage: an earlier write failed; close and reopen the store", {
          cause: this.failure,
        });
      }
      return op();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Runs the writing part of an operation; a failure there poisons the store. */
  private async mutate(op: () => Promise<void>): Promise<void> {
    try {
      await op();
    } catch (err) {
      this.failure = err;
      throw err;
    }
  }

  private step(step: SnapshotStep): void {
    this.options.afterStep?.(step);
  }

  /** A value that must exist, verified and decoded. */
  private async read<T>(
    kind: EnvelopeKind,
    key: Uint8Array,
    isValid: (payload: unknown) => payload is T,
  ): Promise<T> {
    const value = await this.db.get(key);
    if (value === undefined) throw new StorageCorruptionError(`${describeKey(key)} is missing`);
    return unframe(kind, key, value, isValid);
  }

  /** Term of a stored entry, or of the snapshot at its index. */
  private async termAt(index: number): Promise<number> {
    const v = this.loaded();
    assert(
      index >= v.snapIndex && index <= v.lastIndex,
      () => `storage: no term for index ${index} outside [${v.snapIndex}, ${v.lastIndex}]`,
    );
    if (index === v.snapIndex) return v.snapTerm;
    if (index === v.lastIndex) return v.lastTerm;
    return (await this.read("entry", entryKey(index), isEntry)).term;
  }

  /** Step 1: the data under a name no live meta uses; returns the meta that will reference it. */
  private async writeSnapshotFile(snapshot: Snapshot, seq: number): Promise<StoredSnapshotMeta> {
    const path = join(snapshotDir(this.dir), snapshotFileName(seq));
    const temp = `${path}.tmp`;
    const handle = await openFile(temp, "w");
    try {
      await handle.writeFile(snapshot.data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    this.step("temp-file-written");
    await rename(temp, path);
    await fsyncDir(snapshotDir(this.dir));
    this.step("file-renamed");
    const { index, term, confState } = snapshot.meta;
    return {
      index,
      term,
      confState,
      file: { seq, length: snapshot.data.length, crc: crc32(snapshot.data) },
    };
  }

  private async readSnapshotFile(meta: StoredSnapshotMeta): Promise<Uint8Array> {
    const name = snapshotFileName(meta.file.seq);
    let data: Buffer;
    try {
      data = await readFile(join(snapshotDir(this.dir), name));
    } catch (err) {
      throw new StorageCorruptionError(
        `snapshot ${meta.index} data file ${name}: ${(err as Error).message}`,
      );
    }
    if (data.length !== meta.file.length) {
      throw new StorageCorruptionError(
        `snapshot ${meta.index} data file ${name}: length ${data.length}, expected ${meta.file.length}`,
      );
    }
    const crc = crc32(data);
    if (crc !== meta.file.crc) {
      throw new StorageCorruptionError(
        `snapshot ${meta.index} data file ${name}: checksum mismatch, stored ${meta.file.crc.toString(16)}, computed ${crc.toString(16)}`,
      );
    }
    return asBytes(data);
  }

  /** Steps 3 and 4: drop what the live snapshot made obsolete. Idempotent. */
  private async finishSnapshot(snapIndex: number, snapSeq: number): Promise<void> {
    await this.db.clear({ gte: entryKey(0), lte: entryKey(snapIndex) });
    this.step("entries-cleared");
    const live = snapshotFileName(snapSeq);
    const dir = snapshotDir(this.dir);
    for (const name of await readdir(dir)) {
      if (name !== live && snapshotFilePattern.test(name))
        await rm(join(dir, name), { force: true });
    }
  }
}

function put(key: Uint8Array, value: Uint8Array): Batch[number] {
  return { type: "put", key, value };
}

/** Makes a rename durable. */
async function fsyncDir(path: string): Promise<void> {
  const dir = await openFile(path, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

// Shape checks after decoding: the checksum catches bit rot, these catch a value of another shape.

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function isIndex(x: unknown): x is number {
  return Number.isSafeInteger(x) && (x as number) >= 0;
}

function isClusterMeta(x: unknown): x is { clusterId: string } {
  return isRecord(x) && typeof x.clusterId === "string";
}

function isHardState(x: unknown): x is HardState {
  return isRecord(x) && isIndex(x.term) && typeof x.vote === "string" && isIndex(x.commit);
}

function isConfState(x: unknown): x is ConfState {
  return (
    isRecord(x) && Array.isArray(x.voters) && Array.isArray(x.learners) && isRecord(x.addresses)
  );
}

function isStoredSnapshotMeta(x: unknown): x is StoredSnapshotMeta {
  return (
    isRecord(x) &&
    isIndex(x.index) &&
    isIndex(x.term) &&
    isConfState(x.confState) &&
    isRecord(x.file) &&
    isIndex(x.file.seq) &&
    isIndex(x.file.length) &&
    isIndex(x.file.crc)
  );
}

function isEntry(x: unknown): x is Entry {
  if (!isRecord(x) || !isIndex(x.index) || !isIndex(x.term)) return false;
  return (
    (x.kind === "normal" && x.data instanceof Uint8Array) ||
    (x.kind === "conf" && isRecord(x.change))
  );
}
