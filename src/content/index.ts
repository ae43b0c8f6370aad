/**
 * Content-addressed store in IndexedDB. See src/content/README.md for the design and the
 * on-disk schema.
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
export {
  type ChangeKind,
  ContentChangeEvent,
  type ContentStats,
  type ContentStore,
  type ContentStoreEventMap,
  type ContentStoreOptions,
  openContentStore,
} from './content-store.ts';
export {
  ContentError,
  CorruptPieceError,
  InvalidHashError,
  InvalidManifestError,
  NotFoundError,
  StorageQuotaError,
} from './errors.ts';
export {
  createIncrementalHasher,
  type HashService,
  type IncrementalHasher,
  sha256Bytes,
  type UpdateBlobOptions,
} from './hasher.ts';
export {
  ImportClosedError,
  type ImportCommitOptions,
  ImportIncompleteError,
  type ImportProgress,
  type ImportSession,
  MAX_IMPORT_PIECE_SIZE,
  ManifestMismatchError,
  PieceMismatchError,
  type PieceRef,
  type RemoteManifest,
  type ShardImportSession,
  validateRemoteManifest,
} from './import.ts';
export type { LockManagerLike, PutOptions, PutPhase, PutProgress, PutSource } from './ingest.ts';
export {
  DEFAULT_REACH,
  DEFAULT_THRESHOLDS,
  type Encoding,
  REACHES,
  type Reach,
  type ShardManifest,
  type StoredManifest,
  type Thresholds,
  toShardManifest,
} from './manifest.ts';
export type { GetOptions, GetProgress, PartialReadOptions, RepairReport } from './read.ts';
export { DB_VERSION, DEFAULT_DB_NAME, type ShardHolding } from './store.ts';

/** Asks the browser not to evict this origin's storage under pressure (true if granted). */
export async function requestPersistentStorage(): Promise<boolean> {
  const storage = (globalThis as { navigator?: { storage?: StorageManager } }).navigator?.storage;
  return (await storage?.persist?.()) ?? false;
}
