/** What the import tests share: small thresholds, stores that are closed after each test, a source/destination pair. */
import 'fake-indexeddb/auto';
import { createHash } from 'node:crypto';
import { openDB } from 'idb';
import { afterEach, expect } from 'vitest';
import { pseudoRandomBytes } from '../test-support/bytes.ts';
import {
  type ContentStore,
  type ContentStoreOptions,
  DB_VERSION,
  type ImportSession,
  openContentStore,
  type RemoteManifest,
  type StoredManifest,
} from './index.ts';

export const KiB = 1024;
export const PIECE = 16 * KiB;
export const SMALL = { chunkedAbove: 64 * KiB, rsAbove: 256 * KiB };

export const sha = (b: Uint8Array) => `sha256-${createHash('sha256').update(b).digest('hex')}`;

export const bytes = pseudoRandomBytes;

/** Deterministic Fisher–Yates. */
export function shuffle<T>(items: readonly T[], seed = 7): T[] {
  const out = [...items];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

let dbCounter = 0;
export const stores: ContentStore[] = [];
export async function open(extra: ContentStoreOptions = {}): Promise<ContentStore> {
  const store = await openContentStore({
    dbName: `import-test-${++dbCounter}-${Date.now()}`,
    thresholds: SMALL,
    chunkSize: PIECE,
    pieceSize: PIECE,
    locks: null,
    ...extra,
  });
  stores.push(store);
  return store;
}
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

export async function counts(name: string) {
  // biome-ignore lint/suspicious/noExplicitAny: schema-free access to the same database
  const db = await openDB<any>(name, DB_VERSION);
  const r = {
    manifests: await db.count('manifests'),
    pieces: await db.count('pieces'),
    pending: await db.count('pending'),
  };
  db.close();
  return r;
}
export const EMPTY = { manifests: 0, pieces: 0, pending: 0 };

export function same(actual: Uint8Array, expected: Uint8Array): void {
  expect(actual.length).toBe(expected.length);
  expect(Buffer.compare(actual, expected)).toBe(0);
}
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export function remote(m: StoredManifest): RemoteManifest {
  const { storage_key: _k, ...rest } = m;
  return structuredClone(rest);
}

export interface Piece {
  shard: number;
  piece: number;
  bytes: Uint8Array;
}

/** What a peer would send: every needed piece, read (verified) from the source store. */
export async function piecesFrom(src: ContentStore, m: StoredManifest, session: ImportSession) {
  const out: Piece[] = [];
  for (const { shard, piece } of session.needed) {
    out.push({ shard, piece, bytes: await src.readPiece(m.blob_hash, shard, piece) });
  }
  return out;
}

/** A source store with `data` in it, and an empty destination store. */
export async function pair(data: Uint8Array, srcOpts: ContentStoreOptions = {}) {
  const src = await open(srcOpts);
  const dst = await open();
  const m = await src.put(data, { name: 'x.bin', mime: 'application/x-test', authorId: 'agent' });
  return { src, dst, m };
}

export async function writeAll(session: ImportSession, pieces: readonly Piece[]) {
  for (const p of pieces) await session.writePiece(p.shard, p.piece, p.bytes);
}
