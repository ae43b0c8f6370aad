/**
 * Content-addressed store in IndexedDB. See src/content/README.md for the design and the
 * on-disk schema. The filesystem store (Node only) is `openFsContentStore` in `node.ts`, kept
 * out of this entry so browser bundles never see a `node:` import.
 *
 *   const store = await openContentStore();
 *   const m = await store.put(file, { onProgress: (p) => … });
 *   const stream = store.get(m.blob_hash); // verified bytes
 */
export {
  base32Decode,
  base32Encode,
  type ContentHash,
  cidOf,
  isContentHash,
  parseContentHash,
} from './address.ts';
export type { PieceRef, ShardHolding } from './backend.ts';
export {
  type ChangeKind,
  type ContentChange,
  type ContentStats,
  type ContentStore,
  type ContentStoreEventMap,
  type ContentStoreOptions,
  openContentStore,
} from './content-store.ts';
export {
  ContentError,
  CorruptPieceError,
  ImportClosedError,
  ImportIncompleteError,
  ImportPiecesLostError,
  InvalidHashError,
  InvalidManifestError,
  ManifestMismatchError,
  NotFoundError,
  PieceMismatchError,
  StorageQuotaError,
} from './errors.ts';
export {
  createIncrementalHasher,
  type HashService,
  type IncrementalHasher,
  sha256Bytes,
  type UpdateBlobOptions,
} from './hasher.ts';
export { type ByteRange, contentDisposition, dispositionName, parseRange } from './http.ts';
export { DB_VERSION, DEFAULT_DB_NAME } from './idb-backend.ts';
export type {
  ImportCommitOptions,
  ImportProgress,
  ImportSession,
  ShardImportSession,
} from './import.ts';
export {
  hasPieceHashes,
  MAX_IMPORT_PIECE_SIZE,
  type RemoteManifest,
  remoteManifest,
  UNKNOWN_PIECE,
  validateRemoteManifest,
} from './import-manifest.ts';
export type { LockManagerLike, PutOptions, PutPhase, PutProgress, PutSource } from './ingest.ts';
export { type KeptForOthers, keptBytes, keptForOthers, releaseAll } from './kept.ts';
export {
  DEFAULT_REACH,
  DEFAULT_THRESHOLDS,
  type Encoding,
  pieceLength,
  piecesInShard,
  REACHES,
  type Reach,
  type ShardManifest,
  type StoredManifest,
  shardLength,
  storedBytes,
  type Thresholds,
  toShardManifest,
} from './manifest.ts';
export { type ItemOrigin, isKept } from './origin.ts';
export type { GetOptions, GetProgress, PartialReadOptions, RepairReport } from './read.ts';
export {
  manifestFields,
  RUST_MANIFEST_FIELDS,
  type RustManifestShape,
  toRustManifest,
} from './rust-manifest.ts';
export { rebuildStripe, type StripePiece } from './stripe.ts';

/** Asks the browser not to evict this origin's storage under pressure (true if granted). */
export async function requestPersistentStorage(): Promise<boolean> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  return (await storage?.persist?.()) ?? false;
}
