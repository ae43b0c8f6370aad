/**
 * The storage seam: the few operations the content store needs from where its bytes live.
 * Two implementations give the same guarantees — `idb-backend.ts` (IndexedDB, the browser)
 * and `fs-backend.ts` (a directory, Node only; reached through `node.ts`). Everything above
 * this seam (ingest, import, verified reads, sweep, events) is shared, so pieces and manifests
 * are verified on read the same way whatever holds them.
 *
 * Invariant every backend keeps: a blob is visible (`getManifest`, `listManifests`) only once
 * its manifest is committed, which happens after all its pieces are durable; every piece key
 * prefix (`storage_key`) belongs to a committed manifest, a pending put, or one shard of a
 * holding; an unfinished put is a pending record that `discardPut` (the sweep) removes with
 * its pieces.
 */
import type { ContentHash } from './address.ts';
import type { StoredManifest } from './manifest.ts';
import type { ItemOrigin } from './origin.ts';

export interface PendingPut {
  id: string;
  /** Store instance (this JS realm) that runs the put; the sweep fallback when Web Locks are missing. */
  owner: string;
  started_at: string;
  name?: string;
  total_size: number;
  /** The filesystem backend: the process that runs the put (a killed one's puts are swept). */
  pid?: number;
}

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

export interface PieceWrite {
  shard: number;
  piece: number;
  bytes: Uint8Array;
}

export interface PieceRef {
  shard: number;
  piece: number;
}

export interface ContentBackend {
  /** What the store reports as `dbName`: the IndexedDB name or the directory. */
  readonly name: string;
  /** Marks a put (or import) as unfinished before its first piece is written. */
  recordPending(put: PendingPut): Promise<void>;
  /**
   * Writes pieces under `storageKey`. Takes its own copy of every piece before it returns, so
   * the caller may reuse or transfer the buffers at once; resolves when they are written.
   * `ifPending`: only while the put's pending record exists (else rejects with a
   * `ContentError` and writes nothing), so a write racing an abort or a sweep leaves nothing.
   */
  writePieces(
    storageKey: string,
    pieces: readonly PieceWrite[],
    opts?: { ifPending?: boolean },
  ): Promise<void>;
  /**
   * Rewrites pieces of the committed blob `hash` (repair), only while it is still stored under
   * `storageKey`: a concurrent remove must not resurrect pieces. Resolves whether it wrote.
   */
  rewritePieces(hash: string, storageKey: string, pieces: readonly PieceWrite[]): Promise<boolean>;
  /** The stored bytes of each piece (unverified: the caller verifies), `undefined` when absent. */
  readPieces(storageKey: string, refs: readonly PieceRef[]): Promise<(Uint8Array | undefined)[]>;
  /** Deletes a put's pieces and its pending record, but only if the put is still pending. */
  discardPut(id: string): Promise<boolean>;
  /**
   * Makes a finished put visible. If the same blob was committed meanwhile (dedupe), the new
   * pieces are dropped and the existing manifest wins. Shards of it held for the network are
   * dropped with the same commit: the whole blob serves every shard.
   * `pieces`: commit only if exactly that many pieces are stored under the put's key and its
   * pending record is still there (checked in the commit itself, from the keys, not the
   * bytes), else reject with `ImportPiecesLostError` and change nothing.
   */
  commitPut(
    manifest: StoredManifest,
    opts?: { pieces?: number },
  ): Promise<{ manifest: StoredManifest; added: boolean; hadShards: boolean }>;
  /**
   * Adds the shards written under import `id` to the holding of `manifest`'s blob, with the
   * deletion of the import's pending record. Shards already held, or a blob stored whole
   * meanwhile, make the new pieces redundant: they are deleted instead. `pieces`: as for
   * {@link commitPut}.
   */
  commitShards(
    manifest: Omit<StoredManifest, 'storage_key'>,
    shards: readonly number[],
    id: string,
    opts?: { pieces?: number },
  ): Promise<{ holding: ShardHolding | undefined; added: number[] }>;
  /** Stops holding `shards` (all when omitted), with their pieces; resolves with those dropped. */
  dropShards(hash: string, shards?: readonly number[]): Promise<number[]>;
  /**
   * Removes a committed blob's manifest and pieces; resolves whether it was removed.
   * `ifKept`: only when it is kept for another peer (its `origin`), checked in the same step.
   */
  removeBlob(hash: string, opts?: { ifKept?: boolean }): Promise<boolean>;
  /** The committed manifest as stored (the caller checks its format). */
  getManifest(hash: string): Promise<StoredManifest | undefined>;
  hasManifest(hash: string): Promise<boolean>;
  /** Every committed manifest, oldest first (`created_at`, then `blob_hash`). */
  listManifests(): Promise<StoredManifest[]>;
  /** Sets `verified_at` of a committed blob (after a whole repair). */
  setVerifiedAt(hash: string, time: string): Promise<void>;
  /**
   * Sets `origin` of a committed blob, only while it is kept for another peer (a claim):
   * resolves with the manifest when it changed it.
   */
  claimKept(hash: string, origin: ItemOrigin): Promise<StoredManifest | undefined>;
  getHolding(hash: string): Promise<ShardHolding | undefined>;
  /** Every holding, by `blob_hash`. */
  listHoldings(): Promise<ShardHolding[]>;
  /** Every pending record, by id. */
  listPending(): Promise<PendingPut[]>;
  /**
   * Whether the owner of a pending record is alive, when the backend can tell better than the
   * store (the filesystem: another process). `undefined`: the store decides (Web Locks, or
   * the instances of this JS realm).
   */
  ownerAlive?(pending: PendingPut): boolean | undefined;
  /**
   * Removes what a crash between the steps of a commit or a remove left (the filesystem's:
   * a pending record beside its committed manifest, pieces nothing names). Runs before the
   * sweep of dead puts.
   */
  collectGarbage?(): Promise<void>;
  close(): void;
}

/**
 * The holding after adding the shards of import `id`: shards held already keep their pieces
 * (the new ones are redundant); the others are `added` under `id`.
 */
export function mergeShards(
  manifest: Omit<StoredManifest, 'storage_key'>,
  current: ShardHolding | undefined,
  shards: readonly number[],
  id: string,
): { holding: ShardHolding; added: number[] } {
  const held = new Map((current?.shards ?? []).map((s) => [s.index, s]));
  const added: number[] = [];
  for (const index of shards) {
    if (held.has(index)) continue;
    held.set(index, { index, storage_key: id });
    added.push(index);
  }
  const holding: ShardHolding = {
    blob_hash: manifest.blob_hash,
    manifest: current?.manifest ?? manifest,
    shards: [...held.values()].sort((a, b) => a.index - b.index),
    updated_at: new Date().toISOString(),
  };
  return { holding, added };
}

/** The shards of a holding that `dropShards(hash, shards)` keeps and drops (all when omitted). */
export function splitShards(
  holding: ShardHolding,
  shards: readonly number[] | undefined,
): { keep: ShardHolding['shards']; drop: ShardHolding['shards'] } {
  const dropped = (index: number) => shards === undefined || shards.includes(index);
  return {
    keep: holding.shards.filter((s) => !dropped(s.index)),
    drop: holding.shards.filter((s) => dropped(s.index)),
  };
}

/** The pending record of a put (or import) that starts now. */
export function newPending(put: {
  id: string;
  owner: string;
  totalSize: number;
  name?: string | undefined;
}): PendingPut {
  return {
    id: put.id,
    owner: put.owner,
    started_at: new Date().toISOString(),
    total_size: put.totalSize,
    ...(put.name !== undefined ? { name: put.name } : {}),
  };
}

/** Marks a promise's rejection as handled: whoever awaits it later still sees the error. */
export function quiet(p: Promise<unknown>): void {
  p.catch(() => {});
}
