/**
 * What every content test shares, whatever backend holds the bytes: small sizes, hashing,
 * byte comparison, a manifest as a peer sends it, pieces read from a store. No storage here
 * (the IndexedDB store factory is in import-test-support.ts), so the filesystem suite can use it.
 */
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import { pseudoRandomBytes } from '../test-support/bytes.ts';
import type { ContentStore, RemoteManifest, StoredManifest } from './index.ts';

export const KiB = 1024;
export const PIECE = 16 * KiB;
/** Thresholds small enough that every encoding shows up with blobs of a few hundred KiB. */
export const SMALL = { chunkedAbove: 64 * KiB, rsAbove: 256 * KiB };

export const sha = (b: Uint8Array) => `sha256-${createHash('sha256').update(b).digest('hex')}`;

export const bytes = pseudoRandomBytes;

/** Byte equality without vitest's slow element-wise diff of large typed arrays. */
export function same(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  expect(Buffer.compare(actual, expected)).toBe(0);
}

export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** The manifest as another peer would send it: without this store's key and origin, and a copy. */
export function remote(m: StoredManifest): RemoteManifest {
  const { storage_key: _k, origin: _o, ...rest } = m;
  return structuredClone(rest);
}

export interface Piece {
  shard: number;
  piece: number;
  bytes: Uint8Array;
}

/** Every piece of `shards`, read (verified) from `store`. */
export async function piecesOf(
  store: ContentStore,
  m: StoredManifest,
  shards: readonly number[],
): Promise<Piece[]> {
  const out: Piece[] = [];
  for (const shard of shards) {
    for (let piece = 0; piece < (m.piece_hashes[shard] as string[]).length; piece++) {
      out.push({ shard, piece, bytes: await store.readPiece(m.blob_hash, shard, piece) });
    }
  }
  return out;
}
