/**
 * The manifest: the Rust `ShardManifest` (field for field, snake_case, so it can be handed to
 * the trust layer or a Rust peer unchanged) plus our extensions for piece-level verification.
 *
 * Vocabulary: a blob is split into *shards* (the unit the Rust store and the DNA know);
 * each shard is split into *pieces* of `piece_size` bytes (the unit we store as one IndexedDB
 * value and verify on every read). For `rs-4-7`, piece j of all 7 shards is *stripe* j: the
 * same byte range of every shard, so any 4 verified pieces of a stripe rebuild the other 3.
 */

import type { Reach } from '../wire/index.ts';
import type { ContentHash } from './address.ts';
import type { ItemOrigin } from './origin.ts';

/**
 * Who may receive the content: the trust layer's reaches (src/wire). This store only records
 * it: src/reach seals the encrypted reaches before `put` and gates delivery and replication by
 * it. Default for `put` is `'commons'`: bytes stored in clear are a commons item unless told
 * otherwise.
 */
export { REACHES, type Reach } from '../wire/index.ts';

export const DEFAULT_REACH: Reach = 'commons';

export type Encoding = 'none' | 'chunked' | 'rs-4-7';

/** Exactly the Rust `ShardManifest` (elohim-storage `sharding.rs`). */
export interface ShardManifest {
  blob_cid: string;
  /** `sha256-<hex>` of the whole blob. */
  blob_hash: ContentHash;
  total_size: number;
  mime_type: string;
  encoding: Encoding;
  data_shards: number;
  total_shards: number;
  /** `none`: total_size; `chunked`: the chunk size (last chunk may be shorter); `rs-4-7`: ceil(total_size/4). */
  shard_size: number;
  /** `sha256-<hex>` of each shard's bytes (rs: the zero-padded shard). */
  shard_hashes: string[];
  reach: Reach;
  author_id?: string | null;
  /** RFC 3339 (UTC, `toISOString`), which also sorts lexicographically by time. */
  created_at: string;
  verified_at?: string | null;
}

/** What this store keeps: the Rust manifest plus our extensions (documented in src/content/README.md). */
export interface StoredManifest extends ShardManifest {
  /** Manifest layout version of our extensions. */
  format: 1;
  /** Display name given at `put` (file name), if any. */
  name?: string;
  /** Every shard is stored and verified in pieces of this many bytes (last piece of a shard may be shorter). */
  piece_size: number;
  /** `piece_hashes[shard][piece]` = `sha256-<hex>` of that piece's bytes. */
  piece_hashes: string[][];
  /** Key prefix of this blob's records in the `pieces` object store: `[storage_key, shard, piece]`. */
  storage_key: string;
  /** Why this device stores it (local, like `storage_key`; absent on older records: the person's own). */
  origin?: ItemOrigin;
  /**
   * rs-4-7 copies imported from peers: `derived` when the parity pieces are not stored (but
   * any that arrived from a peer) and are computed from their stripe's data, and verified,
   * when read. Local, like `storage_key`; absent: every piece is stored (items added here).
   */
  parity?: 'derived';
}

/** Whether `m`'s parity pieces are computed when read rather than stored. */
export function parityDerived(m: Pick<StoredManifest, 'encoding' | 'parity'>): boolean {
  return m.encoding === 'rs-4-7' && m.parity === 'derived';
}

/** The Rust-compatible view (our extensions stripped, optional fields as `null` like serde writes them). */
export function toShardManifest(m: StoredManifest): ShardManifest {
  return {
    blob_cid: m.blob_cid,
    blob_hash: m.blob_hash,
    total_size: m.total_size,
    mime_type: m.mime_type,
    encoding: m.encoding,
    data_shards: m.data_shards,
    total_shards: m.total_shards,
    shard_size: m.shard_size,
    shard_hashes: [...m.shard_hashes],
    reach: m.reach,
    author_id: m.author_id ?? null,
    created_at: m.created_at,
    verified_at: m.verified_at ?? null,
  };
}

export interface Thresholds {
  /** Blobs up to this size are stored as `none` (one shard). Default 16 MiB. */
  chunkedAbove: number;
  /** Blobs up to this size (and above `chunkedAbove`) are `chunked`; larger are `rs-4-7`. Default 100 MiB. */
  rsAbove: number;
}

export const MiB = 1024 * 1024;
export const DEFAULT_THRESHOLDS: Thresholds = { chunkedAbove: 16 * MiB, rsAbove: 100 * MiB };

export function chooseEncoding(size: number, t: Thresholds): Encoding {
  if (size <= t.chunkedAbove) return 'none';
  if (size <= t.rsAbove) return 'chunked';
  return 'rs-4-7';
}

/** Byte length of one stored shard (rs shards are padded, so all equal). */
export function shardLength(
  m: Pick<StoredManifest, 'encoding' | 'total_size' | 'shard_size'>,
  shard: number,
): number {
  if (m.encoding === 'chunked') {
    return Math.max(0, Math.min(m.shard_size, m.total_size - shard * m.shard_size));
  }
  return m.shard_size;
}

export function piecesInShard(length: number, pieceSize: number): number {
  return Math.ceil(length / pieceSize);
}

export function pieceLength(shardLen: number, pieceSize: number, piece: number): number {
  return Math.max(0, Math.min(pieceSize, shardLen - piece * pieceSize));
}

/** Bytes this blob occupies in IndexedDB (excluding the manifest; derived parity: its data). */
export function storedBytes(m: StoredManifest): number {
  if (m.encoding !== 'rs-4-7') return m.total_size;
  return m.shard_size * (parityDerived(m) ? m.data_shards : m.total_shards);
}

/**
 * Cheap structural check of a manifest read back from IndexedDB, so that a record written by
 * a future or broken version fails loudly instead of producing wrong reads.
 */
export function isStoredManifest(v: unknown): v is StoredManifest {
  const m = v as Partial<StoredManifest> | null;
  return (
    !!m &&
    m.format === 1 &&
    typeof m.blob_hash === 'string' &&
    typeof m.total_size === 'number' &&
    typeof m.piece_size === 'number' &&
    m.piece_size > 0 &&
    typeof m.storage_key === 'string' &&
    Array.isArray(m.shard_hashes) &&
    Array.isArray(m.piece_hashes) &&
    m.piece_hashes.length === m.total_shards &&
    (m.encoding === 'none' || m.encoding === 'chunked' || m.encoding === 'rs-4-7')
  );
}
