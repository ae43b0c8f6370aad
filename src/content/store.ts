/**
 * IndexedDB schema and the few multi-store transactions that make writes atomic.
 *
 * Database `elohim-content` (configurable), version 1:
 *  - `manifests`  keyPath `blob_hash` (`sha256-<hex>`), index `by_created_at`. A blob exists
 *                 (has/list/get) iff its manifest is here.
 *  - `pieces`     out-of-line key `[storage_key, shard, piece]` → `ArrayBuffer` (≤ piece_size bytes).
 *                 `storage_key` is the put id, not the hash: the hash is only known at the end.
 *  - `pending`    keyPath `id` (= storage_key of a put in progress) → {@link PendingPut}.
 *
 * Invariant: every `pieces` key prefix belongs to exactly one committed manifest or one
 * pending record. Puts write `pending` before their first piece; the commit deletes it in
 * the same transaction that adds the manifest; failures delete pieces and pending together.
 * So a crash leaves pending records only, and the sweep on open removes them with their pieces.
 */
import { type DBSchema, type IDBPDatabase, openDB } from 'idb';
import type { StoredManifest } from './manifest.ts';

export const DEFAULT_DB_NAME = 'elohim-content';
export const DB_VERSION = 1;

export interface PendingPut {
  id: string;
  /** Store instance (this JS realm) that runs the put; the sweep fallback when Web Locks are missing. */
  owner: string;
  started_at: string;
  name?: string;
  total_size: number;
}

export type PieceKey = [storageKey: string, shard: number, piece: number];

export interface ContentDB extends DBSchema {
  manifests: { key: string; value: StoredManifest; indexes: { by_created_at: string } };
  pieces: { key: PieceKey; value: ArrayBuffer };
  pending: { key: string; value: PendingPut };
}

export type Db = IDBPDatabase<ContentDB>;

export function openDatabase(name: string): Promise<Db> {
  return openDB<ContentDB>(name, DB_VERSION, {
    upgrade(db) {
      const manifests = db.createObjectStore('manifests', { keyPath: 'blob_hash' });
      manifests.createIndex('by_created_at', 'created_at');
      db.createObjectStore('pieces');
      db.createObjectStore('pending', { keyPath: 'id' });
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
 * pieces are dropped and the existing manifest wins.
 */
export async function commitPut(
  db: Db,
  manifest: StoredManifest,
): Promise<{ manifest: StoredManifest; added: boolean }> {
  const tx = db.transaction(['manifests', 'pending', 'pieces'], 'readwrite');
  const existing = await tx.objectStore('manifests').get(manifest.blob_hash);
  if (existing) {
    quiet(tx.objectStore('pieces').delete(pieceRange(manifest.storage_key)));
  } else {
    quiet(tx.objectStore('manifests').add(manifest));
  }
  quiet(tx.objectStore('pending').delete(manifest.storage_key));
  await tx.done;
  return existing ? { manifest: existing, added: false } : { manifest, added: true };
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
