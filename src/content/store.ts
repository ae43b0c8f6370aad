/**
 * IndexedDB schema and the few multi-store transactions that make writes atomic.
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
  openDB,
  type StoreNames,
} from 'idb';
import type { ContentHash } from './address.ts';
import type { StoredManifest } from './manifest.ts';

export const DEFAULT_DB_NAME = 'elohim-content';
export const DB_VERSION = 2;

export interface PendingPut {
  id: string;
  /** Store instance (this JS realm) that runs the put; the sweep fallback when Web Locks are missing. */
  owner: string;
  started_at: string;
  name?: string;
  total_size: number;
}

export type PieceKey = [storageKey: string, shard: number, piece: number];

/**
 * Shards of a blob this device keeps without keeping the blob: it can serve and verify them
 * (piece and shard hashes), not the whole (it cannot check `blob_hash` without 4 shards).
 */
export interface ShardHolding {
  blob_hash: ContentHash;
  /** The blob's manifest as the peer that sent the first shard had it (no `storage_key`). */
  manifest: Omit<StoredManifest, 'storage_key'>;
  /** The shards held, ascending, each with the key prefix of its pieces `[storage_key, index, piece]`. */
  shards: { index: number; storage_key: string }[];
  /** RFC 3339 time of the last change. */
  updated_at: string;
}

export interface ContentDB extends DBSchema {
  manifests: { key: string; value: StoredManifest; indexes: { by_created_at: string } };
  pieces: { key: PieceKey; value: ArrayBuffer };
  pending: { key: string; value: PendingPut };
  holdings: { key: string; value: ShardHolding };
}

export type Db = IDBPDatabase<ContentDB>;

export function openDatabase(name: string): Promise<Db> {
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
export function pieceRange(storageKey: string): IDBKeyRange {
  return IDBKeyRange.bound([storageKey], [storageKey, []]);
}

/** All piece keys of one shard of a put/blob. */
export function shardPieceRange(storageKey: string, shard: number): IDBKeyRange {
  return IDBKeyRange.bound([storageKey, shard], [storageKey, shard, []]);
}

/** `ArrayBuffer` exactly covering `bytes` (cloning a view would clone its whole backing buffer). */
export function exactBuffer(bytes: Uint8Array): ArrayBuffer {
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
export function asBytes(v: unknown): Uint8Array | undefined {
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return undefined;
}

/** idb request promises reject too when their transaction aborts; `tx.done` reports it once. */
export function quiet(p: Promise<unknown>): void {
  p.catch(() => {});
}

/** Marks a put (or import) as unfinished before its first piece is written. */
export async function recordPending(
  db: Db,
  put: { id: string; owner: string; totalSize: number; name?: string | undefined },
): Promise<void> {
  await db.put('pending', {
    id: put.id,
    owner: put.owner,
    started_at: new Date().toISOString(),
    total_size: put.totalSize,
    ...(put.name !== undefined ? { name: put.name } : {}),
  });
}

/** Deletes a put's pieces and its pending record, but only if the put is still pending. */
export async function discardPut(db: Db, id: string): Promise<boolean> {
  const tx = db.transaction(['pending', 'pieces'], 'readwrite');
  const pending = await tx.objectStore('pending').get(id);
  if (pending) {
    quiet(tx.objectStore('pieces').delete(pieceRange(id)));
    quiet(tx.objectStore('pending').delete(id));
  }
  await tx.done;
  return !!pending;
}

/**
 * Makes a finished put visible. If the same blob was committed meanwhile (dedupe), the new
 * pieces are dropped and the existing manifest wins. Shards of it held for the network are
 * dropped with the same commit: the whole blob serves every shard.
 */
export async function commitPut(
  db: Db,
  manifest: StoredManifest,
): Promise<{ manifest: StoredManifest; added: boolean; hadShards: boolean }> {
  const tx = db.transaction(['manifests', 'pending', 'pieces', 'holdings'], 'readwrite');
  const existing = await tx.objectStore('manifests').get(manifest.blob_hash);
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

type PiecesStore = IDBPObjectStore<
  ContentDB,
  ArrayLike<StoreNames<ContentDB>>,
  'pieces',
  'readwrite'
>;
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

/**
 * Adds the shards written under import `id` to the holding of `manifest`'s blob, in the
 * transaction that deletes the import's pending record. Shards already held, or a blob stored
 * whole meanwhile, make the new pieces redundant: they are deleted instead.
 */
export async function commitShards(
  db: Db,
  manifest: Omit<StoredManifest, 'storage_key'>,
  shards: readonly number[],
  id: string,
): Promise<{ holding: ShardHolding | undefined; added: number[] }> {
  const tx = db.transaction(['manifests', 'pending', 'pieces', 'holdings'], 'readwrite');
  const pieces = tx.objectStore('pieces');
  const whole = await tx.objectStore('manifests').count(manifest.blob_hash);
  const current = await tx.objectStore('holdings').get(manifest.blob_hash);
  const added: number[] = [];
  let holding: ShardHolding | undefined = current;
  if (whole > 0) {
    quiet(pieces.delete(pieceRange(id)));
  } else {
    const held = new Map((current?.shards ?? []).map((s) => [s.index, s]));
    for (const index of shards) {
      if (held.has(index)) quiet(pieces.delete(shardPieceRange(id, index)));
      else {
        held.set(index, { index, storage_key: id });
        added.push(index);
      }
    }
    holding = {
      blob_hash: manifest.blob_hash,
      manifest: current?.manifest ?? manifest,
      shards: [...held.values()].sort((a, b) => a.index - b.index),
      updated_at: new Date().toISOString(),
    };
    if (added.length > 0) quiet(tx.objectStore('holdings').put(holding));
  }
  quiet(tx.objectStore('pending').delete(id));
  await tx.done;
  return { holding, added };
}

/**
 * Stops holding `shards` of a blob (all of them when omitted): their pieces go in the same
 * transaction. Resolves with the shards that were held and are gone now.
 */
export async function dropShards(
  db: Db,
  hash: string,
  shards?: readonly number[],
): Promise<number[]> {
  const tx = db.transaction(['pieces', 'holdings'], 'readwrite');
  const holdings = tx.objectStore('holdings');
  const pieces = tx.objectStore('pieces');
  const holding = await holdings.get(hash);
  const dropped: number[] = [];
  if (holding) {
    const drop = (index: number) => shards === undefined || shards.includes(index);
    const keep = holding.shards.filter((s) => !drop(s.index));
    for (const s of holding.shards) {
      if (!drop(s.index)) continue;
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

export async function removeBlob(db: Db, hash: string): Promise<boolean> {
  const tx = db.transaction(['manifests', 'pieces'], 'readwrite');
  const m = await tx.objectStore('manifests').get(hash);
  if (m) {
    quiet(tx.objectStore('pieces').delete(pieceRange(m.storage_key)));
    quiet(tx.objectStore('manifests').delete(hash));
  }
  await tx.done;
  return !!m;
}
