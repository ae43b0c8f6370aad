/**
 * The IndexedDB backend: the schema and the few multi-store transactions that make writes atomic.
 *
 * Database `elohim-content` (configurable), version 2:
 *  - `manifests`  keyPath `blob_hash` (`sha256-<hex>`), index `by_created_at`. A blob exists
 *                 (has/list/get) iff its manifest is here.
 *  - `pieces`     out-of-line key `[storage_key, shard, piece]` → `ArrayBuffer` (≤ piece_size bytes).
 *                 `storage_key` is the put id, not the hash: the hash is only known at the end.
 *  - `pending`    keyPath `id` (= storage_key of a put in progress) → {@link PendingPut}.
 *  - `holdings`   keyPath `blob_hash` → {@link ShardHolding}: some shards of a blob kept for
 *                 the network (rs-4-7 spreads its 7 shards over 7 peers), not the blob itself.
 *                 (added in version 2)
 *
 * Invariant: every `pieces` key prefix belongs to exactly one committed manifest, one pending
 * record, or one shard entry of a holding (`[storage_key, shard]`). Puts write `pending`
 * before their first piece; the commit deletes it in the same transaction that adds the
 * manifest (or the holding's shards); failures delete pieces and pending together. So a crash
 * leaves pending records only, and the sweep on open removes them with their pieces.
 */
import {
  type DBSchema,
  type IDBPDatabase,
  type IDBPObjectStore,
  type IDBPTransaction,
  openDB,
  type StoreNames,
} from 'idb';
import {
  type ContentBackend,
  mergeShards,
  type PendingPut,
  type PieceRef,
  type PieceWrite,
  quiet,
  type ShardHolding,
  splitShards,
} from './backend.ts';
import { ContentError, ImportPiecesLostError } from './errors.ts';
import type { StoredManifest } from './manifest.ts';
import { type ItemOrigin, isKept } from './origin.ts';

export const DEFAULT_DB_NAME = 'elohim-content';
export const DB_VERSION = 2;

export type PieceKey = [storageKey: string, shard: number, piece: number];

export interface ContentDB extends DBSchema {
  manifests: { key: string; value: StoredManifest; indexes: { by_created_at: string } };
  pieces: { key: PieceKey; value: ArrayBuffer };
  pending: { key: string; value: PendingPut };
  holdings: { key: string; value: ShardHolding };
}

type Db = IDBPDatabase<ContentDB>;

function openDatabase(name: string): Promise<Db> {
  return openDB<ContentDB>(name, DB_VERSION, {
    upgrade(db, oldVersion) {
      if (oldVersion < 1) {
        const manifests = db.createObjectStore('manifests', { keyPath: 'blob_hash' });
        manifests.createIndex('by_created_at', 'created_at');
        db.createObjectStore('pieces');
        db.createObjectStore('pending', { keyPath: 'id' });
      }
      if (oldVersion < 2) db.createObjectStore('holdings', { keyPath: 'blob_hash' });
    },
    blocking(_current, _next, event) {
      // Another tab wants a newer schema: step aside instead of blocking it forever.
      (event.target as IDBDatabase).close();
    },
  });
}

/** All piece keys of one put/blob: `[key]` sorts before `[key, n, m]`, and arrays sort after numbers. */
function pieceRange(storageKey: string): IDBKeyRange {
  return IDBKeyRange.bound([storageKey], [storageKey, []]);
}

/** All piece keys of one shard of a put/blob. */
function shardPieceRange(storageKey: string, shard: number): IDBKeyRange {
  return IDBKeyRange.bound([storageKey, shard], [storageKey, shard, []]);
}

/** `ArrayBuffer` exactly covering `bytes` (cloning a view would clone its whole backing buffer). */
function exactBuffer(bytes: Uint8Array): ArrayBuffer {
  if (
    bytes.buffer instanceof ArrayBuffer &&
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength
  ) {
    return bytes.buffer;
  }
  return bytes.slice().buffer as ArrayBuffer;
}

/** Stored values are ArrayBuffers; tolerate views (e.g. written by a test or a future version). */
function asBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return undefined;
}

type PiecesStore = IDBPObjectStore<
  ContentDB,
  ArrayLike<StoreNames<ContentDB>>,
  'pieces',
  'readwrite'
>;
// idb request promises reject too when their transaction aborts: `quiet` them, `tx.done` reports it once.
type HoldingsStore = IDBPObjectStore<
  ContentDB,
  ArrayLike<StoreNames<ContentDB>>,
  'holdings',
  'readwrite'
>;

function deleteHolding(pieces: PiecesStore, holdings: HoldingsStore, holding: ShardHolding): void {
  for (const s of holding.shards) quiet(pieces.delete(shardPieceRange(s.storage_key, s.index)));
  quiet(holdings.delete(holding.blob_hash));
}

export async function openIdbBackend(name: string): Promise<ContentBackend> {
  return new IdbBackend(await openDatabase(name), name);
}

class IdbBackend implements ContentBackend {
  constructor(
    private readonly db: Db,
    readonly name: string,
  ) {}

  async recordPending(put: PendingPut): Promise<void> {
    await this.db.put('pending', put);
  }

  /**
   * One transaction per call. IndexedDB clones each value inside `put`, synchronously, so the
   * caller's buffers are free once this returns. With `ifPending` the pending record is read
   * in the same transaction and the transaction aborted (the puts undone) when it is gone.
   */
  writePieces(
    storageKey: string,
    pieces: readonly PieceWrite[],
    opts: { ifPending?: boolean } = {},
  ): Promise<void> {
    const tx = this.db.transaction(['pending', 'pieces'], 'readwrite');
    const pending = opts.ifPending ? tx.objectStore('pending').get(storageKey) : undefined;
    if (pending) quiet(pending);
    try {
      const store = tx.objectStore('pieces');
      for (const p of pieces)
        quiet(store.put(exactBuffer(p.bytes), [storageKey, p.shard, p.piece]));
    } catch (e) {
      try {
        tx.abort();
      } catch {}
      quiet(tx.done);
      return Promise.reject(e);
    }
    return (async () => {
      let gone = false;
      try {
        if (pending && !(await pending)) {
          gone = true;
          tx.abort();
        }
        await tx.done;
      } catch (e) {
        if (!gone) throw e;
      }
      if (gone) throw new ContentError('This import was discarded (aborted or swept).');
    })();
  }

  async rewritePieces(
    hash: string,
    storageKey: string,
    pieces: readonly PieceWrite[],
  ): Promise<boolean> {
    const tx = this.db.transaction(['manifests', 'pieces'], 'readwrite');
    const still = await tx.objectStore('manifests').get(hash);
    const write = still?.storage_key === storageKey;
    if (write) {
      for (const p of pieces) {
        quiet(tx.objectStore('pieces').put(exactBuffer(p.bytes), [storageKey, p.shard, p.piece]));
      }
    }
    await tx.done;
    return write;
  }

  async readPieces(
    storageKey: string,
    refs: readonly PieceRef[],
  ): Promise<(Uint8Array | undefined)[]> {
    const tx = this.db.transaction('pieces', 'readonly');
    const store = tx.objectStore('pieces');
    const raw = await Promise.all(refs.map((r) => store.get([storageKey, r.shard, r.piece])));
    quiet(tx.done);
    return raw.map(asBytes);
  }

  async discardPut(id: string): Promise<boolean> {
    const tx = this.db.transaction(['pending', 'pieces'], 'readwrite');
    const pending = await tx.objectStore('pending').get(id);
    if (pending) {
      quiet(tx.objectStore('pieces').delete(pieceRange(id)));
      quiet(tx.objectStore('pending').delete(id));
    }
    await tx.done;
    return !!pending;
  }

  async commitPut(
    manifest: StoredManifest,
    opts: { pieces?: number } = {},
  ): Promise<{ manifest: StoredManifest; added: boolean; hadShards: boolean }> {
    const tx = this.db.transaction(['manifests', 'pending', 'pieces', 'holdings'], 'readwrite');
    const existing = await tx.objectStore('manifests').get(manifest.blob_hash);
    if (!existing) await expectPieces(tx, manifest.blob_hash, manifest.storage_key, opts.pieces);
    if (existing) {
      quiet(tx.objectStore('pieces').delete(pieceRange(manifest.storage_key)));
    } else {
      quiet(tx.objectStore('manifests').add(manifest));
    }
    quiet(tx.objectStore('pending').delete(manifest.storage_key));
    const holding = await tx.objectStore('holdings').get(manifest.blob_hash);
    if (holding) deleteHolding(tx.objectStore('pieces'), tx.objectStore('holdings'), holding);
    await tx.done;
    const hadShards = !!holding;
    return existing
      ? { manifest: existing, added: false, hadShards }
      : { manifest, added: true, hadShards };
  }

  async commitShards(
    manifest: Omit<StoredManifest, 'storage_key'>,
    shards: readonly number[],
    id: string,
    opts: { pieces?: number } = {},
  ): Promise<{ holding: ShardHolding | undefined; added: number[] }> {
    const tx = this.db.transaction(['manifests', 'pending', 'pieces', 'holdings'], 'readwrite');
    const pieces = tx.objectStore('pieces');
    const whole = await tx.objectStore('manifests').count(manifest.blob_hash);
    if (whole === 0) await expectPieces(tx, manifest.blob_hash, id, opts.pieces);
    const current = await tx.objectStore('holdings').get(manifest.blob_hash);
    let result: { holding: ShardHolding | undefined; added: number[] } = {
      holding: current,
      added: [],
    };
    if (whole > 0) {
      quiet(pieces.delete(pieceRange(id)));
    } else {
      const merged = mergeShards(manifest, current, shards, id);
      for (const index of shards) {
        if (!merged.added.includes(index)) quiet(pieces.delete(shardPieceRange(id, index)));
      }
      if (merged.added.length > 0) quiet(tx.objectStore('holdings').put(merged.holding));
      result = merged;
    }
    quiet(tx.objectStore('pending').delete(id));
    await tx.done;
    return result;
  }

  async dropShards(hash: string, shards?: readonly number[]): Promise<number[]> {
    const tx = this.db.transaction(['pieces', 'holdings'], 'readwrite');
    const holdings = tx.objectStore('holdings');
    const pieces = tx.objectStore('pieces');
    const holding = await holdings.get(hash);
    const dropped: number[] = [];
    if (holding) {
      const { keep, drop } = splitShards(holding, shards);
      for (const s of drop) {
        quiet(pieces.delete(shardPieceRange(s.storage_key, s.index)));
        dropped.push(s.index);
      }
      if (keep.length === 0) quiet(holdings.delete(hash));
      else if (dropped.length > 0) {
        quiet(holdings.put({ ...holding, shards: keep, updated_at: new Date().toISOString() }));
      }
    }
    await tx.done;
    return dropped;
  }

  async removeBlob(hash: string, opts: { ifKept?: boolean } = {}): Promise<boolean> {
    const tx = this.db.transaction(['manifests', 'pieces'], 'readwrite');
    let m = await tx.objectStore('manifests').get(hash);
    if (m && opts.ifKept && !isKept(m)) m = undefined;
    if (m) {
      quiet(tx.objectStore('pieces').delete(pieceRange(m.storage_key)));
      quiet(tx.objectStore('manifests').delete(hash));
    }
    await tx.done;
    return !!m;
  }

  getManifest(hash: string): Promise<StoredManifest | undefined> {
    return this.db.get('manifests', hash);
  }

  async hasManifest(hash: string): Promise<boolean> {
    return (await this.db.count('manifests', hash)) > 0;
  }

  listManifests(): Promise<StoredManifest[]> {
    return this.db.getAllFromIndex('manifests', 'by_created_at');
  }

  async setVerifiedAt(hash: string, time: string): Promise<void> {
    const tx = this.db.transaction('manifests', 'readwrite');
    const cur = await tx.store.get(hash);
    if (cur) await tx.store.put({ ...cur, verified_at: time });
    await tx.done;
  }

  async claimKept(hash: string, origin: ItemOrigin): Promise<StoredManifest | undefined> {
    const tx = this.db.transaction('manifests', 'readwrite');
    const cur = await tx.store.get(hash);
    const next = cur && isKept(cur) ? { ...cur, origin } : undefined;
    if (next) await tx.store.put(next);
    await tx.done;
    return next;
  }

  getHolding(hash: string): Promise<ShardHolding | undefined> {
    return this.db.get('holdings', hash);
  }

  listHoldings(): Promise<ShardHolding[]> {
    return this.db.getAll('holdings');
  }

  listPending(): Promise<PendingPut[]> {
    return this.db.getAll('pending');
  }

  close(): void {
    this.db.close();
  }
}

/**
 * In a commit's transaction: unless `expected` pieces are stored under `id` and its pending
 * record is there, aborts the transaction and throws `ImportPiecesLostError`. Counts keys
 * only: no piece is read.
 */
async function expectPieces(
  tx: IDBPTransaction<ContentDB, ('manifests' | 'pending' | 'pieces' | 'holdings')[], 'readwrite'>,
  hash: string,
  id: string,
  expected: number | undefined,
): Promise<void> {
  if (expected === undefined) return;
  const [stored, pending] = await Promise.all([
    tx.objectStore('pieces').count(pieceRange(id)),
    tx.objectStore('pending').count(id),
  ]);
  if (stored === expected && pending === 1) return;
  tx.abort();
  quiet(tx.done);
  throw new ImportPiecesLostError(hash, pending === 1 ? stored : 0, expected);
}
